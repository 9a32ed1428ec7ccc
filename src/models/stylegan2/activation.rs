//! rosinality's fused leaky ReLU: `leaky_relu(x + bias, 0.2) · √2`. The √2 keeps the activations'
//! second moment at 1 (equalized learning rate).
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

pub const NEGATIVE_SLOPE: f64 = 0.2;
pub const SCALE: f64 = std::f64::consts::SQRT_2;

/// `leaky_relu(x + bias, 0.2) · √2`, the bias broadcast over dim 1 (channels or features).
pub fn fused_leaky_relu<const D: usize>(x: Tensor<D>, bias: Tensor<1>) -> Tensor<D> {
    let mut shape = [1; D];
    shape[1] = bias.dims()[0];
    leaky_relu(x + bias.reshape(shape), NEGATIVE_SLOPE).mul_scalar(SCALE)
}

/// The activation of a styled conv: its per-channel bias (key `activate.bias`); applied by
/// [`StyledConv`](super::styled_conv::StyledConv) as `fused_leaky_relu(x, bias)`.
#[derive(Module, Debug)]
pub struct FusedLeakyReLU {
    pub bias: Param<Tensor<1>>,
}

impl FusedLeakyReLU {
    pub fn init(channels: usize, device: &Device) -> Self {
        FusedLeakyReLU { bias: Param::from_tensor(Tensor::zeros([channels], device)) }
    }
}
