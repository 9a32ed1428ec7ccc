//! NoiseInjection: `x + weight · noise`, one learned scalar per layer, noise `[B or 1, 1, H, W]`.
use burn::module::Param;
use burn::prelude::*;

#[derive(Module, Debug)]
pub struct NoiseInjection {
    /// `[1]` (initialised to 0).
    pub weight: Param<Tensor<1>>,
}

impl NoiseInjection {
    pub fn init(device: &Device) -> Self {
        NoiseInjection { weight: Param::from_tensor(Tensor::zeros([1], device)) }
    }

    pub fn forward(&self, x: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        x + noise * self.weight.val().reshape([1, 1, 1, 1])
    }
}
