//! DeltaEdit-G (paper 000, §3–4.1): a text edit becomes an S-space direction Δs.
//!
//! - DeltaEdit: the Delta Mapper reads the source S code and the condition
//!   [image feature ‖ normalised text delta] (the delta first projected onto the mapper's delta
//!   subspace when its file has one, and Δs then onto its edit subspace); channels whose
//!   relevance to the text delta is below β are zeroed (`GetBoundary`: |fs3 · Δt| < β, with the
//!   raw Δt).
//! - Straightforward (Table I baseline): a mapper trained on target *image* features reads the
//!   target *text* feature in place of the delta (Δs projected onto its file's edit subspace
//!   likewise).
//! - Global direction (StyleCLIP): Δs from the relevance matrix alone: r = fs3 · Δt, channels with
//!   |r| < β zeroed, r / max|r| scaled by each channel's standard deviation.
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::delta_space::condition;
use super::models::GanBase;
use crate::models::delta_mapper::{DeltaMapper, MapperSubspaces};
use crate::Result;

/// How a text edit becomes Δs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    #[value(name = "deltaedit")]
    DeltaEdit,
    Straightforward,
    Global,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::DeltaEdit => "deltaedit",
            Method::Straightforward => "straightforward",
            Method::Global => "global",
        }
    }
}

/// One text edit: what to change, how much, how selectively.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextEdit {
    /// The neutral description; `None` takes the domain's neutral prompt.
    pub source: Option<String>,
    pub target: String,
    /// Multiplies Δs; 0 is the reconstruction, 1 the mapper's prediction.
    pub strength: f32,
    /// Relevance threshold: channels with |fs3 · Δt| < β are left alone; 0 keeps all.
    pub beta: f32,
}

/// The model that turns a text delta into Δs.
pub enum DirectionModel {
    /// The mapper and the spans its file carries.
    DeltaEdit { mapper: DeltaMapper, subspaces: MapperSubspaces },
    /// The mapper and the spans its file carries (of which it uses the edit span only: it reads
    /// target features, not deltas).
    Straightforward { mapper: DeltaMapper, subspaces: MapperSubspaces },
    /// Per-channel standard deviation of S ([1, S dims]).
    Global { s_std: Tensor<2> },
}

impl DirectionModel {
    pub fn method(&self) -> Method {
        match self {
            DirectionModel::DeltaEdit { .. } => Method::DeltaEdit,
            DirectionModel::Straightforward { .. } => Method::Straightforward,
            DirectionModel::Global { .. } => Method::Global,
        }
    }
}

/// Δs of one (source, target) pair on one image, before β and strength.
#[derive(Clone, Debug)]
pub struct Direction {
    /// [1, S dims]
    pub delta_s: Tensor<2>,
    /// |fs3 · Δt| per S channel, [1, S dims].
    pub relevance: Tensor<2>,
    /// Global directions are masked and normalised by β themselves (StyleCLIP); the mapper's are
    /// masked afterwards.
    pub global: bool,
}

impl Direction {
    /// Δs with the channels under `beta` zeroed (strength not applied).
    pub fn masked(&self, beta: f32) -> Tensor<2> {
        if self.global {
            let r = self.delta_s.clone() * self.relevance.clone().greater_equal_elem(beta).float();
            let peak = r.clone().abs().max().clamp_min(1e-12).unsqueeze::<2>();
            return r / peak;
        }
        self.delta_s.clone() * self.relevance.clone().greater_equal_elem(beta).float()
    }
}

/// Computes the direction of `source → target` for an image with S code `s` ([1, S]) and unit
/// CLIP image feature `image_feature` ([1, E]).
pub fn direction(
    base: &GanBase,
    model: &DirectionModel,
    relevance_matrix: &Tensor<2>,
    s: Tensor<2>,
    image_feature: Tensor<2>,
    source: &str,
    target: &str,
) -> Result<Direction> {
    let space = &base.delta_space;
    let delta_t = space.text_delta(source, target)?;
    let projection = delta_t.clone().matmul(relevance_matrix.clone().transpose());
    let relevance = projection.clone().abs();
    let (delta_s, global) = match model {
        DirectionModel::DeltaEdit { mapper, subspaces } => {
            (subspaces.project_edit(mapper.forward(s, condition(image_feature, delta_t, subspaces.delta.as_ref()))), false)
        }
        DirectionModel::Straightforward { mapper, subspaces } => {
            let target_feature = space.text_features(&[target])?;
            (subspaces.project_edit(mapper.forward(s, Tensor::cat(vec![image_feature, target_feature], 1))), false)
        }
        DirectionModel::Global { s_std } => (projection * s_std.clone(), true),
    };
    Ok(Direction { delta_s, relevance, global })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::models::{GanModels, tiny_models};
    use crate::models::delta_mapper::DeltaSubspace;

    #[test]
    fn the_mapper_reads_only_the_text_delta_inside_the_subspace() {
        let device = Device::flex();
        let mut models = tiny_models(Method::DeltaEdit, &device);
        let space = &models.base.delta_space;
        let (a, b) = (space.text_delta("a face", "a face with a smile").unwrap(), space.text_delta("a face", "a bald face").unwrap());
        // One direction orthogonal to the deltas' difference: both deltas project to the same
        // vector on it (a + b with its component along a − b removed).
        let (a, b) = (a.into_data().try_to_vec::<f32>().unwrap(), b.into_data().try_to_vec::<f32>().unwrap());
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        let difference: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p - q).collect();
        let sum: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p + q).collect();
        let k = dot(&sum, &difference) / dot(&difference, &difference);
        let v: Vec<f32> = sum.iter().zip(&difference).map(|(x, d)| x - k * d).collect();
        let norm = dot(&v, &v).sqrt();
        let basis = Tensor::<2>::from_data(TensorData::new(v.iter().map(|x| x / norm).collect::<Vec<_>>(), [1, 8]), &device);
        let s = Tensor::<2>::random([1, models.base.s_dim()], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let feature = crate::models::clip::l2_normalize(Tensor::<2>::random([1, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &device));
        let edit = |models: &GanModels, target: &str| {
            let d = direction(&models.base, &models.direction, &models.relevance, s.clone(), feature.clone(), "a face", target).unwrap();
            d.delta_s.into_data().try_to_vec::<f32>().unwrap()
        };
        let max_difference = |x: Vec<f32>, y: Vec<f32>| x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
        let without = max_difference(edit(&models, "a face with a smile"), edit(&models, "a bald face"));
        assert!(without > 1e-4, "different prompts give different edits without a subspace ({without})");
        let DirectionModel::DeltaEdit { subspaces, .. } = &mut models.direction else { unreachable!() };
        subspaces.delta = Some(DeltaSubspace { basis });
        let with = max_difference(edit(&models, "a face with a smile"), edit(&models, "a bald face"));
        assert!(with < 1e-3 * without, "both deltas project to the same vector, so they edit alike ({with} vs {without})");
    }

    #[test]
    fn the_edit_is_the_mappers_delta_projected_onto_the_edit_subspace() {
        let device = Device::flex();
        for method in [Method::DeltaEdit, Method::Straightforward] {
            let mut models = tiny_models(method, &device);
            let s_dim = models.base.s_dim();
            let s = Tensor::<2>::random([1, s_dim], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
            let feature = crate::models::clip::l2_normalize(Tensor::<2>::random([1, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &device));
            let edit = |models: &GanModels| {
                direction(&models.base, &models.direction, &models.relevance, s.clone(), feature.clone(), "a face", "a face with a smile").unwrap().delta_s
            };
            let free = edit(&models);
            let span = DeltaSubspace::fit(Tensor::random([10, s_dim], burn::tensor::Distribution::Normal(0.0, 1.0), &device), 3).unwrap();
            let (DirectionModel::DeltaEdit { subspaces, .. } | DirectionModel::Straightforward { subspaces, .. }) = &mut models.direction else { unreachable!() };
            subspaces.edit = Some(span.clone());
            let inside = edit(&models);
            let expected = free.clone().matmul(span.basis.clone().transpose()).matmul(span.basis.clone());
            inside.clone().into_data().assert_approx_eq::<f32>(&expected.into_data(), burn::tensor::Tolerance::absolute(1e-5));
            let (kept, full) = (inside.square().sum().into_scalar::<f32>(), free.square().sum().into_scalar::<f32>());
            assert!(kept > 0.0 && kept < 0.5 * full, "{method:?}: 3 of {s_dim} directions keep a small part of a random Δs ({kept} of {full})");
        }
    }
}
