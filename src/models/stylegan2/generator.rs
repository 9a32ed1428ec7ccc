//! The StyleGAN2 generator (rosinality `Generator`): mapping network, constant input, styled
//! convs with noise, ToRGB skips. Synthesis runs from w+, from S (DeltaEdit's decoding: S for the
//! convs, w+ for ToRGB) or from a full S including the ToRGB styles, and can return every conv
//! layer's feature map.
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::StyleGan2Config;
use super::mapping::MappingNetwork;
use super::style_space::{SLayers, StyleLayer, StyleLayerKind, StyleSpace, Styles};
use super::styled_conv::StyledConv;
use super::to_rgb::ToRGB;
use crate::Result;

/// The learned 4×4 input (`input.input`, `[1, C, 4, 4]`).
#[derive(Module, Debug)]
pub struct ConstantInput {
    pub input: Param<Tensor<4>>,
}

impl ConstantInput {
    pub fn forward(&self, batch: usize) -> Tensor<4> {
        self.input.val().repeat_dim(0, batch)
    }
}

/// Which noise the synthesis adds.
#[derive(Clone, Debug, Default)]
pub enum Noise {
    /// The generator's fixed maps (`noises.noise_*`): deterministic, what e4e and DeltaEdit use.
    #[default]
    Stored,
    /// Fresh N(0, 1) per layer and sample (rosinality's `randomize_noise=True`).
    Random,
    /// One map per conv layer, `[B or 1, 1, r, r]`.
    Given(Vec<Tensor<4>>),
}

/// An image and, when asked for, the feature maps it was made from: the constant input and then
/// every styled conv's output (18 maps at 1024²).
#[derive(Clone, Debug)]
pub struct Synthesis {
    pub image: Tensor<4>,
    pub features: Vec<Tensor<4>>,
}

#[derive(Module, Debug)]
pub struct Generator {
    /// The mapping network (`style.*`).
    pub style: MappingNetwork,
    pub input: ConstantInput,
    pub conv1: StyledConv,
    pub to_rgb1: ToRGB,
    /// Per resolution 8…size: the up-sampling conv, then the plain conv.
    pub convs: Vec<StyledConv>,
    pub to_rgbs: Vec<ToRGB>,
    /// The fixed noise maps `noises.noise_{i}` `[1, 1, r, r]`, one per conv layer; not trained.
    pub noises: Vec<Param<Tensor<4>>>,
    #[module(skip)]
    pub config: StyleGan2Config,
}

impl Generator {
    /// rosinality's random initialisation (through [`StyleGan2Config::init`]).
    pub(super) fn init(config: &StyleGan2Config, device: &Device) -> Result<Self> {
        let space = StyleSpace::new(config)?;
        let sd = config.style_dim;
        let conv = |i: usize| {
            let l = &space.conv[i];
            StyledConv::init(l.channels, l.out_channels, sd, l.upsample, device)
        };
        let c4 = space.conv[0].channels;
        Ok(Generator {
            style: MappingNetwork::init(sd, config.n_mlp, config.lr_mlp, device),
            input: ConstantInput {
                input: burn::nn::Initializer::Normal { mean: 0.0, std: 1.0 }.init([1, c4, 4, 4], device),
            },
            conv1: conv(0),
            to_rgb1: ToRGB::init(c4, sd, false, device),
            convs: (1..space.conv.len()).map(conv).collect(),
            to_rgbs: space.rgb[1..].iter().map(|l| ToRGB::init(l.channels, sd, true, device)).collect(),
            noises: space
                .conv
                .iter()
                .map(|l| {
                    let shape = [1, 1, l.resolution, l.resolution];
                    Param::from_tensor(Tensor::random(shape, Distribution::Normal(0.0, 1.0), device))
                        .set_require_grad(false)
                })
                .collect(),
            config: config.clone(),
        })
    }

    /// The layout of S for this generator.
    pub fn style_space(&self) -> StyleSpace {
        StyleSpace::new(&self.config).expect("a constructed generator has a valid config")
    }

    /// The generator with the constant input and every layer that draws below `resolution`
    /// excluded from gradients (their parameters stay as they are when the rest is optimised).
    pub fn without_gradients_below(self, resolution: usize) -> Self {
        fn frozen_if<M: Module>(module: M, frozen: bool) -> M {
            if frozen { module.no_grad() } else { module }
        }
        let space = self.style_space();
        let coarse = |layer: &StyleLayer| layer.resolution < resolution;
        let Generator { style, input, conv1, to_rgb1, convs, to_rgbs, noises, config } = self;
        Generator {
            style,
            input: frozen_if(input, 4 < resolution),
            conv1: frozen_if(conv1, coarse(&space.conv[0])),
            to_rgb1: frozen_if(to_rgb1, coarse(&space.rgb[0])),
            convs: convs.into_iter().zip(&space.conv[1..]).map(|(conv, layer)| frozen_if(conv, coarse(layer))).collect(),
            to_rgbs: to_rgbs.into_iter().zip(&space.rgb[1..]).map(|(rgb, layer)| frozen_if(rgb, coarse(layer))).collect(),
            noises,
            config,
        }
    }

    /// Rows of w+.
    pub fn n_latent(&self) -> usize {
        self.config.n_latent()
    }

    /// The styled convs in synthesis order (`conv1`, `convs.0`, …).
    pub fn conv_layers(&self) -> impl Iterator<Item = &StyledConv> {
        std::iter::once(&self.conv1).chain(&self.convs)
    }

    /// The ToRGB layers in synthesis order (`to_rgb1`, `to_rgbs.0`, …).
    pub fn rgb_layers(&self) -> impl Iterator<Item = &ToRGB> {
        std::iter::once(&self.to_rgb1).chain(&self.to_rgbs)
    }

    /// z `[B, style_dim]` → w `[B, style_dim]`.
    pub fn mapping(&self, z: Tensor<2>) -> Tensor<2> {
        self.style.forward(z)
    }

    /// The mean w of `n` random z (rosinality `mean_latent`), `[style_dim]`: for checkpoints
    /// without a stored `latent_avg`.
    pub fn mean_latent(&self, n: usize, device: &Device) -> Tensor<1> {
        let z = Tensor::random([n, self.config.style_dim], Distribution::Normal(0.0, 1.0), device);
        self.mapping(z).mean_dim(0).squeeze_dim(0)
    }

    /// w `[B, D]` → w+ `[B, n_latent, D]` (the same w for every layer).
    pub fn broadcast(&self, w: Tensor<2>) -> Tensor<3> {
        w.unsqueeze_dim::<3>(1).repeat_dim(1, self.n_latent())
    }

    /// Every layer's style from w+ `[B, n_latent, D]`: the conv styles form S.
    pub fn styles(&self, wplus: Tensor<3>) -> Styles {
        Styles { conv: self.conv_styles(wplus.clone()), rgb: self.rgb_styles(wplus) }
    }

    /// The conv styles (S, per layer) from w+.
    pub fn conv_styles(&self, wplus: Tensor<3>) -> Vec<Tensor<2>> {
        let space = self.style_space();
        self.conv_layers().zip(&space.conv).map(|(layer, l)| layer.conv.style(row(&wplus, l.wplus_row))).collect()
    }

    /// The ToRGB styles (per layer) from w+.
    pub fn rgb_styles(&self, wplus: Tensor<3>) -> Vec<Tensor<2>> {
        let space = self.style_space();
        self.rgb_layers().zip(&space.rgb).map(|(layer, l)| layer.conv.style(row(&wplus, l.wplus_row))).collect()
    }

    /// The image `[B, 3, size, size]` (nominally in [−1, 1], not clamped) from w+.
    pub fn synthesis(&self, wplus: Tensor<3>, noise: &Noise) -> Tensor<4> {
        self.synthesis_styles(&self.styles(wplus), noise)
    }

    /// The S code covering `which` from w+.
    pub fn s(&self, wplus: Tensor<3>, which: SLayers) -> Tensor<2> {
        let styles = self.styles(wplus);
        let space = self.style_space();
        Tensor::cat(space.s_layers(which).into_iter().map(|l| match l.kind {
            StyleLayerKind::Conv => styles.conv[l.index].clone(),
            StyleLayerKind::ToRgb => styles.rgb[l.index].clone(),
        }).collect(), 1)
    }

    /// DeltaEdit's decoding: an S code covering `which` (possibly edited); the styles it does not
    /// cover come from w+.
    pub fn synthesis_s(&self, s: Tensor<2>, wplus: Tensor<3>, which: SLayers, noise: &Noise) -> Result<Tensor<4>> {
        let styles = self.style_space().split_s(s, which, || self.rgb_styles(wplus))?;
        Ok(self.synthesis_styles(&styles, noise))
    }

    /// Synthesis from a full S: conv styles `[B, conv_dim]` and ToRGB styles `[B, rgb_dim]`.
    pub fn synthesis_full_s(&self, s: Tensor<2>, s_rgb: Tensor<2>, noise: &Noise) -> Result<Tensor<4>> {
        let space = self.style_space();
        let styles = Styles { conv: space.split_conv(s)?, rgb: space.split_rgb(s_rgb)? };
        Ok(self.synthesis_styles(&styles, noise))
    }

    /// The image from per-layer styles.
    pub fn synthesis_styles(&self, styles: &Styles, noise: &Noise) -> Tensor<4> {
        self.run(styles, noise, None, self.config.size)
    }

    /// A quick preview: the RGB skip sum at `resolution` (≤ size), i.e. the image without the
    /// layers above it. The skip architecture makes this a blurred version of the full image at a
    /// fraction of the cost (the last two resolutions hold ~60% of the work at 1024²).
    pub fn synthesis_preview(&self, styles: &Styles, noise: &Noise, resolution: usize) -> Tensor<4> {
        self.run(styles, noise, None, resolution)
    }

    /// The image and the feature maps (constant input, then every styled conv's output).
    pub fn synthesis_with_features(&self, styles: &Styles, noise: &Noise) -> Synthesis {
        let mut features = Vec::with_capacity(self.convs.len() + 2);
        let image = self.run(styles, noise, Some(&mut features), self.config.size);
        Synthesis { image, features }
    }

    fn run(
        &self,
        styles: &Styles,
        noise: &Noise,
        mut features: Option<&mut Vec<Tensor<4>>>,
        resolution: usize,
    ) -> Tensor<4> {
        assert_eq!(styles.conv.len(), self.convs.len() + 1, "one style per conv layer");
        assert_eq!(styles.rgb.len(), self.to_rgbs.len() + 1, "one style per ToRGB layer");
        let batch = styles.conv[0].dims()[0];
        let mut keep = |x: &Tensor<4>| {
            if let Some(features) = features.as_deref_mut() {
                features.push(x.clone());
            }
        };
        let mut x = self.input.forward(batch);
        keep(&x);
        x = self.conv1.forward(x, styles.conv[0].clone(), self.noise(noise, 0, batch));
        keep(&x);
        let mut skip = self.to_rgb1.forward(x.clone(), styles.rgb[0].clone(), None);
        let blocks = (resolution.max(4).trailing_zeros() as usize).saturating_sub(2);
        for (j, to_rgb) in self.to_rgbs.iter().enumerate().take(blocks) {
            for i in [2 * j + 1, 2 * j + 2] {
                x = self.convs[i - 1].forward(x, styles.conv[i].clone(), self.noise(noise, i, batch));
                keep(&x);
            }
            skip = to_rgb.forward(x.clone(), styles.rgb[j + 1].clone(), Some(skip));
        }
        skip
    }

    fn noise(&self, noise: &Noise, layer: usize, batch: usize) -> Tensor<4> {
        let stored = self.noises[layer].val();
        match noise {
            Noise::Stored => stored,
            Noise::Random => {
                let [_, _, h, w] = stored.dims();
                Tensor::random([batch, 1, h, w], Distribution::Normal(0.0, 1.0), &stored.device())
            }
            Noise::Given(maps) => maps[layer].clone(),
        }
    }
}

/// Row `i` of w+ `[B, L, D]` as `[B, D]`.
fn row(wplus: &Tensor<3>, i: usize) -> Tensor<2> {
    wplus.clone().narrow(1, i, 1).squeeze_dim(1)
}
