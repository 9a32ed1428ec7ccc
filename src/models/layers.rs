//! StyleGAN2-family building blocks (rosinality's `EqualLinear`, `PixelNorm`, `fused_leaky_relu`),
//! shared by the e4e encoder, the Delta Mapper and the generator.
//!
//! Weights are stored raw and scaled at run time ("equalized learning rate"), exactly like the
//! official code, so checkpoints load unchanged and training from scratch behaves the same.
use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

/// √2: the gain of the fused leaky ReLU; it keeps the activations' second moment at 1.
pub const LRELU_GAIN: f64 = std::f64::consts::SQRT_2;
pub const LRELU_SLOPE: f64 = 0.2;

/// `leaky_relu(x + bias, 0.2) · √2`, the bias on the last dimension (DeltaEdit's `fused_leaky_relu`
/// for [B, N, C] inputs, and rosinality's for [B, C]).
pub fn fused_leaky_relu<const D: usize>(x: Tensor<D>, bias: Tensor<1>) -> Tensor<D> {
    leaky_relu(x + bias.unsqueeze(), LRELU_SLOPE).mul_scalar(LRELU_GAIN)
}

/// The learned bias of a fused leaky ReLU over channels (rosinality's `FusedLeakyReLU`, key
/// `activate.bias` in a styled conv). The StyleGAN2 styled conv folds it, and the √2, into its conv.
#[derive(Module, Debug)]
pub struct FusedLeakyReLU {
    pub bias: Param<Tensor<1>>,
}

impl FusedLeakyReLU {
    pub fn init(channels: usize, device: &Device) -> Self {
        FusedLeakyReLU { bias: Param::from_tensor(Tensor::zeros([channels], device)) }
    }
}

/// PixelNorm: `x · rsqrt(mean(x², dim 1) + 1e-8)`. Always over dim 1, whatever the rank (on a
/// [B, N, C] input it normalises each channel across the N rows, as the official code does).
pub fn pixel_norm<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let inv_rms = x.clone().powi_scalar(2).mean_dim(1).add_scalar(1e-8).sqrt().recip();
    x * inv_rms
}

#[derive(Config, Debug)]
pub struct EqualLinearConfig {
    pub d_input: usize,
    pub d_output: usize,
    #[config(default = 0.0)]
    pub bias_init: f64,
    /// Learning-rate multiplier: the raw weight is initialised ~ N(0, 1/lr_mul²) and scaled by
    /// `lr_mul/√d_input` at run time; the raw bias is scaled by `lr_mul`.
    #[config(default = 1.0)]
    pub lr_mul: f64,
    /// `activation="fused_lrelu"` in the official code.
    #[config(default = false)]
    pub fused_lrelu: bool,
}

/// rosinality's `EqualLinear`: `y = x · (W·lr_mul/√in)ᵀ + b·lr_mul`, optionally through the fused
/// leaky ReLU. `weight` keeps PyTorch's [out, in] layout.
#[derive(Module, Debug)]
pub struct EqualLinear {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
    pub lr_mul: f64,
    pub fused_lrelu: bool,
}

impl EqualLinearConfig {
    pub fn init(&self, device: &Device) -> EqualLinear {
        let weight = Initializer::Normal { mean: 0.0, std: 1.0 / self.lr_mul }
            .init([self.d_output, self.d_input], device);
        let bias = Initializer::Constant { value: self.bias_init }.init([self.d_output], device);
        EqualLinear { weight, bias, lr_mul: self.lr_mul, fused_lrelu: self.fused_lrelu }
    }
}

impl EqualLinear {
    /// The run-time weight scale `lr_mul / √in`.
    pub fn scale(&self) -> f64 {
        let [_, d_input] = self.weight.lazy_shape().dims();
        self.lr_mul / (d_input as f64).sqrt()
    }

    /// [..., in] → [..., out].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // (x·Wᵀ)·scale equals x·(W·scale)ᵀ and spares a scaled copy of W on every call.
        let y = burn::tensor::module::linear(x, self.weight.val().transpose(), None).mul_scalar(self.scale());
        let bias = self.bias.val().mul_scalar(self.lr_mul);
        if self.fused_lrelu { fused_leaky_relu(y, bias) } else { y + bias.unsqueeze() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn pixel_norm_normalises_over_dim_1() {
        let device = Device::flex();
        // [1, 2, 2]: dim 1 has the rows (3, 4) and (0, 2).
        let x = Tensor::<3>::from_floats([[[3.0, 0.0], [4.0, 2.0]]], &device);
        let y = pixel_norm(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let (a, b) = ((12.5f32 + 1e-8).sqrt(), (2.0f32 + 1e-8).sqrt());
        let expected = [3.0 / a, 0.0 / b, 4.0 / a, 2.0 / b];
        for (got, want) in y.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{y:?} vs {expected:?}");
        }
    }

    #[test]
    fn equal_linear_scales_weight_and_bias_at_run_time() {
        let device = Device::flex();
        let layer = EqualLinear {
            weight: Param::from_data(TensorData::new(vec![1.0f32, -2.0, 3.0, 4.0], [2, 2]), &device),
            bias: Param::from_data(TensorData::new(vec![10.0f32, -100.0], [2]), &device),
            lr_mul: 0.01,
            fused_lrelu: true,
        };
        let x = Tensor::<2>::from_floats([[1.0, 1.0]], &device);
        let y = layer.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let scale = 0.01 / 2f32.sqrt();
        let pre = [(1.0 - 2.0) * scale + 0.1, (3.0 + 4.0) * scale - 1.0];
        let expected: Vec<f32> =
            pre.iter().map(|&v| if v >= 0.0 { v } else { 0.2 * v } * 2f32.sqrt()).collect();
        for (got, want) in y.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-6, "{y:?} vs {expected:?}");
        }
    }
}
