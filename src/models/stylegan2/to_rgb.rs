//! ToRGB: a modulated 1×1 conv to 3 channels without demodulation, plus a bias, plus the previous
//! resolution's RGB up-sampled ×2 (the skip architecture of StyleGAN2).
use burn::module::Param;
use burn::prelude::*;

use super::modulated_conv::ModulatedConv2d;
use super::upfirdn::Upsample;

#[derive(Module, Debug)]
pub struct ToRGB {
    pub conv: ModulatedConv2d,
    /// `[1, 3, 1, 1]`.
    pub bias: Param<Tensor<4>>,
    /// Absent for `to_rgb1` (4×4, no skip).
    pub upsample: Option<Upsample>,
}

impl ToRGB {
    pub fn init(in_channels: usize, style_dim: usize, upsample: bool, device: &Device) -> Self {
        ToRGB {
            conv: ModulatedConv2d::init(in_channels, 3, 1, style_dim, false, false, device),
            bias: Param::from_tensor(Tensor::zeros([1, 3, 1, 1], device)),
            upsample: upsample.then(|| Upsample::new(device)),
        }
    }

    /// `skip` is the RGB of the previous resolution (required when this layer up-samples).
    pub fn forward(&self, x: Tensor<4>, style: Tensor<2>, skip: Option<Tensor<4>>) -> Tensor<4> {
        let out = self.conv.forward(x, style, 1.0, Some(self.bias.val().reshape([3])));
        match (skip, &self.upsample) {
            (Some(skip), Some(upsample)) => out + upsample.forward(skip),
            (None, None) => out,
            _ => panic!("the skip input and the ToRGB's up-sampling go together"),
        }
    }
}
