//! ModulatedConv2d: a conv whose input channels are scaled per sample by a style
//! `s = modulation(w)` and whose output channels are re-normalised (demodulated):
//!
//!   W'[b,o,i] = W[o,i] · c · s[b,i],   c = 1/√(in·k²)
//!   W''[b,o,i] = W'[b,o,i] · d[b,o],   d[b,o] = rsqrt(Σ_{i,kh,kw} W'[b,o,i]² + 1e-8)
//!
//! rosinality applies W'' with a grouped conv (groups = batch). We use its equivalent non-grouped
//! form (`fused=False`): scale the input by s, run one shared-weight conv over the batch, scale
//! the output by d. With `upsample` the conv is a stride-2 transposed conv followed by the
//! [1,3,3,1] blur (both linear per channel, so d can be applied after them). For a single sample
//! the per-sample weight W'' is just a conv weight, and modulating it is the cheaper form.
use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

use super::upfirdn::Blur;
use crate::models::layers::{EqualLinear, EqualLinearConfig};

pub const DEMODULATION_EPS: f64 = 1e-8;

#[derive(Module, Debug)]
pub struct ModulatedConv2d {
    /// `[out, in, k, k]` (the checkpoint stores `[1, out, in, k, k]`).
    pub weight: Param<Tensor<4>>,
    /// `EqualLinear(style_dim, in, bias_init=1)`: w → s.
    pub modulation: EqualLinear,
    pub demodulate: bool,
    /// Present for the up-sampling conv (stride-2 transposed conv + blur).
    pub blur: Option<Blur>,
}

impl ModulatedConv2d {
    pub fn init(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        style_dim: usize,
        demodulate: bool,
        upsample: bool,
        device: &Device,
    ) -> Self {
        ModulatedConv2d {
            weight: Initializer::Normal { mean: 0.0, std: 1.0 }
                .init([out_channels, in_channels, kernel_size, kernel_size], device),
            modulation: EqualLinearConfig::new(style_dim, in_channels).with_bias_init(1.0).init(device),
            demodulate,
            blur: upsample.then(|| Blur::for_upsampling_conv(kernel_size, device)),
        }
    }

    /// The style of this layer: `s = modulation(w)`, `[B, style_dim] → [B, in]`.
    pub fn style(&self, w: Tensor<2>) -> Tensor<2> {
        self.modulation.forward(w)
    }

    /// `gain · conv(x) + bias` for the conv modulated by `style` (`[B, in]`, a modulation output or
    /// an S-space code); `bias` is `[out]`. The gain and bias are folded into the conv's weights and
    /// epilogue rather than applied as extra passes over the activations.
    pub fn forward(&self, x: Tensor<4>, style: Tensor<2>, gain: f64, bias: Option<Tensor<1>>) -> Tensor<4> {
        let [batch, in_channels, _, _] = x.dims();
        let [out_channels, _, k, _] = self.weight.val().dims();
        let weight = self.weight.val().mul_scalar(1.0 / ((in_channels * k * k) as f64).sqrt());
        let out_scale = if self.demodulate {
            demodulation(weight.clone(), style.clone()).mul_scalar(gain)
        } else {
            Tensor::full([batch, out_channels], gain, &x.device())
        };
        if batch == 1 {
            // One sample: modulate the weight (out·in·k² values) instead of the activations
            // (in·H·W values); this is rosinality's fused form, without groups.
            let weight = weight * style.reshape([1, in_channels, 1, 1]) * out_scale.reshape([out_channels, 1, 1, 1]);
            self.conv(x, weight, bias)
        } else {
            let x = x * style.reshape([batch, in_channels, 1, 1]);
            let out = self.conv(x, weight, None) * out_scale.reshape([batch, out_channels, 1, 1]);
            match bias {
                Some(bias) => out + bias.reshape([1, out_channels, 1, 1]),
                None => out,
            }
        }
    }

    /// The shared-weight conv: stride-2 transposed conv + blur when up-sampling.
    fn conv(&self, x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
        let k = weight.dims()[2];
        match &self.blur {
            Some(blur) => {
                let options = ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1);
                blur.forward(conv_transpose2d(x, weight.swap_dims(0, 1), None, options), bias)
            }
            None => conv2d(x, weight, bias, ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1)),
        }
    }
}

/// `d[b,o] = rsqrt(Σ_i s[b,i]² · Σ_{kh,kw} W[o,i]² + 1e-8)` as `[B, out]`.
fn demodulation(weight: Tensor<4>, style: Tensor<2>) -> Tensor<2> {
    let [out_channels, in_channels, _, _] = weight.dims();
    let weight_energy = weight.square().sum_dims(&[2, 3]).reshape([out_channels, in_channels]);
    let energy = style.square().matmul(weight_energy.transpose());
    energy.add_scalar(DEMODULATION_EPS).sqrt().recip()
}
