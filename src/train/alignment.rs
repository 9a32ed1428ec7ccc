//! Fitting the built-in domain's delta alignment (`models::delta_alignment`): counterfactual
//! render pairs (a portrait and the same portrait with one factor at another value) and their
//! paired captions (the same template, order and phrasing choices, differing in that factor).
//! The text deltas of the captions are regressed onto the image deltas of the renders.
use burn::prelude::*;

use super::codes::renders;
use crate::engine::delta_space::DeltaSpace;
use crate::models::clip::l2_normalize;
use crate::models::delta_alignment::DeltaAlignment;
use crate::world::captions::{TemplateSet, caption_mentioning};
use crate::world::dataset::{held_out_seed, training_seed};
use crate::world::rng::Rng;
use crate::world::{Attributes, Factor, sample_attributes};
use crate::Result;

/// Renders are drawn at the built-in generator's size, so CLIP sees them as it sees syntheses.
const RENDER_SIZE: usize = 64;

/// One portrait before and after a change of one factor, with the captions of both.
#[derive(Clone, Debug)]
pub struct CounterfactualPair {
    pub seed: u64,
    pub before: Attributes,
    pub after: Attributes,
    pub captions: [String; 2],
}

impl CounterfactualPair {
    /// The pair of `seed`'s portrait: a random factor moved to another value, both captions
    /// mentioning it, phrased from `templates`.
    pub fn of(seed: u64, templates: TemplateSet) -> CounterfactualPair {
        let before = sample_attributes(seed);
        let mut rng = Rng::stream(seed, 0x616c_6967);
        let factor = *rng.pick(&Factor::ALL);
        let after = before.with_other_value(factor, &mut rng);
        let captions = [before, after].map(|a| caption_mentioning(&a, seed, templates, factor));
        CounterfactualPair { seed, before, after, captions }
    }
}

/// `n` pairs of training renders (run `seed`) phrased with the training templates.
pub fn training_pairs(seed: u64, n: usize) -> Vec<CounterfactualPair> {
    (0..n as u64).map(|i| CounterfactualPair::of(training_seed(seed, i), TemplateSet::Train)).collect()
}

/// `n` pairs of held-out renders phrased with the held-out templates.
pub fn held_out_pairs(n: usize) -> Vec<CounterfactualPair> {
    (0..n as u64).map(|i| CounterfactualPair::of(held_out_seed(i), TemplateSet::HeldOut)).collect()
}

/// Image deltas f(after) − f(before) of `portraits` [N, E] (not normalised), `batch` renders at a
/// time.
pub fn image_deltas(space: &DeltaSpace, portraits: &[(u64, Attributes, Attributes)], batch: usize, device: &Device) -> Result<Tensor<2>> {
    let mut rows = Vec::new();
    for chunk in portraits.chunks(batch.max(1)) {
        let before = space.image_features(renders(chunk.iter().map(|p| (p.0, p.1)), RENDER_SIZE, device))?;
        let after = space.image_features(renders(chunk.iter().map(|p| (p.0, p.2)), RENDER_SIZE, device))?;
        rows.push(after - before);
    }
    Ok(Tensor::cat(rows, 0))
}

/// CLIP's own text deltas (no alignment) of the pairs' captions [N, E].
pub fn caption_deltas(space: &DeltaSpace, pairs: &[CounterfactualPair]) -> Result<Tensor<2>> {
    let rows = pairs.iter().map(|p| space.clip_text_delta(&p.captions[0], &p.captions[1])).collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(rows, 0))
}

/// Text and image deltas of `pairs`.
pub fn deltas(space: &DeltaSpace, pairs: &[CounterfactualPair], batch: usize, device: &Device) -> Result<(Tensor<2>, Tensor<2>)> {
    let portraits: Vec<_> = pairs.iter().map(|p| (p.seed, p.before, p.after)).collect();
    Ok((caption_deltas(space, pairs)?, image_deltas(space, &portraits, batch, device)?))
}

/// Mean cosine between matching rows.
pub fn mean_cosine(a: Tensor<2>, b: Tensor<2>) -> f32 {
    (l2_normalize(a) * l2_normalize(b)).sum_dim(1).mean().into_scalar::<f32>()
}

/// How well text deltas point along image deltas, without and with the alignment.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct AlignmentCosines {
    pub clip: f32,
    pub aligned: f32,
}

impl AlignmentCosines {
    pub fn of(alignment: &DeltaAlignment, text: Tensor<2>, image: Tensor<2>) -> AlignmentCosines {
        AlignmentCosines { clip: mean_cosine(text.clone(), image.clone()), aligned: mean_cosine(alignment.apply(text), image) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::clip::ClipConfig;

    #[test]
    fn pairs_change_one_factor_and_their_captions_say_it() {
        for pair in training_pairs(3, 40).iter().chain(&held_out_pairs(10)) {
            let changed: Vec<Factor> = Factor::ALL.into_iter().filter(|&f| pair.before.get(f) != pair.after.get(f)).collect();
            assert_eq!(changed.len(), 1, "{pair:?}");
            assert_ne!(pair.captions[0], pair.captions[1], "{pair:?}");
        }
        assert_eq!(training_pairs(3, 5)[4].captions, training_pairs(3, 5)[4].captions, "deterministic");
    }

    #[test]
    fn a_fit_on_pairs_aligns_better_than_clip_on_its_own_data() {
        let device = Device::flex();
        let config = ClipConfig::tiny();
        let space = DeltaSpace::new(config.init(&device), config, crate::engine::delta_space::Domain::Builtin, &device).unwrap();
        let (text, image) = deltas(&space, &training_pairs(0, 64), 16, &device).unwrap();
        assert_eq!(text.dims(), [64, 8]);
        assert_eq!(image.dims(), [64, 8]);
        let alignment = DeltaAlignment::fit(text.clone(), image.clone(), 0.01).unwrap();
        let cosines = AlignmentCosines::of(&alignment, text, image);
        assert!(cosines.aligned > cosines.clip + 0.1, "{cosines:?}");
    }
}
