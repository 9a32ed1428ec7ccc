//! EqualLinear (equalized learning rate): the raw parameters are stored as trained and scaled at
//! run time, `y = x · (W · lr_mul/√in)ᵀ + b · lr_mul`, optionally followed by the fused leaky ReLU.
//! Keeping the raw values makes training from scratch behave like the official code.
use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;

use super::activation::fused_leaky_relu;

#[derive(Module, Debug)]
pub struct EqualLinear {
    /// Raw weight, PyTorch layout `[out, in]`.
    pub weight: Param<Tensor<2>>,
    /// Raw bias `[out]`.
    pub bias: Param<Tensor<1>>,
    pub lr_mul: f64,
    /// `activation="fused_lrelu"` in rosinality.
    pub fused_lrelu: bool,
}

impl EqualLinear {
    /// rosinality's init: `W ~ N(0, 1)/lr_mul`, `b = bias_init`.
    pub fn init(
        in_dim: usize,
        out_dim: usize,
        bias_init: f64,
        lr_mul: f64,
        fused_lrelu: bool,
        device: &Device,
    ) -> Self {
        EqualLinear {
            weight: Initializer::Normal { mean: 0.0, std: 1.0 / lr_mul }.init([out_dim, in_dim], device),
            bias: Initializer::Constant { value: bias_init }.init([out_dim], device),
            lr_mul,
            fused_lrelu,
        }
    }

    pub fn in_dim(&self) -> usize {
        self.weight.val().dims()[1]
    }

    /// `[B, in] → [B, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let scale = self.lr_mul / (self.in_dim() as f64).sqrt();
        let y = x.matmul(self.weight.val().transpose().mul_scalar(scale));
        let bias = self.bias.val().mul_scalar(self.lr_mul);
        if self.fused_lrelu { fused_leaky_relu(y, bias) } else { y + bias.unsqueeze() }
    }
}
