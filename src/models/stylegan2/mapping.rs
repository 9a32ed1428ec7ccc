//! The mapping network z → w: PixelNorm, then `n_mlp` EqualLinear layers with `lr_mul = lr_mlp`
//! and the fused leaky ReLU (rosinality `Generator.style`, keys `style.1 … style.{n_mlp}`; index 0
//! is the parameter-free PixelNorm).
use burn::prelude::*;

use crate::models::layers::{EqualLinear, EqualLinearConfig, pixel_norm};

#[derive(Module, Debug)]
pub struct MappingNetwork {
    /// `style.1 … style.{n_mlp}`.
    pub layers: Vec<EqualLinear>,
}

impl MappingNetwork {
    pub fn init(style_dim: usize, n_mlp: usize, lr_mlp: f64, device: &Device) -> Self {
        let layer = EqualLinearConfig::new(style_dim, style_dim).with_lr_mul(lr_mlp).with_fused_lrelu(true);
        let layers = (0..n_mlp).map(|_| layer.init(device)).collect();
        MappingNetwork { layers }
    }

    /// `z [B, style_dim] → w [B, style_dim]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.layers.iter().fold(pixel_norm(z), |x, layer| layer.forward(x))
    }
}

/// The truncation trick, `w' = w_avg + ψ · (w − w_avg)` (`latent_avg` is the mean w); like
/// rosinality, `ψ = 1` returns w untouched.
pub fn truncate(w: Tensor<2>, latent_avg: Tensor<1>, psi: f64) -> Tensor<2> {
    if psi == 1.0 {
        return w;
    }
    let avg: Tensor<2> = latent_avg.unsqueeze();
    avg.clone() + (w - avg).mul_scalar(psi)
}
