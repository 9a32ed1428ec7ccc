//! StyledConv: modulated 3×3 conv → noise injection → fused leaky ReLU with bias.
use burn::prelude::*;

use burn::tensor::activation::leaky_relu;

use super::modulated_conv::ModulatedConv2d;
use super::noise::NoiseInjection;
use crate::models::layers::{FusedLeakyReLU, LRELU_GAIN, LRELU_SLOPE};

#[derive(Module, Debug)]
pub struct StyledConv {
    pub conv: ModulatedConv2d,
    pub noise: NoiseInjection,
    pub activate: FusedLeakyReLU,
}

impl StyledConv {
    pub fn init(in_channels: usize, out_channels: usize, style_dim: usize, upsample: bool, device: &Device) -> Self {
        StyledConv {
            conv: ModulatedConv2d::init(in_channels, out_channels, 3, style_dim, true, upsample, device),
            noise: NoiseInjection::init(device),
            activate: FusedLeakyReLU::init(out_channels, device),
        }
    }

    /// `fused_leaky_relu(conv(x) + w_noise·noise, bias) = leaky_relu(conv(x) + w_noise·noise + bias) · √2`.
    /// The leaky ReLU is positively homogeneous, so this is `leaky_relu(√2·conv(x) + √2·bias +
    /// w_noise·(√2·noise))`: the √2 and the bias ride on the conv's weights and epilogue and on the
    /// (single-channel) noise map, saving three passes over the activations.
    pub fn forward(&self, x: Tensor<4>, style: Tensor<2>, noise: Tensor<4>) -> Tensor<4> {
        let bias = self.activate.bias.val().mul_scalar(LRELU_GAIN);
        let out = self.conv.forward(x, style, LRELU_GAIN, Some(bias));
        leaky_relu(self.noise.forward(out, noise.mul_scalar(LRELU_GAIN)), LRELU_SLOPE)
    }
}
