//! StyledConv: modulated 3×3 conv → noise injection → fused leaky ReLU with bias.
use burn::prelude::*;

use super::activation::FusedLeakyReLU;
use super::modulated_conv::ModulatedConv2d;
use super::noise::NoiseInjection;

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

    pub fn forward(&self, x: Tensor<4>, style: Tensor<2>, noise: Tensor<4>) -> Tensor<4> {
        self.activate.forward(self.noise.forward(self.conv.forward(x, style), noise))
    }
}
