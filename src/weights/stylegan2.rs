//! rosinality StyleGAN2 checkpoints → [`Generator`].
//!
//! Accepted files: the official `stylegan2-ffhq-config-f.pt` (`{"g_ema": state_dict,
//! "latent_avg": [512], maybe "g", "d"}`), plain generator state dicts (the LSUN generators
//! DeltaEdit links), and any file holding a generator under a key prefix (`state_dict.decoder.` in
//! e4e's checkpoint) through [`load_generator`]. Both the zip and the legacy pickle format load.
//! The config is inferred from the tensor shapes unless one is given.
use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Param;
use burn::prelude::*;

use super::checkpoint::Checkpoint;
use super::writer::{Precision, TensorWriter};
use crate::models::layers::{EqualLinear, EqualLinearConfig, FusedLeakyReLU};
use crate::models::stylegan2::generator::ConstantInput;
use crate::models::stylegan2::mapping::MappingNetwork;
use crate::models::stylegan2::modulated_conv::ModulatedConv2d;
use crate::models::stylegan2::noise::NoiseInjection;
use crate::models::stylegan2::style_space::StyleLayer;
use crate::models::stylegan2::styled_conv::StyledConv;
use crate::models::stylegan2::to_rgb::ToRGB;
use crate::models::stylegan2::upfirdn::{Blur, Upsample};
use crate::models::stylegan2::{Generator, StyleGan2Config, StyleSpace};
use crate::{Error, Result};

/// The key of the EMA generator in rosinality's training checkpoints and the official file.
pub const G_EMA: &str = "g_ema";
/// The key of the average w in the official file (`[style_dim]`).
pub const LATENT_AVG: &str = "latent_avg";

/// A generator loaded from a file, with its average w when the file stores one.
pub struct LoadedGenerator {
    pub generator: Generator,
    pub latent_avg: Option<Tensor<1>>,
}

/// Loads a rosinality generator file. `checkpoint_key` names the dictionary holding the state
/// dict; `None` takes `g_ema` when the file has one, else the file's top level.
pub fn load(
    path: &Path,
    checkpoint_key: Option<&str>,
    config: Option<&StyleGan2Config>,
    device: &Device,
) -> Result<LoadedGenerator> {
    let checkpoint = Checkpoint::open(path)?;
    let prefix = match checkpoint_key {
        Some(key) => format!("{key}."),
        None if checkpoint.has_prefix(&format!("{G_EMA}.")) => format!("{G_EMA}."),
        None => String::new(),
    };
    if !prefix.is_empty() && !checkpoint.has_prefix(&prefix) {
        return Err(Error::checkpoint(path, format!("no state dict under `{}`", prefix.trim_end_matches('.'))));
    }
    let generator = load_generator(&checkpoint, &prefix, config, device)?;
    let latent_avg = if checkpoint.contains(LATENT_AVG) {
        Some(checkpoint.tensor(LATENT_AVG, [generator.config.style_dim], device)?)
    } else {
        None
    };
    Ok(LoadedGenerator { generator, latent_avg })
}

/// Reads the generator whose keys start with `prefix` (`""`, `"g_ema."`, `"state_dict.decoder."`).
/// With a `config`, every tensor must fit it; without, the config is inferred from the shapes.
/// Like PyTorch's strict `load_state_dict`, a tensor under `prefix` that the generator does not
/// have is an error (it means the config does not fit the file).
pub fn load_generator(
    checkpoint: &Checkpoint,
    prefix: &str,
    config: Option<&StyleGan2Config>,
    device: &Device,
) -> Result<Generator> {
    let config = match config {
        Some(config) => config.clone(),
        None => infer_config(checkpoint, prefix)?,
    };
    let space = StyleSpace::new(&config)?;
    let reader = Reader { checkpoint, prefix, device };
    let sd = config.style_dim;
    let style = MappingNetwork {
        layers: (1..=config.n_mlp)
            .map(|i| reader.equal_linear(&format!("style.{i}"), sd, sd, config.lr_mlp, true))
            .collect::<Result<_>>()?,
    };
    let c4 = space.conv[0].channels;
    let input = ConstantInput { input: Param::from_tensor(reader.tensor("input.input", [1, c4, 4, 4])?) };
    let mut convs = space.conv.iter().map(|l| reader.styled_conv(l, sd)).collect::<Result<Vec<_>>>()?;
    let conv1 = convs.remove(0);
    let mut to_rgbs = space.rgb.iter().map(|l| reader.to_rgb(l, sd)).collect::<Result<Vec<_>>>()?;
    let to_rgb1 = to_rgbs.remove(0);
    let noises = space
        .conv
        .iter()
        .map(|l| {
            let noise = reader.tensor(&format!("noises.noise_{}", l.index), [1, 1, l.resolution, l.resolution])?;
            Ok(Param::from_tensor(noise).set_require_grad(false))
        })
        .collect::<Result<_>>()?;
    // The file's average w beside a top-level state dict is no generator tensor.
    checkpoint.ignore(LATENT_AVG);
    checkpoint.check_all_used(prefix)?;
    Ok(Generator { style, input, conv1, to_rgb1, convs, to_rgbs, noises, config })
}

/// The config of the generator under `prefix`, from its tensor shapes: `n_mlp` from the `style.*`
/// layers, the size from the number of ToRGB layers, the channels from the conv weights.
/// `lr_mlp` cannot be seen in the weights and is rosinality's 0.01.
pub fn infer_config(checkpoint: &Checkpoint, prefix: &str) -> Result<StyleGan2Config> {
    let reader = Reader { checkpoint, prefix, device: &Device::flex() };
    let n_mlp = (1..).take_while(|i| checkpoint.contains(&reader.key(&format!("style.{i}.weight")))).count();
    let style_dim = reader.dim("style.1.weight", 2, 1)?;
    let n_upsampling =
        (0..).take_while(|j| checkpoint.contains(&reader.key(&format!("to_rgbs.{j}.conv.weight")))).count();
    let mut channels = BTreeMap::from([(4, reader.dim("input.input", 4, 1)?)]);
    for j in 0..n_upsampling {
        channels.insert(8 << j, reader.dim(&format!("convs.{}.conv.weight", 2 * j), 5, 1)?);
    }
    let size = 4 << n_upsampling;
    let channel_multiplier = match channels.get(&64) {
        Some(c) if c % 256 == 0 => c / 256,
        _ => 2,
    };
    let is_rosinality_table =
        channels.iter().all(|(&r, &c)| StyleGan2Config::rosinality_channels(r, channel_multiplier) == Some(c));
    Ok(StyleGan2Config::new(size)
        .with_style_dim(style_dim)
        .with_n_mlp(n_mlp)
        .with_channel_multiplier(channel_multiplier)
        .with_channels((!is_rosinality_table).then_some(channels)))
}

/// Writes `generator` as the official file does: its state dict under `g_ema.` (the constant blur
/// kernels left out: they are optional buffers) and `latent_avg` beside it.
pub fn save(path: &Path, generator: &Generator, latent_avg: Tensor<1>, precision: Precision) -> Result<()> {
    let mut writer = TensorWriter::new();
    write_generator(&mut writer, generator, &format!("{G_EMA}."));
    writer.tensor(LATENT_AVG, latent_avg);
    let metadata = [("format".to_string(), "rosinality stylegan2-pytorch".to_string())].into();
    writer.write(path, precision, metadata)
}

/// The generator's tensors under `prefix`, with the keys [`load_generator`] reads.
pub fn write_generator(writer: &mut TensorWriter, generator: &Generator, prefix: &str) {
    for (i, layer) in generator.style.layers.iter().enumerate() {
        writer.equal_linear(&format!("{prefix}style.{}", i + 1), layer);
    }
    writer.param(format!("{prefix}input.input"), &generator.input.input);
    let space = generator.style_space();
    let modulated = |writer: &mut TensorWriter, name: String, conv: &ModulatedConv2d| {
        let [out_ch, in_ch, k, _] = conv.weight.lazy_shape().dims();
        writer.tensor_as(format!("{name}.weight"), conv.weight.val(), &[1, out_ch, in_ch, k, k]);
        writer.equal_linear(&format!("{name}.modulation"), &conv.modulation);
    };
    for (layer, conv) in space.conv.iter().zip(generator.conv_layers()) {
        let m = format!("{prefix}{}", layer.module);
        modulated(writer, format!("{m}.conv"), &conv.conv);
        writer.param(format!("{m}.noise.weight"), &conv.noise.weight);
        writer.param(format!("{m}.activate.bias"), &conv.activate.bias);
    }
    for (layer, to_rgb) in space.rgb.iter().zip(generator.rgb_layers()) {
        let m = format!("{prefix}{}", layer.module);
        modulated(writer, format!("{m}.conv"), &to_rgb.conv);
        writer.param(format!("{m}.bias"), &to_rgb.bias);
    }
    for (i, noise) in generator.noises.iter().enumerate() {
        writer.param(format!("{prefix}noises.noise_{i}"), noise);
    }
}

/// Reads the modules of one generator from a checkpoint, key by key.
struct Reader<'a> {
    checkpoint: &'a Checkpoint,
    prefix: &'a str,
    device: &'a Device,
}

impl Reader<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn tensor<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Tensor<D>> {
        self.tensor_as(name, &shape, shape)
    }

    /// The tensor `name` stored with shape `stored`, reshaped to `shape`.
    fn tensor_as<const D: usize>(&self, name: &str, stored: &[usize], shape: [usize; D]) -> Result<Tensor<D>> {
        self.checkpoint.tensor_as(&self.key(name), stored, shape, self.device)
    }

    /// Axis `axis` of the `rank`-d tensor `name`.
    fn dim(&self, name: &str, rank: usize, axis: usize) -> Result<usize> {
        let key = self.key(name);
        let shape = self.checkpoint.shape(&key)?;
        if shape.len() != rank {
            let reason = format!("shape {shape:?}, expected a {rank}-d tensor");
            return Err(Error::checkpoint_key(self.checkpoint.path(), key, reason));
        }
        Ok(shape[axis])
    }

    fn equal_linear(
        &self,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        lr_mul: f64,
        fused_lrelu: bool,
    ) -> Result<EqualLinear> {
        let config = EqualLinearConfig::new(in_dim, out_dim).with_lr_mul(lr_mul).with_fused_lrelu(fused_lrelu);
        let mut linear = config.init(self.device);
        self.checkpoint.load_equal_linear(&mut linear, &self.key(name))?;
        Ok(linear)
    }

    fn modulated_conv(
        &self,
        name: &str,
        in_ch: usize,
        out_ch: usize,
        k: usize,
        style_dim: usize,
        demodulate: bool,
        upsample: bool,
    ) -> Result<ModulatedConv2d> {
        let weight = self.tensor_as(&format!("{name}.weight"), &[1, out_ch, in_ch, k, k], [out_ch, in_ch, k, k])?;
        let blur = if upsample {
            let blur = Blur::for_upsampling_conv(k, self.device);
            self.check_constant(&format!("{name}.blur.kernel"), &blur.kernel)?;
            Some(blur)
        } else {
            None
        };
        Ok(ModulatedConv2d {
            weight: Param::from_tensor(weight),
            modulation: self.equal_linear(&format!("{name}.modulation"), style_dim, in_ch, 1.0, false)?,
            demodulate,
            blur,
        })
    }

    fn styled_conv(&self, layer: &StyleLayer, style_dim: usize) -> Result<StyledConv> {
        let m = &layer.module;
        Ok(StyledConv {
            conv: self.modulated_conv(
                &format!("{m}.conv"),
                layer.channels,
                layer.out_channels,
                3,
                style_dim,
                true,
                layer.upsample,
            )?,
            noise: NoiseInjection { weight: Param::from_tensor(self.tensor(&format!("{m}.noise.weight"), [1])?) },
            activate: FusedLeakyReLU {
                bias: Param::from_tensor(self.tensor(&format!("{m}.activate.bias"), [layer.out_channels])?),
            },
        })
    }

    fn to_rgb(&self, layer: &StyleLayer, style_dim: usize) -> Result<ToRGB> {
        let m = &layer.module;
        let upsample = (layer.index > 0).then(|| Upsample::new(self.device));
        if let Some(upsample) = &upsample {
            self.check_constant(&format!("{m}.upsample.kernel"), &upsample.kernel)?;
        }
        Ok(ToRGB {
            conv: self.modulated_conv(&format!("{m}.conv"), layer.channels, 3, 1, style_dim, false, false)?,
            bias: Param::from_tensor(self.tensor(&format!("{m}.bias"), [1, 3, 1, 1])?),
            upsample,
        })
    }

    /// The FIR kernels are constants of the architecture; a stored one (an optional buffer) must
    /// match ours, else the file was made with another blur kernel.
    fn check_constant(&self, name: &str, expected: &Tensor<2>) -> Result<()> {
        let key = self.key(name);
        if !self.checkpoint.contains(&key) {
            return Ok(());
        }
        let stored = self.tensor(name, expected.dims())?;
        let differs = (stored - expected.clone()).abs().max().into_scalar::<f32>() > 1e-6;
        if differs {
            return Err(Error::checkpoint_key(self.checkpoint.path(), key, "differs from the [1,3,3,1] blur kernel"));
        }
        Ok(())
    }
}
