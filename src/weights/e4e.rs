//! e4e checkpoints (`e4e_ffhq_encode.pt`): pSp's `{'state_dict': {encoder.*, decoder.*},
//! 'latent_avg', 'opts'}`. [`load_encoder`] reads the encoder and `latent_avg`; [`load`] also
//! reads `decoder.*`, the full rosinality generator e4e was trained with. Files without `opts`
//! (plain state dicts, our safetensors) get their config from the tensor shapes; [`save_encoder`]
//! writes the encoder in the same key layout.
use std::path::Path;

use burn::prelude::*;
use burn::store::pytorch_reader::{PickleValue, PytorchReader};

use super::checkpoint::Checkpoint;
use super::stylegan2::load_generator;
use super::writer::{Precision, TensorWriter};
use crate::models::e4e::{BackboneMode, BottleneckIr, E4eConfig, Encoder4Editing, GradualStyleBlock, Shortcut};
use crate::models::stylegan2::Generator;
use crate::{Error, Result};

/// Where the encoder's keys may sit: under pSp's `state_dict` (the official files), or at the top
/// level of a plain state dict, with or without the `encoder.` prefix.
const ENCODER_PREFIXES: [&str; 3] = ["state_dict.encoder.", "encoder.", ""];
const LATENT_AVG: &str = "latent_avg";
/// Where pSp stores its generator.
const DECODER_PREFIX: &str = "state_dict.decoder.";

/// The `opts` entries that matter for loading (the checkpoint stores `vars(opts)`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct E4eOpts {
    pub stylegan_size: Option<usize>,
    pub encoder_type: Option<String>,
    pub start_from_latent_avg: Option<bool>,
}

/// Reads `opts` from a pSp/e4e checkpoint (all `None` when it has none).
pub fn read_opts(path: &Path) -> Result<E4eOpts> {
    let Ok(PickleValue::Dict(opts)) = PytorchReader::read_pickle_data(path, Some("opts")) else {
        return Ok(E4eOpts::default());
    };
    let int = |k: &str| match opts.get(k) {
        Some(PickleValue::Int(v)) => usize::try_from(*v).ok(),
        _ => None,
    };
    Ok(E4eOpts {
        stylegan_size: int("stylegan_size"),
        encoder_type: match opts.get("encoder_type") {
            Some(PickleValue::String(s)) => Some(s.clone()),
            _ => None,
        },
        start_from_latent_avg: match opts.get("start_from_latent_avg") {
            Some(PickleValue::Bool(b)) => Some(*b),
            _ => None,
        },
    })
}

/// The config of an official checkpoint: ResNet-50 IR-SE with the checkpoint's `stylegan_size`.
pub fn config_from_opts(opts: &E4eOpts) -> Result<E4eConfig> {
    if let Some(kind) = opts.encoder_type.as_deref().filter(|k| *k != "Encoder4Editing") {
        return Err(Error::Config(format!("e4e: checkpoint encoder_type is `{kind}`, expected `Encoder4Editing`")));
    }
    Ok(E4eConfig { stylegan_size: opts.stylegan_size.unwrap_or(1024), ..E4eConfig::default() })
}

/// Loads the encoder and `latent_avg` from `path`. `config` defaults to the one its `opts` give,
/// or, for a file without `opts`, to the one its shapes give ([`infer_config`]).
pub fn load_encoder(path: &Path, config: Option<&E4eConfig>, device: &Device) -> Result<Encoder4Editing> {
    let opts = read_opts(path)?;
    let checkpoint = Checkpoint::open(path)?;
    let config = match config {
        Some(c) => c.clone(),
        None if opts == E4eOpts::default() => infer_config(&checkpoint)?,
        None => config_from_opts(&opts)?,
    };
    read_encoder(&checkpoint, &opts, &config, device)
}

/// The config of the encoder in `checkpoint`, from its tensor shapes: the stage depths from the
/// units' convs (a stage starts where the depth changes, as in the official table, so consecutive
/// stages must differ in depth), SE from the presence of `res_layer.5`, `stylegan_size` from the
/// number of style blocks, `input_size` from the convs of the first (coarse) block.
pub fn infer_config(checkpoint: &Checkpoint) -> Result<E4eConfig> {
    let prefix = encoder_prefix(checkpoint)?;
    let path = checkpoint.path();
    let key = |name: &str| format!("{prefix}{name}");
    let dim = |name: &str, axis: usize| -> Result<usize> {
        checkpoint.shape(&key(name))?.get(axis).copied().ok_or_else(|| Error::checkpoint_key(path, key(name), "too few dimensions"))
    };
    let n_units = (0..).take_while(|i| checkpoint.contains(&key(&format!("body.{i}.res_layer.1.weight")))).count();
    let mut units: Vec<usize> = Vec::new();
    let mut channels: Vec<usize> = Vec::new();
    let mut depth = dim("input_layer.0.weight", 0)?;
    for i in 0..n_units {
        let unit_depth = dim(&format!("body.{i}.res_layer.1.weight"), 0)?;
        if i == 0 || unit_depth != depth {
            units.push(0);
            channels.push(unit_depth);
        }
        *units.last_mut().expect("a stage was opened") += 1;
        depth = unit_depth;
    }
    let (Ok(stage_units), Ok(stage_channels)) = (<[usize; 4]>::try_from(units.clone()), <[usize; 4]>::try_from(channels.clone())) else {
        let reason = format!("the body's depths {channels:?} (units {units:?}) do not form 4 stages");
        return Err(Error::checkpoint(path, reason));
    };
    let n_styles = (0..).take_while(|i| checkpoint.contains(&key(&format!("styles.{i}.linear.weight")))).count();
    if n_styles < 2 || n_styles % 2 != 0 {
        return Err(Error::checkpoint(path, format!("{n_styles} style blocks: not the w+ rows of a StyleGAN2 generator")));
    }
    let coarse_convs = (0..).take_while(|i| checkpoint.contains(&key(&format!("styles.0.convs.{}.weight", GradualStyleBlock::sequential_index(*i))))).count();
    let with_se = checkpoint.contains(&key("body.0.res_layer.5.fc1.weight"));
    // A ResNet-50/100/152 table with the official depths is written as the official config.
    let official_depth = (stage_channels == E4eConfig::default().stage_channels())
        .then(|| [50, 100, 152].into_iter().find(|&n| E4eConfig { num_layers: n, ..E4eConfig::default() }.stage_units().ok() == Some(stage_units)))
        .flatten();
    Ok(E4eConfig {
        num_layers: official_depth.unwrap_or(50),
        mode: if with_se { BackboneMode::IrSe } else { BackboneMode::Ir },
        stylegan_size: 1 << ((n_styles + 2) / 2),
        stage_units: official_depth.is_none().then_some(stage_units),
        stage_channels: official_depth.is_none().then_some(stage_channels),
        input_size: 16 << coarse_convs,
    })
}

/// Writes `encoder` (with its `latent_avg`) under `encoder.`, the keys [`load_encoder`] reads.
pub fn save_encoder(path: &Path, encoder: &Encoder4Editing, precision: Precision) -> Result<()> {
    let Some(latent_avg) = &encoder.latent_avg else {
        return Err(Error::Invalid("e4e: an encoder is saved with its latent_avg".into()));
    };
    let mut writer = TensorWriter::new();
    let prefix = ENCODER_PREFIXES[1];
    let input = &encoder.input_layer;
    writer.conv2d(&format!("{prefix}input_layer.0"), &input.conv);
    writer.batch_norm(&format!("{prefix}input_layer.1"), &input.bn);
    writer.prelu(&format!("{prefix}input_layer.2"), &input.prelu);
    for (i, unit) in encoder.body.iter().enumerate() {
        let unit_prefix = format!("{prefix}body.{i}");
        if let Shortcut::Projection(p) = &unit.shortcut {
            writer.conv2d(&format!("{unit_prefix}.shortcut_layer.0"), &p.conv);
            writer.batch_norm(&format!("{unit_prefix}.shortcut_layer.1"), &p.bn);
        }
        let res = format!("{unit_prefix}.res_layer");
        writer.batch_norm(&format!("{res}.0"), &unit.bn_in);
        writer.conv2d(&format!("{res}.1"), &unit.conv1);
        writer.prelu(&format!("{res}.2"), &unit.prelu);
        writer.conv2d(&format!("{res}.3"), &unit.conv2);
        writer.batch_norm(&format!("{res}.4"), &unit.bn_out);
        if let Some(se) = &unit.se {
            writer.conv2d(&format!("{res}.5.fc1"), &se.fc1);
            writer.conv2d(&format!("{res}.5.fc2"), &se.fc2);
        }
    }
    for (i, style) in encoder.styles.iter().enumerate() {
        for (j, conv) in style.convs.iter().enumerate() {
            writer.conv2d(&format!("{prefix}styles.{i}.convs.{}", GradualStyleBlock::sequential_index(j)), conv);
        }
        writer.equal_linear(&format!("{prefix}styles.{i}.linear"), &style.linear);
    }
    writer.conv2d(&format!("{prefix}latlayer1"), &encoder.latlayer1);
    writer.conv2d(&format!("{prefix}latlayer2"), &encoder.latlayer2);
    writer.tensor(LATENT_AVG, latent_avg.clone());
    let metadata = [("format".to_string(), "e4e Encoder4Editing".to_string())].into();
    writer.write(path, precision, metadata)
}

/// The prefix the encoder's keys sit under.
fn encoder_prefix(sd: &Checkpoint) -> Result<&'static str> {
    ENCODER_PREFIXES
        .into_iter()
        .find(|p| sd.contains(&format!("{p}input_layer.0.weight")))
        .ok_or_else(|| Error::checkpoint_key(sd.path(), "encoder.input_layer.0.weight", "missing: not an e4e checkpoint"))
}

/// Whether `path` holds pSp's generator beside the encoder (the official files; ours hold the
/// encoder alone, its generator being a file of its own).
pub fn has_decoder(path: &Path) -> Result<bool> {
    Ok(Checkpoint::open(path)?.has_prefix(DECODER_PREFIX))
}

/// An e4e file loaded whole: the encoder (with `latent_avg`) and its generator, so that
/// `decoder.synthesis(encoder.encode(image))` is e4e's inversion of `image`.
pub struct E4eModel {
    pub encoder: Encoder4Editing,
    pub decoder: Generator,
}

/// Loads the encoder, `latent_avg` and the generator under `state_dict.decoder.` (its config
/// inferred from the shapes) from `path`. `config` defaults to the one its `opts` give; the
/// generator must produce the encoder's `stylegan_size` from w+ rows of the encoder's width.
pub fn load(path: &Path, config: Option<&E4eConfig>, device: &Device) -> Result<E4eModel> {
    let opts = read_opts(path)?;
    let config = match config {
        Some(c) => c.clone(),
        None => config_from_opts(&opts)?,
    };
    let checkpoint = Checkpoint::open(path)?;
    if !checkpoint.has_prefix(DECODER_PREFIX) {
        return Err(Error::checkpoint(path, format!("no generator under `{DECODER_PREFIX}`")));
    }
    let encoder = read_encoder(&checkpoint, &opts, &config, device)?;
    let decoder = load_generator(&checkpoint, DECODER_PREFIX, None, device)?;
    let g = &decoder.config;
    let sizes = [Some(config.stylegan_size), opts.stylegan_size];
    if sizes.iter().flatten().any(|&size| size != g.size) || g.style_dim != config.style_dim() {
        return Err(Error::checkpoint(
            path,
            format!(
                "the generator makes {0}² images from w of width {1}, but the encoder is for a {2}² \
                 generator (opts.stylegan_size {3:?}) with w of width {4}",
                g.size,
                g.style_dim,
                config.stylegan_size,
                opts.stylegan_size,
                config.style_dim()
            ),
        ));
    }
    Ok(E4eModel { encoder, decoder })
}

fn read_encoder(sd: &Checkpoint, opts: &E4eOpts, config: &E4eConfig, device: &Device) -> Result<Encoder4Editing> {
    let path = sd.path();
    let prefix = encoder_prefix(sd)?;

    let mut encoder = config.init(device)?;
    load_weights(sd, &mut encoder, prefix)?;
    sd.ignore(LATENT_AVG);
    // A top-level state dict holds only the encoder; under pSp's `state_dict.` the generator
    // sits beside it and is loaded (and checked) separately.
    sd.check_all_used(prefix)?;
    encoder.latent_avg = if sd.contains(LATENT_AVG) {
        Some(latent_avg(sd, encoder.n_styles(), config.style_dim(), device)?)
    } else if opts.start_from_latent_avg == Some(false) {
        None
    } else {
        return Err(Error::checkpoint_key(path, LATENT_AVG, "missing (e4e predicts offsets from the average latent)"));
    };
    Ok(encoder)
}

/// `latent_avg`: [n_styles, w] as pSp saves it after training, or the generator's [w] / [1, w].
fn latent_avg(sd: &Checkpoint, n_styles: usize, width: usize, device: &Device) -> Result<Tensor<2>> {
    match sd.shape(LATENT_AVG).ok() {
        Some([w]) if *w == width => Ok(sd.tensor(LATENT_AVG, [width], device)?.unsqueeze()),
        Some([1, w]) if *w == width => sd.tensor(LATENT_AVG, [1, width], device),
        _ => sd.tensor(LATENT_AVG, [n_styles, width], device),
    }
}

/// The official key map of `Encoder4Editing`.
fn load_weights(sd: &Checkpoint, encoder: &mut Encoder4Editing, prefix: &str) -> Result<()> {
    let input = &mut encoder.input_layer;
    sd.load_conv2d(&mut input.conv, &format!("{prefix}input_layer.0"))?;
    sd.load_batch_norm(&mut input.bn, &format!("{prefix}input_layer.1"))?;
    sd.load_prelu(&mut input.prelu, &format!("{prefix}input_layer.2"))?;
    for (i, unit) in encoder.body.iter_mut().enumerate() {
        load_unit(sd, unit, &format!("{prefix}body.{i}"))?;
    }
    for (i, style) in encoder.styles.iter_mut().enumerate() {
        load_style_block(sd, style, &format!("{prefix}styles.{i}"))?;
    }
    sd.load_conv2d(&mut encoder.latlayer1, &format!("{prefix}latlayer1"))?;
    sd.load_conv2d(&mut encoder.latlayer2, &format!("{prefix}latlayer2"))
}

fn load_unit(sd: &Checkpoint, unit: &mut BottleneckIr, prefix: &str) -> Result<()> {
    if let Shortcut::Projection(p) = &mut unit.shortcut {
        sd.load_conv2d(&mut p.conv, &format!("{prefix}.shortcut_layer.0"))?;
        sd.load_batch_norm(&mut p.bn, &format!("{prefix}.shortcut_layer.1"))?;
    }
    let res = format!("{prefix}.res_layer");
    sd.load_batch_norm(&mut unit.bn_in, &format!("{res}.0"))?;
    sd.load_conv2d(&mut unit.conv1, &format!("{res}.1"))?;
    sd.load_prelu(&mut unit.prelu, &format!("{res}.2"))?;
    sd.load_conv2d(&mut unit.conv2, &format!("{res}.3"))?;
    sd.load_batch_norm(&mut unit.bn_out, &format!("{res}.4"))?;
    if let Some(se) = &mut unit.se {
        sd.load_conv2d(&mut se.fc1, &format!("{res}.5.fc1"))?;
        sd.load_conv2d(&mut se.fc2, &format!("{res}.5.fc2"))?;
    }
    Ok(())
}

fn load_style_block(sd: &Checkpoint, block: &mut GradualStyleBlock, prefix: &str) -> Result<()> {
    for (i, conv) in block.convs.iter_mut().enumerate() {
        sd.load_conv2d(conv, &format!("{prefix}.convs.{}", GradualStyleBlock::sequential_index(i)))?;
    }
    sd.load_equal_linear(&mut block.linear, &format!("{prefix}.linear"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::weights::checkpoint::expect_key_error;

    fn fixture(name: &str) -> (PathBuf, E4eConfig) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity").join(name);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        (dir.join("e4e.pt"), serde_json::from_value(manifest["config"].clone()).unwrap())
    }

    #[test]
    fn reads_opts_and_latent_avg() {
        let device = Device::flex();
        let (path, config) = fixture("e4e_small");
        let opts = read_opts(&path).unwrap();
        assert_eq!(opts.stylegan_size, Some(64));
        assert_eq!(opts.encoder_type.as_deref(), Some("Encoder4Editing"));
        assert_eq!(opts.start_from_latent_avg, Some(true));
        let encoder = load_encoder(&path, Some(&config), &device).unwrap();
        assert_eq!(encoder.latent_avg.unwrap().dims(), [10, 16]);
        // The legacy-format fixture stores the generator's [w] average.
        let (path, config) = fixture("e4e_small_ir_legacy");
        let encoder = load_encoder(&path, Some(&config), &device).unwrap();
        assert_eq!(encoder.latent_avg.unwrap().dims(), [1, 16]);
    }

    #[test]
    fn loads_the_decoder_beside_the_encoder() {
        let device = Device::flex();
        for name in ["e4e_small", "e4e_small_ir_legacy"] {
            let (path, config) = fixture(name);
            let model = load(&path, Some(&config), &device).unwrap();
            assert!(model.encoder.latent_avg.is_some(), "{name}");
            // The generator's config comes from its shapes (the parity fixtures check its output).
            let g = &model.decoder.config;
            assert_eq!((g.size, g.style_dim, g.n_mlp), (64, 16, 2), "{name}");
            assert_eq!(model.encoder.n_styles(), g.n_latent(), "{name}");
        }
        // A file without `state_dict.decoder.` (a bare generator) is no e4e file.
        let generator =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/stylegan2_zip_32/generator.pt");
        let (_, config) = fixture("e4e_small");
        let err = load(&generator, Some(&config), &Device::flex()).err().expect("a generator file loaded as e4e");
        assert!(err.to_string().contains("state_dict.decoder."), "{err}");
    }

    #[test]
    fn opts_stylegan_size_must_agree_with_the_generator() {
        let device = Device::flex();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e4e_files/opts_size_mismatch.pt");
        let config = E4eConfig {
            num_layers: 50,
            mode: crate::models::e4e::BackboneMode::Ir,
            stylegan_size: 32,
            stage_units: Some([1; 4]),
            stage_channels: Some([4; 4]),
            ..E4eConfig::default()
        };
        // Encoder and generator fit each other; only the file's opts say 64².
        assert!(load_encoder(&path, Some(&config), &device).is_ok());
        let err = load(&path, Some(&config), &device).err().expect("loaded despite opts.stylegan_size 64");
        assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
        assert!(err.to_string().contains("opts.stylegan_size Some(64)"), "{err}");
    }

    #[test]
    fn a_saved_encoder_loads_back_with_its_config_inferred_and_the_same_outputs() {
        use burn::tensor::Distribution;
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let image = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 0.5), &device);
        for mode in [BackboneMode::Ir, BackboneMode::IrSe] {
            let config = E4eConfig {
                mode,
                stylegan_size: 16,
                input_size: 32,
                stage_units: Some([2, 1, 2, 1]),
                stage_channels: Some([16, 32, 48, 64]),
                ..E4eConfig::default()
            };
            let mut encoder = config.init(&device).unwrap();
            encoder.latent_avg = Some(Tensor::random([6, 64], Distribution::Normal(0.0, 1.0), &device));
            let path = dir.path().join(format!("{mode:?}.safetensors"));
            save_encoder(&path, &encoder, Precision::F32).unwrap();
            assert_eq!(infer_config(&Checkpoint::open(&path).unwrap()).unwrap(), config);
            let loaded = load_encoder(&path, None, &device).unwrap();
            let gap = (loaded.encode(image.clone()) - encoder.encode(image.clone())).abs().max().into_scalar::<f32>();
            assert!(gap < 1e-5, "{mode:?}: {gap}");
        }
        // The official shapes give the official config.
        let (path, config) = fixture("e4e_small");
        let inferred = infer_config(&Checkpoint::open(&path).unwrap()).unwrap();
        assert_eq!(inferred, config);
    }

    #[test]
    fn batch_norm_uses_running_statistics_on_autodiff_devices_too() {
        let (path, config) = fixture("e4e_small");
        let image = crate::parity::Array::read_npy(&path.with_file_name("image.npy")).unwrap();
        let encode = |device: Device| {
            let encoder = load_encoder(&path, Some(&config), &device).unwrap();
            let out = encoder.encode(image.float::<4>(&device).unwrap());
            out.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
        };
        let (plain, autodiff) = (encode(Device::flex()), encode(Device::flex().autodiff()));
        let max_diff = plain.iter().zip(&autodiff).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(max_diff < 1e-5, "max diff {max_diff}");
    }

    #[test]
    fn wrong_shapes_name_the_first_offending_key() {
        let (path, config) = fixture("e4e_small");
        let config = E4eConfig { stage_channels: Some([8, 24, 32, 16]), ..config };
        let (key, reason) = expect_key_error(load_encoder(&path, Some(&config), &Device::flex()));
        assert_eq!(key, "state_dict.encoder.input_layer.0.weight");
        assert_eq!(reason, "shape [16, 3, 3, 3], expected [8, 3, 3, 3]");
    }

    #[test]
    fn missing_and_unexpected_keys_are_errors() {
        let device = Device::flex();
        let (path, config) = fixture("e4e_small");
        let bigger = E4eConfig { stylegan_size: 128, ..config.clone() };
        let (key, reason) = expect_key_error(load_encoder(&path, Some(&bigger), &device));
        assert_eq!((key.as_str(), reason.as_str()), ("state_dict.encoder.styles.10.convs.0.weight", "missing"));
        let smaller = E4eConfig { stylegan_size: 32, ..config };
        let (key, reason) = expect_key_error(load_encoder(&path, Some(&smaller), &device));
        assert_eq!(key, "state_dict.encoder.styles.8.convs.0.bias");
        assert!(reason.starts_with("unexpected"), "{reason}");
    }

    #[test]
    fn truncated_or_foreign_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["e4e_small", "e4e_small_ir_legacy"] {
            let (path, config) = fixture(name);
            let bytes = std::fs::read(&path).unwrap();
            let truncated = dir.path().join(format!("{name}.pt"));
            std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
            let err = load_encoder(&truncated, Some(&config), &Device::flex()).unwrap_err();
            assert!(err.to_string().starts_with(&truncated.display().to_string()), "{err}");
        }
        let (_, config) = fixture("e4e_small");
        let npy = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/e4e_small/image.npy");
        let err = load_encoder(&npy, Some(&config), &Device::flex()).unwrap_err();
        assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    }
}
