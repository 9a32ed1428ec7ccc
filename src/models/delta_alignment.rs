//! Delta alignment (ours, not in the paper): a linear map that carries CLIP text deltas to where
//! the image deltas of the same change point.
//!
//! DeltaEdit trains its mapper on image deltas and feeds it text deltas, trusting CLIP to align
//! the two (paper 000, §3.1). A small CLIP trained for minutes aligns them only in part (mean
//! cosine 0.46 on the built-in domain), so the built-in domain fits W by ridge regression on
//! counterfactual render pairs and their paired captions: Δi ≈ Δt W, both unit rows. The mapper
//! stays text-free; only the text delta it is given at inference changes.
use burn::prelude::*;

use crate::models::clip::l2_normalize;
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct DeltaAlignment {
    /// W [E, E]: a text delta row times W is its image-delta estimate.
    pub text_to_image: Tensor<2>,
}

/// Singular-value sweeps for the [E, E] normal matrix: far more than a symmetric 512² needs.
const SVD_SWEEPS: usize = 60;

impl DeltaAlignment {
    /// Ridge regression of the unit rows of `image_deltas` [N, E] on the unit rows of
    /// `text_deltas` [N, E]: W = (XᵀX + λ·mean(diag XᵀX)·I)⁻¹ XᵀY, `ridge` = λ relative to the
    /// mean eigenvalue, so it means the same for any N.
    pub fn fit(text_deltas: Tensor<2>, image_deltas: Tensor<2>, ridge: f32) -> Result<DeltaAlignment> {
        let [n, e] = text_deltas.dims();
        if image_deltas.dims() != [n, e] || n == 0 || ridge.is_nan() || ridge <= 0.0 {
            return Err(Error::Invalid(format!(
                "delta alignment: {n} text deltas {:?}, image deltas {:?}, ridge {ridge} (must be > 0)",
                text_deltas.dims(),
                image_deltas.dims()
            )));
        }
        let x = l2_normalize(text_deltas);
        let y = l2_normalize(image_deltas);
        let normal = x.clone().transpose().matmul(x.clone());
        let shrink = burn::linalg::trace::<2, 1>(normal.clone()).into_scalar::<f32>() / e as f32 * ridge;
        // XᵀX is symmetric positive semi-definite: U = V, and the shift only moves its eigenvalues.
        let (u, s, _) = burn::linalg::svd::<2, 1>(normal, SVD_SWEEPS);
        let inverse = u.clone().mul((s + shrink).recip().unsqueeze_dim(0)).matmul(u.transpose());
        Ok(DeltaAlignment { text_to_image: inverse.matmul(x.transpose().matmul(y)) })
    }

    /// `delta` [B, E] carried into image-delta space, each row keeping its length (so that the
    /// relevance threshold β reads it as it reads a raw text delta).
    pub fn apply(&self, delta: Tensor<2>) -> Tensor<2> {
        let norm = delta.clone().square().sum_dim(1).sqrt();
        l2_normalize(delta.matmul(self.text_to_image.clone())) * norm
    }

    pub fn to_device(&self, device: &Device) -> DeltaAlignment {
        DeltaAlignment { text_to_image: self.text_to_image.clone().to_device(device) }
    }

    /// CLIP width E.
    pub fn width(&self) -> usize {
        self.text_to_image.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tolerance};

    use super::*;

    #[test]
    fn a_fit_recovers_a_known_rotation_and_keeps_lengths() {
        let device = Device::flex();
        // A signed permutation: unit text rows map to unit image rows, so the fit is exact up to
        // the ridge's shrinkage, which `apply` normalises away.
        let mut rotation = vec![0.0f32; 36];
        for (row, (col, sign)) in [(2, 1.0), (0, -1.0), (5, 1.0), (1, 1.0), (4, -1.0), (3, 1.0)].into_iter().enumerate() {
            rotation[row * 6 + col] = sign;
        }
        let rotation = Tensor::<2>::from_data(TensorData::new(rotation, [6, 6]), &device);
        let text = Tensor::<2>::random([400, 6], Distribution::Normal(0.0, 1.0), &device);
        let image = text.clone().matmul(rotation.clone()) * 5.0;
        let alignment = DeltaAlignment::fit(text, image, 1e-4).unwrap();
        assert_eq!(alignment.width(), 6);

        let probe = Tensor::<2>::random([20, 6], Distribution::Normal(0.0, 3.0), &device);
        let mapped = alignment.apply(probe.clone());
        mapped.into_data().assert_approx_eq::<f32>(&probe.matmul(rotation).into_data(), Tolerance::absolute(1e-2));
    }

    #[test]
    fn a_fit_refuses_mismatched_rows_and_a_non_positive_ridge() {
        let device = Device::flex();
        let a = Tensor::<2>::random([10, 4], Distribution::Normal(0.0, 1.0), &device);
        assert!(DeltaAlignment::fit(a.clone(), a.clone().slice([0..9]), 0.1).is_err());
        assert!(DeltaAlignment::fit(a.clone(), a.clone(), 0.0).is_err());
        assert!(DeltaAlignment::fit(a.clone(), a, 0.1).is_ok());
    }
}
