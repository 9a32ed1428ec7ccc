//! Fitting the built-in domain's delta alignment (`models::delta_alignment`): counterfactual
//! render pairs (a portrait and the same portrait with one factor at another value) and their
//! paired captions (the same template, order and phrasing choices, differing in that factor).
//! The text deltas of the captions are regressed onto the image deltas of the renders.
use burn::prelude::*;

use super::codes::renders;
use super::mapper::mean_delta_per_value;
use crate::engine::delta_space::DeltaSpace;
use crate::models::clip::l2_normalize;
use crate::models::delta_alignment::DeltaAlignment;
use crate::world::captions::{NEUTRAL, TemplateSet, caption_mentioning, caption_saying_only};
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

/// One-sided deltas, as an edit from the neutral prompt makes them: per pair, the text delta from
/// [`NEUTRAL`] to a caption saying only the pair's new value, and as its image delta the mean unit
/// image delta of all `pairs` ending at that value (`image_deltas`, their rows), which says where
/// an edit goes and not where it starts.
pub fn one_sided_deltas(space: &DeltaSpace, pairs: &[CounterfactualPair], image_deltas: Tensor<2>) -> Result<(Tensor<2>, Tensor<2>)> {
    let [n, width] = image_deltas.dims();
    let device = image_deltas.device();
    let unit: Vec<f32> = l2_normalize(image_deltas).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
    let ends: Vec<(Factor, usize)> = pairs.iter().map(changed_value).collect();
    let means = mean_delta_per_value(ends.iter().copied().zip(unit.chunks(width).map(<[f32]>::to_vec)));
    let targets: Vec<f32> = ends.iter().flat_map(|end| means[end].iter().copied()).collect();
    let texts = pairs
        .iter()
        .zip(&ends)
        .map(|(p, &(factor, _))| space.clip_text_delta(NEUTRAL, &caption_saying_only(&p.after, p.seed, TemplateSet::Train, factor)))
        .collect::<Result<Vec<_>>>()?;
    Ok((Tensor::cat(texts, 0), Tensor::from_data(TensorData::new(targets, [n, width]), &device)))
}

/// The factor a pair changes and its value after.
fn changed_value(pair: &CounterfactualPair) -> (Factor, usize) {
    pair.before.changes_to(&pair.after)[0]
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
            assert_eq!(pair.before.changes_to(&pair.after).len(), 1, "{pair:?}");
            assert_ne!(pair.captions[0], pair.captions[1], "{pair:?}");
        }
        assert_eq!(training_pairs(3, 5)[4].captions, training_pairs(3, 5)[4].captions, "deterministic");
    }

    #[test]
    fn one_sided_deltas_start_neutral_and_share_the_mean_image_delta_of_their_value() {
        let device = Device::flex();
        let config = ClipConfig::tiny();
        let space = DeltaSpace::new(config.init(&device), config, crate::engine::delta_space::Domain::Builtin, &device).unwrap();
        let pairs = training_pairs(0, 48);
        let image = Tensor::<2>::random([48, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let (text, targets) = one_sided_deltas(&space, &pairs, image.clone()).unwrap();
        assert_eq!((text.dims(), targets.dims()), ([48, 8], [48, 8]));
        let rows = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap().chunks(8).map(<[f32]>::to_vec).collect::<Vec<_>>();
        let (unit, targets) = (rows(l2_normalize(image)), rows(targets));
        for (i, pair) in pairs.iter().enumerate() {
            let same_end: Vec<usize> = (0..pairs.len()).filter(|&j| changed_value(&pairs[j]) == changed_value(pair)).collect();
            let mean: Vec<f32> = (0..8).map(|c| same_end.iter().map(|&j| unit[j][c]).sum::<f32>() / same_end.len() as f32).collect();
            assert!(mean.iter().zip(&targets[i]).all(|(a, b)| (a - b).abs() < 1e-5), "pair {i}");
            let (factor, _) = changed_value(pair);
            let caption = crate::world::captions::caption_saying_only(&pair.after, pair.seed, TemplateSet::Train, factor);
            let expected = space.clip_text_delta(NEUTRAL, &caption).unwrap();
            text.clone().slice(i..i + 1).into_data().assert_approx_eq::<f32>(&expected.into_data(), Default::default());
        }
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
