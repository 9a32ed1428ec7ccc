//! e4e: Encoder4Editing (Tov et al. 2021, `omertov/encoder4editing`), the encoder that inverts an
//! aligned 256² face into StyleGAN2 w+.
//!
//! An IR-SE ResNet backbone gives three feature maps (c1 64², c2 32², c3 16² at 256² input), merged
//! FPN-style into p2 = up(c3) + latlayer1(c2) and p1 = up(p2) + latlayer2(c1). GradualStyleBlocks
//! turn them into w vectors: `w0 = styles[0](c3)` and, for every other row, `w_i = w0 + styles[i](f)`
//! with f = c3 (coarse rows), p2 (medium) or p1 (fine). pSp then adds `latent_avg`.
mod backbone;
mod input;
mod style_block;

pub use backbone::{BottleneckIr, InputLayer, Projection, SeModule, Shortcut};
pub use input::{INPUT_SIZE, image_to_input};
pub use style_block::GradualStyleBlock;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Rows `< COARSE_IND` read c3, rows `< MIDDLE_IND` read p2, the others p1 (official constants).
const COARSE_IND: usize = 3;
const MIDDLE_IND: usize = 7;
/// The backbone's input layer keeps the resolution and each stage halves it, so c3, p2 and p1 are
/// input/16, input/8 and input/4 (16², 32², 64² at the official 256² input).
const COARSE_DIVISOR: usize = 16;
const MIDDLE_DIVISOR: usize = 8;
const FINE_DIVISOR: usize = 4;

/// Channels of the four backbone stages (the last is also the w width).
const STAGE_CHANNELS: [usize; 4] = [64, 128, 256, 512];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackboneMode {
    /// `bottleneck_IR` units.
    #[serde(rename = "ir")]
    Ir,
    /// `bottleneck_IR_SE` units (what e4e uses).
    #[serde(rename = "ir_se")]
    IrSe,
}

/// `Encoder4Editing(num_layers, mode, opts)` with `opts.stylegan_size`. The two `stage_*` keys and
/// `input_size` are ours, for small models; left out, they are the official values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct E4eConfig {
    /// ResNet depth: 50, 100 or 152.
    pub num_layers: usize,
    pub mode: BackboneMode,
    /// Resolution of the generator; decides the number of w+ rows (2·log2(size) − 2).
    pub stylegan_size: usize,
    /// Units per stage (default: the IR-ResNet table for `num_layers`).
    pub stage_units: Option<[usize; 4]>,
    /// Channels per stage (default [64, 128, 256, 512]); the last is the w width.
    pub stage_channels: Option<[usize; 4]>,
    /// Side of the (square) input image, a multiple of 16 (official: 256); it sets the spatial
    /// sizes the style blocks read, hence their number of convs.
    pub input_size: usize,
}

impl Default for E4eConfig {
    fn default() -> Self {
        Self { num_layers: 50, mode: BackboneMode::IrSe, stylegan_size: 1024, stage_units: None, stage_channels: None, input_size: INPUT_SIZE as usize }
    }
}

impl E4eConfig {
    pub fn n_styles(&self) -> Result<usize> {
        let size = self.stylegan_size;
        if !size.is_power_of_two() || size < 4 {
            return Err(Error::Config(format!("e4e: stylegan_size must be a power of two ≥ 4, got {size}")));
        }
        Ok(2 * size.ilog2() as usize - 2)
    }

    /// `get_blocks(num_layers)`: units per stage.
    pub fn stage_units(&self) -> Result<[usize; 4]> {
        if let Some(units) = self.stage_units {
            return Ok(units);
        }
        match self.num_layers {
            50 => Ok([3, 4, 14, 3]),
            100 => Ok([3, 13, 30, 3]),
            152 => Ok([3, 8, 36, 3]),
            n => Err(Error::Config(format!("e4e: num_layers must be 50, 100 or 152, got {n}"))),
        }
    }

    pub fn stage_channels(&self) -> [usize; 4] {
        self.stage_channels.unwrap_or(STAGE_CHANNELS)
    }

    /// Width of the w vectors.
    pub fn style_dim(&self) -> usize {
        self.stage_channels()[3]
    }

    /// The spatial sizes of the maps the coarse, medium and fine style blocks read (c3, p2, p1).
    pub fn style_spatial(&self) -> Result<[usize; 3]> {
        let size = self.input_size;
        if size == 0 || size % COARSE_DIVISOR != 0 || !size.is_power_of_two() {
            return Err(Error::Config(format!("e4e: input_size must be a power of two ≥ 16, got {size}")));
        }
        Ok([size / COARSE_DIVISOR, size / MIDDLE_DIVISOR, size / FINE_DIVISOR])
    }

    /// Builds the encoder with fresh (untrained) weights and no `latent_avg`.
    pub fn init(&self, device: &Device) -> Result<Encoder4Editing> {
        let [coarse_spatial, middle_spatial, fine_spatial] = self.style_spatial()?;
        let units = self.stage_units()?;
        let channels = self.stage_channels();
        let n_styles = self.n_styles()?;
        if units.contains(&0) || channels.contains(&0) {
            return Err(Error::Config(format!("e4e: stage units {units:?} and channels {channels:?} must be positive")));
        }
        let with_se = self.mode == BackboneMode::IrSe;

        // Every stage starts with a stride-2 unit; the features are tapped at the ends of stages
        // 2, 3 and 4 (the official body[6], body[20], body[23] for num_layers = 50).
        let mut body = Vec::new();
        let mut taps = [0; 3];
        let mut c_in = channels[0];
        for (stage, (&n, &depth)) in units.iter().zip(&channels).enumerate() {
            for unit in 0..n {
                let stride = if unit == 0 { 2 } else { 1 };
                body.push(BottleneckIr::new(c_in, depth, stride, with_se, device));
                c_in = depth;
            }
            if stage > 0 {
                taps[stage - 1] = body.len() - 1;
            }
        }

        let width = self.style_dim();
        let styles = (0..n_styles)
            .map(|i| {
                let spatial = if i < COARSE_IND {
                    coarse_spatial
                } else if i < MIDDLE_IND {
                    middle_spatial
                } else {
                    fine_spatial
                };
                GradualStyleBlock::new(width, width, spatial, device)
            })
            .collect();
        let lateral = |c_in| Conv2dConfig::new([c_in, width], [1, 1]).init(device);

        Ok(Encoder4Editing {
            input_layer: InputLayer::new(channels[0], device),
            body,
            styles,
            latlayer1: lateral(channels[2]),
            latlayer2: lateral(channels[1]),
            c1_unit: taps[0],
            c2_unit: taps[1],
            c3_unit: taps[2],
            latent_avg: None,
            input_size: self.input_size,
        })
    }
}

#[derive(Module, Debug)]
pub struct Encoder4Editing {
    pub input_layer: InputLayer,
    pub body: Vec<BottleneckIr>,
    pub styles: Vec<GradualStyleBlock>,
    /// c2 → p2 lateral 1×1 conv (with bias).
    pub latlayer1: Conv2d,
    /// c1 → p1 lateral 1×1 conv (with bias).
    pub latlayer2: Conv2d,
    /// Body units after which c1, c2, c3 are taken.
    pub c1_unit: usize,
    pub c2_unit: usize,
    pub c3_unit: usize,
    /// pSp's `latent_avg`, [n_styles, w] or [1, w]; added by [`Encoder4Editing::encode`].
    pub latent_avg: Option<Tensor<2>>,
    /// Side of the input images.
    pub input_size: usize,
}

/// FPN merge: bilinear (align_corners) upsampling of `x` to `y`'s size, plus `y`.
fn upsample_add(x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = y.dims();
    let options = InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(true).with_output_size([h, w]);
    interpolate(x, options) + y
}

impl Encoder4Editing {
    pub fn n_styles(&self) -> usize {
        self.styles.len()
    }

    /// The official `Encoder4Editing.forward` at inference: image [B, 3, input, input] in [−1, 1] →
    /// w+ offsets [B, n_styles, w] (before `latent_avg`).
    pub fn forward(&self, image: Tensor<4>) -> Tensor<3> {
        let mut x = self.input_layer.forward(image);
        let mut taps = Vec::with_capacity(2);
        for (i, unit) in self.body.iter().enumerate().take(self.c3_unit + 1) {
            x = unit.forward(x);
            if i == self.c1_unit || i == self.c2_unit {
                taps.push(x.clone());
            }
        }
        let [c1, c2]: [Tensor<4>; 2] = taps.try_into().expect("c1 and c2 come before c3");
        let c3 = x;

        let w0 = self.styles[0].forward(c3.clone());
        let mut rows = vec![w0.clone()];
        let mut features = c3;
        for (i, style) in self.styles.iter().enumerate().skip(1) {
            if i == COARSE_IND {
                features = upsample_add(features, self.latlayer1.forward(c2.clone())); // p2
            } else if i == MIDDLE_IND {
                features = upsample_add(features, self.latlayer2.forward(c1.clone())); // p1
            }
            rows.push(w0.clone() + style.forward(features.clone()));
        }
        Tensor::stack(rows, 1)
    }

    /// pSp's codes: `forward(image) + latent_avg` → w+ [B, n_styles, w].
    pub fn encode(&self, image: Tensor<4>) -> Tensor<3> {
        let codes = self.forward(image);
        match &self.latent_avg {
            Some(avg) => codes + avg.clone().unsqueeze_dim(0),
            None => codes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_config_has_18_styles_and_the_official_taps() {
        let config: E4eConfig = serde_json::from_str(r#"{"num_layers": 50, "mode": "ir_se", "stylegan_size": 1024}"#).unwrap();
        assert_eq!(config, E4eConfig::default());
        assert_eq!(config.n_styles().unwrap(), 18);
        let encoder = config.init(&Device::flex()).unwrap();
        assert_eq!(encoder.body.len(), 24);
        assert_eq!((encoder.c1_unit, encoder.c2_unit, encoder.c3_unit), (6, 20, 23));
        // Units 0, 3, 7, 21 open a stage: stride 2; projections where the depth changes.
        let projections: Vec<usize> = encoder
            .body
            .iter()
            .enumerate()
            .filter(|(_, u)| matches!(u.shortcut, Shortcut::Projection(_)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(projections, [3, 7, 21]);
        let conv_counts: Vec<usize> = encoder.styles.iter().map(|s| s.convs.len()).collect();
        assert_eq!(conv_counts, [[4; 3].as_slice(), &[5; 4], &[6; 11]].concat());
        assert!(encoder.body[0].se.is_some());
    }

    #[test]
    fn a_64_pixel_input_reads_4_8_16_pixel_maps() {
        let config = E4eConfig {
            stylegan_size: 64,
            input_size: 64,
            stage_units: Some([1; 4]),
            stage_channels: Some([4, 8, 16, 16]),
            ..E4eConfig::default()
        };
        let device = Device::flex();
        let encoder = config.init(&device).unwrap();
        let conv_counts: Vec<usize> = encoder.styles.iter().map(|s| s.convs.len()).collect();
        assert_eq!(conv_counts, [[2; 3].as_slice(), &[3; 4], &[4; 3]].concat());
        let wplus = encoder.forward(Tensor::zeros([2, 3, 64, 64], &device));
        assert_eq!(wplus.dims(), [2, 10, 16]);
    }

    #[test]
    fn bad_configs_are_rejected() {
        let device = Device::flex();
        for json in [r#"{"num_layers": 34}"#, r#"{"stylegan_size": 1000}"#, r#"{"stage_units": [1, 0, 1, 1]}"#, r#"{"input_size": 40}"#] {
            let config: E4eConfig = serde_json::from_str(json).unwrap();
            assert!(config.init(&device).is_err(), "{json}");
        }
    }
}
