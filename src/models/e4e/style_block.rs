//! `GradualStyleBlock`: a feature map → one w vector.
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use crate::models::layers::{EqualLinear, EqualLinearConfig};

/// `nn.LeakyReLU()`'s default slope (not StyleGAN's 0.2).
const LEAKY_SLOPE: f64 = 0.01;

/// log2(spatial) × [Conv3×3 stride 2 (with bias) + LeakyReLU(0.01)] down to 1×1, then
/// `EqualLinear(out, out)`. The convs are the official `convs.{0,2,4,…}` (LeakyReLUs take the odd
/// slots of the `nn.Sequential`).
#[derive(Module, Debug)]
pub struct GradualStyleBlock {
    pub convs: Vec<Conv2d>,
    pub linear: EqualLinear,
}

impl GradualStyleBlock {
    pub fn new(c_in: usize, c_out: usize, spatial: usize, device: &Device) -> Self {
        let n_convs = spatial.ilog2() as usize;
        let convs = (0..n_convs)
            .map(|i| {
                Conv2dConfig::new([if i == 0 { c_in } else { c_out }, c_out], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        Self { convs, linear: EqualLinearConfig::new(c_out, c_out).init(device) }
    }

    /// Index of `convs[i]` in the official `nn.Sequential`.
    pub fn sequential_index(i: usize) -> usize {
        2 * i
    }

    /// [B, C, spatial, spatial] → [B, out].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.convs.iter().fold(x, |x, conv| leaky_relu(conv.forward(x), LEAKY_SLOPE));
        let [batch, channels, _, _] = x.dims();
        self.linear.forward(x.reshape([batch, channels]))
    }
}
