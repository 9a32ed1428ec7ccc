//! The style space S (StyleSpace, Wu et al.): the per-layer outputs of the modulation layers.
//! DeltaEdit's S is the concatenation of the conv layers' styles (6048 dims at 1024²); the ToRGB
//! styles (3040 dims) are kept apart. The StyleSpace paper's full S has both, in forward order
//! ([`SLayers`]). This module describes the layout: which layer sits where, at which resolution,
//! fed by which w+ row.
use std::ops::Range;

use burn::prelude::*;

use super::StyleGan2Config;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StyleLayerKind {
    /// A styled conv (`conv1`, `convs.{j}`): its style is part of S.
    Conv,
    /// A ToRGB layer (`to_rgb1`, `to_rgbs.{j}`).
    ToRgb,
}

/// Which modulated layers an S code covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SLayers {
    /// The conv layers: DeltaEdit's and StyleCLIP's S (fs3.npy's 6048 channels at 1024²); the ToRGB
    /// styles come from w+.
    Conv,
    /// Conv and ToRGB layers in forward order (the StyleSpace paper's 9088 at 1024²): for a
    /// generator that renders much through ToRGB (the built-in one draws its backgrounds there).
    ConvAndToRgb,
}

/// One modulated layer of the synthesis network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StyleLayer {
    pub kind: StyleLayerKind,
    /// Index among the layers of its kind (for convs: the S layer index).
    pub index: usize,
    /// The checkpoint's module name: `conv1`, `convs.3`, `to_rgb1`, `to_rgbs.2`.
    pub module: String,
    /// Side of the layer's output.
    pub resolution: usize,
    /// Width of the style = the layer's input channels.
    pub channels: usize,
    pub out_channels: usize,
    /// Stride-2 up-sampling conv.
    pub upsample: bool,
    /// Offset of the style in S (convs) or in the ToRGB styles.
    pub offset: usize,
    /// The w+ row whose modulation gives the style.
    pub wplus_row: usize,
}

impl StyleLayer {
    pub fn dims(&self) -> Range<usize> {
        self.offset..self.offset + self.channels
    }
}

/// A contiguous group of S layers (DeltaEdit's coarse / medium / fine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleGroup {
    /// S layer indices.
    pub layers: Range<usize>,
    /// Dimensions of S.
    pub dims: Range<usize>,
}

impl ScaleGroup {
    pub fn dim(&self) -> usize {
        self.dims.len()
    }
}

/// coarse = S layers at 4–8 px, medium = 16–32 px, fine = ≥ 64 px (1536 / 2048 / 2464 at 1024²).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleGroups {
    pub coarse: ScaleGroup,
    pub medium: ScaleGroup,
    pub fine: ScaleGroup,
}

/// The layout of S and of the ToRGB styles for one generator config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StyleSpace {
    /// Conv layers in synthesis order (17 at 1024²).
    pub conv: Vec<StyleLayer>,
    /// ToRGB layers in synthesis order (9 at 1024²).
    pub rgb: Vec<StyleLayer>,
}

impl StyleSpace {
    pub fn new(config: &StyleGan2Config) -> Result<Self> {
        config.validate()?;
        let c = |resolution| config.channels_at(resolution);
        // (module, resolution, in channels, out channels, up-sampling, w+ row), in synthesis order
        let mut conv = vec![("conv1".to_string(), 4, c(4)?, c(4)?, false, 0)];
        let mut rgb = vec![("to_rgb1".to_string(), 4, c(4)?, 3, false, 1)];
        for log_res in 3..=config.log_size() {
            let (j, resolution) = (log_res - 3, 1 << log_res);
            let (in_channels, out_channels) = (c(resolution / 2)?, c(resolution)?);
            conv.push((format!("convs.{}", 2 * j), resolution, in_channels, out_channels, true, 2 * j + 1));
            conv.push((format!("convs.{}", 2 * j + 1), resolution, out_channels, out_channels, false, 2 * j + 2));
            rgb.push((format!("to_rgbs.{j}"), resolution, out_channels, 3, false, 2 * j + 3));
        }
        Ok(StyleSpace { conv: layers(StyleLayerKind::Conv, conv), rgb: layers(StyleLayerKind::ToRgb, rgb) })
    }

    /// Width of S (6048 at 1024²).
    pub fn conv_dim(&self) -> usize {
        self.conv.iter().map(|l| l.channels).sum()
    }

    /// Width of the ToRGB styles (3040 at 1024²).
    pub fn rgb_dim(&self) -> usize {
        self.rgb.iter().map(|l| l.channels).sum()
    }

    /// All modulated layers in forward order (conv1, to_rgb1, convs.0, convs.1, to_rgbs.0, …): the
    /// 26-layer order of the original StyleSpace code at 1024².
    pub fn forward_order(&self) -> Vec<&StyleLayer> {
        let mut layers = vec![&self.conv[0], &self.rgb[0]];
        for (j, rgb) in self.rgb.iter().enumerate().skip(1) {
            layers.extend([&self.conv[2 * j - 1], &self.conv[2 * j], rgb]);
        }
        layers
    }

    /// The layers of an S code covering `which`, in the code's order.
    pub fn s_layers(&self, which: SLayers) -> Vec<&StyleLayer> {
        match which {
            SLayers::Conv => self.conv.iter().collect(),
            SLayers::ConvAndToRgb => self.forward_order(),
        }
    }

    /// Width of an S code covering `which`.
    pub fn s_dim(&self, which: SLayers) -> usize {
        self.s_layers(which).iter().map(|l| l.channels).sum()
    }

    /// Splits an S code `[B, s_dim(which)]` into per-layer styles; with [`SLayers::Conv`] the
    /// ToRGB styles are `rgb_from_wplus`.
    pub fn split_s(&self, s: Tensor<2>, which: SLayers, rgb_from_wplus: impl FnOnce() -> Vec<Tensor<2>>) -> Result<Styles> {
        let [batch, width] = s.dims();
        let expected = self.s_dim(which);
        if width != expected {
            return Err(Error::Invalid(format!("S: width {width}, this generator expects {expected}")));
        }
        let (mut conv, mut rgb) = (Vec::new(), Vec::new());
        let mut offset = 0;
        for layer in self.s_layers(which) {
            let style = s.clone().slice([0..batch, offset..offset + layer.channels]);
            match layer.kind {
                StyleLayerKind::Conv => conv.push(style),
                StyleLayerKind::ToRgb => rgb.push(style),
            }
            offset += layer.channels;
        }
        if which == SLayers::Conv {
            rgb = rgb_from_wplus();
        }
        Ok(Styles { conv, rgb })
    }

    /// DeltaEdit's coarse / medium / fine split of S.
    pub fn scale_groups(&self) -> ScaleGroups {
        let group = |resolutions: Range<usize>| {
            let layers: Vec<&StyleLayer> = self.conv.iter().filter(|l| resolutions.contains(&l.resolution)).collect();
            match (layers.first(), layers.last()) {
                (Some(first), Some(last)) => {
                    ScaleGroup { layers: first.index..last.index + 1, dims: first.offset..last.offset + last.channels }
                }
                _ => {
                    // an empty group sits where its resolutions would start
                    let at = self.conv.iter().filter(|l| l.resolution < resolutions.start).count();
                    let offset = self.conv[..at].iter().map(|l| l.channels).sum();
                    ScaleGroup { layers: at..at, dims: offset..offset }
                }
            }
        };
        ScaleGroups { coarse: group(4..16), medium: group(16..64), fine: group(64..usize::MAX) }
    }

    /// Splits S `[B, conv_dim]` into the per-layer styles.
    pub fn split_conv(&self, s: Tensor<2>) -> Result<Vec<Tensor<2>>> {
        split(&self.conv, s, "S")
    }

    /// Splits the ToRGB styles `[B, rgb_dim]` per layer.
    pub fn split_rgb(&self, s_rgb: Tensor<2>) -> Result<Vec<Tensor<2>>> {
        split(&self.rgb, s_rgb, "ToRGB styles")
    }
}

/// Numbers the layers and lays their styles out one after the other.
fn layers(kind: StyleLayerKind, specs: Vec<(String, usize, usize, usize, bool, usize)>) -> Vec<StyleLayer> {
    let mut offset = 0;
    let mut layers = Vec::with_capacity(specs.len());
    for (index, (module, resolution, channels, out_channels, upsample, wplus_row)) in specs.into_iter().enumerate() {
        layers.push(StyleLayer {
            kind,
            index,
            module,
            resolution,
            channels,
            out_channels,
            upsample,
            offset,
            wplus_row,
        });
        offset += channels;
    }
    layers
}

fn split(layers: &[StyleLayer], s: Tensor<2>, what: &str) -> Result<Vec<Tensor<2>>> {
    let [batch, width] = s.dims();
    let expected: usize = layers.iter().map(|l| l.channels).sum();
    if width != expected {
        return Err(Error::Invalid(format!("{what}: width {width}, this generator expects {expected}")));
    }
    Ok(layers.iter().map(|l| s.clone().slice([0..batch, l.dims()])).collect())
}

/// The per-layer styles of one synthesis, `[B, channels]` each, in synthesis order.
#[derive(Clone, Debug)]
pub struct Styles {
    pub conv: Vec<Tensor<2>>,
    pub rgb: Vec<Tensor<2>>,
}

impl Styles {
    /// S: the conv styles concatenated (`[B, 6048]` at 1024²).
    pub fn s(&self) -> Tensor<2> {
        Tensor::cat(self.conv.clone(), 1)
    }

    /// The ToRGB styles concatenated (`[B, 3040]` at 1024²).
    pub fn s_rgb(&self) -> Tensor<2> {
        Tensor::cat(self.rgb.clone(), 1)
    }
}
