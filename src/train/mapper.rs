//! Text-free training of the Delta Mapper (paper 000 §3.2; official `scripts/train.py` and
//! `datasets/train_dataset.py`).
//!
//! Each sample pairs code i with a partner j drawn uniformly from all codes (j may equal i), or,
//! for a share `twins` of the samples on counterfactual-twin codes, with its twin (a departure
//! from the paper for the built-in domain, whose renderer can change one factor alone). The
//! mapper reads s_i and a condition and is supervised with the target Δs = s_j − s_i by
//! MSE + (1 − cosine). Adam at lr 0.5 on the raw EqualLinear parameters (lr_mul 0.01 scales them
//! at run time), batch 64, no schedule, no weight decay, PyTorch's Adam ε = 1e-8.
//!
//! Conditions ([`MapperKind`]):
//! - DeltaEdit: [c_i ‖ (c_j − c_i)/‖c_j − c_i‖] with unit CLIP image features c (the CLIP
//!   DeltaSpace, §3.2 eq. 3); at inference the text delta replaces the image delta. With a
//!   [`DeltaSubspace`] (ours, `delta_subspace` > 0) the delta is first projected onto the top
//!   principal directions of single-edit image deltas, in training as at inference; an edit
//!   subspace (ours, `edit_subspace` > 0) of the top principal directions of single-edit S
//!   deltas is fitted for inference, where Δs is projected onto it (training it in does not
//!   help, docs/delta_mapper.md, "Edit subspace");
//! - straightforward (§3.1.1, eqs. 1–2, Fig. 3; Table I's "straightforward" row): [c_i ‖ c_j],
//!   the target's own image feature; at inference the target prompt's text feature replaces c_j.
//!   Same network, same loss (the paper trains it "in the same space and supervised by the same
//!   loss functions", §5.2.3).
//!
//! Value deltas (ours, `value_deltas` > 0, DeltaEdit with twins): a text delta from the neutral
//! source says where an edit goes ("towards medium skin"), not where it starts; the image delta of
//! a twin pair says both (light → medium differs from dark → medium). For a share of the twin
//! pairs the condition's delta is the pair's *value delta* instead: the mean unit image delta of
//! all single-change twin pairs that end at the same (factor, value), summed over the pair's
//! changes. The mapper then learns to read the start from the image feature c_i, as it must at
//! inference. Still text-free: the deltas are image deltas grouped by the renderer's changes.
//!
//! Batches are a function of the step index: i walks through a per-epoch permutation of the codes
//! (the official shuffled loader), j comes from a stream seeded by the sample's position.
use std::collections::HashMap;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

use super::codes::LatentCodes;
use super::{Run, Summary, TrainOptions, Trainee};
use crate::engine::delta_space::condition;
use crate::models::delta_mapper::{DeltaMapper, DeltaMapperConfig, DeltaSubspace, MapperSubspaces};
use crate::world::factors::Factor;
use crate::world::rng::Rng;
use crate::{Error, Result};

#[derive(Clone, Debug, serde::Serialize)]
pub struct MapperTraining {
    /// Seeds the pairing (the code source has its own seed).
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub kind: MapperKind,
    /// The share of pairs that are a code and its counterfactual twin (codes 2k, 2k + 1 of
    /// [`super::codes::CodeSource::TrainingTwins`]); 0 for the paper's uniform pairs.
    pub twins: f32,
    /// Directions of the [`DeltaSubspace`] the deltas are projected onto (DeltaEdit only); 0
    /// for none (the paper).
    pub delta_subspace: usize,
    /// Directions of the S-space [`DeltaSubspace`] Δs is projected onto at inference (and in
    /// validation); 0 for none (the paper).
    pub edit_subspace: usize,
    /// The share of twin pairs whose condition reads their value delta (DeltaEdit with twins
    /// only); 0 for their own image delta.
    pub value_deltas: f32,
    /// Weight of the MSE term in the loss (1 in the paper, where the cosine term dominates and
    /// the length of Δs is barely trained).
    pub mse_weight: f32,
}

impl Default for MapperTraining {
    /// The official settings; the step count is the caller's (201,562 for 258k FFHQ codes).
    fn default() -> Self {
        MapperTraining { seed: 0, steps: 20000, batch: 64, lr: 0.5, kind: MapperKind::DeltaEdit, twins: 0.0, delta_subspace: 0, edit_subspace: 0, value_deltas: 0.0, mse_weight: 1.0 }
    }
}

/// Which condition a mapper is trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MapperKind {
    /// DeltaEdit: [c_i ‖ normalise(c_j − c_i)].
    DeltaEdit,
    /// The paper's straightforward baseline: [c_i ‖ c_j].
    Straightforward,
}

/// The condition the mapper is trained with for source features `c_i` and target features `c_j`
/// (unit rows, [B, E]); DeltaEdit deltas projected onto `subspace` when given.
pub fn training_condition(kind: MapperKind, subspace: Option<&DeltaSubspace>, c_i: Tensor<2>, c_j: Tensor<2>) -> Tensor<2> {
    match kind {
        MapperKind::DeltaEdit => condition(c_i.clone(), c_j - c_i, subspace),
        MapperKind::Straightforward => Tensor::cat(vec![c_i, c_j], 1),
    }
}

/// Image pairs a [`DeltaSubspace`] is fitted on.
const SUBSPACE_PAIRS: usize = 4096;

/// The span of `k` directions of the deltas of code pairs, in the space `rows` reads
/// ([`LatentCodes::clip_rows`] or [`LatentCodes::s_rows`]): of twin pairs when the codes are
/// twins (single edits, what text deltas describe), else of uniform pairs.
pub fn fit_delta_subspace(
    codes: &LatentCodes,
    rows: fn(&LatentCodes, &[usize], &Device) -> Tensor<2>,
    twins: bool,
    seed: u64,
    k: usize,
    device: &Device,
) -> Result<DeltaSubspace> {
    let (sources, partners) = PairSampler::with_twins(seed, codes.len, if twins { 1.0 } else { 0.0 }).batch(0, SUBSPACE_PAIRS);
    DeltaSubspace::fit(rows(codes, &partners, device) - rows(codes, &sources, device), k)
}

/// Per twin pair, the mean unit image delta of the single-change twin pairs that end where it
/// ends (summed over its changes) [pairs, E], and which twin samples read it (`cfg.value_deltas`
/// of them, drawn from `cfg.seed`).
pub struct ValueDeltas {
    rows: Vec<f32>,
    width: usize,
    share: f32,
    seed: u64,
}

impl ValueDeltas {
    /// `changes[k]`: the (factor, value) changes from code 2k to 2k + 1 of twin `codes`.
    pub fn fit(codes: &LatentCodes, changes: &[Vec<(Factor, usize)>], cfg: &MapperTraining) -> Result<ValueDeltas> {
        let width = codes.clip_dim;
        if changes.len() * 2 > codes.len {
            return Err(Error::Invalid(format!("value deltas: {} twin pairs but {} codes", changes.len(), codes.len)));
        }
        let delta = |k: usize| -> Vec<f32> {
            let row = |i: usize| &codes.clip[i * width..(i + 1) * width];
            let d: Vec<f32> = row(2 * k + 1).iter().zip(row(2 * k)).map(|(a, b)| a - b).collect();
            let norm = super::l2_norm(&d).max(1e-12);
            d.into_iter().map(|x| x / norm).collect()
        };
        let singles = changes.iter().enumerate().filter_map(|(k, change)| match change[..] {
            [single] => Some((single, delta(k))),
            _ => None,
        });
        let means = mean_delta_per_value(singles);
        let mut rows = Vec::with_capacity(changes.len() * width);
        for change in changes {
            let mut row = vec![0.0f32; width];
            for key in change {
                let mean = means.get(key).ok_or_else(|| {
                    Error::Invalid(format!("value deltas: no single-change twin pair ends at {}={}", key.0.name(), key.1))
                })?;
                row.iter_mut().zip(mean).for_each(|(r, m)| *r += m);
            }
            rows.extend(row);
        }
        Ok(ValueDeltas { rows, width, share: cfg.value_deltas, seed: cfg.seed })
    }

    /// The condition deltas [B, E] of step `step`'s pairs: c_j − c_i, or for a share of the twin
    /// pairs (drawn from the step, so a resumed run draws the same) their value delta.
    fn deltas(&self, codes: &LatentCodes, sources: &[usize], partners: &[usize], step: usize, device: &Device) -> Tensor<2> {
        let mut out = Vec::with_capacity(sources.len() * self.width);
        for (b, (&i, &j)) in sources.iter().zip(partners).enumerate() {
            let mut rng = Rng::stream(self.seed ^ 0x7661_6c75, (step * sources.len() + b) as u64);
            let pair = i.min(j) / 2;
            if j == i ^ 1 && pair * self.width < self.rows.len() && rng.chance(self.share) {
                let value = &self.rows[pair * self.width..(pair + 1) * self.width];
                // The value delta points from the pair's first code to its second.
                let sign = if i < j { 1.0 } else { -1.0 };
                out.extend(value.iter().map(|v| v * sign));
            } else {
                let (ci, cj) = (&codes.clip[i * self.width..(i + 1) * self.width], &codes.clip[j * self.width..(j + 1) * self.width]);
                out.extend(cj.iter().zip(ci).map(|(a, b)| a - b));
            }
        }
        Tensor::from_data(TensorData::new(out, [sources.len(), self.width]), device)
    }
}

/// The mean of unit image deltas per (factor, value) they end at: the value deltas of
/// [`ValueDeltas`] and of the delta alignment's one-sided rows.
pub fn mean_delta_per_value(deltas: impl IntoIterator<Item = ((Factor, usize), Vec<f32>)>) -> HashMap<(Factor, usize), Vec<f32>> {
    let mut sums: HashMap<(Factor, usize), (Vec<f32>, usize)> = HashMap::new();
    for (end, delta) in deltas {
        let (sum, count) = sums.entry(end).or_insert_with(|| (vec![0.0; delta.len()], 0));
        sum.iter_mut().zip(&delta).for_each(|(s, d)| *s += d);
        *count += 1;
    }
    sums.into_iter().map(|(end, (sum, count))| (end, sum.into_iter().map(|s| s / count as f32).collect())).collect()
}

/// MSE, mean cosine similarity, and the training loss `mse_weight`·MSE + (1 − cosine).
pub struct MapperLoss {
    pub loss: Tensor<1>,
    pub mse: Tensor<1>,
    pub cosine: Tensor<1>,
}

/// `mse_weight · nn.MSELoss()` + `1 − nn.CosineSimilarity(dim=-1)(pred, target).mean()` (eps
/// 1e-8); the paper's weight is 1.
pub fn mapper_loss(pred: Tensor<2>, target: Tensor<2>, mse_weight: f32) -> MapperLoss {
    let mse = (pred.clone() - target.clone()).square().mean();
    let dot = (pred.clone() * target.clone()).sum_dim(1);
    let norms = pred.square().sum_dim(1).sqrt() * target.square().sum_dim(1).sqrt();
    let cosine = (dot / norms.clamp_min(1e-8)).mean();
    let loss = mse.clone() * mse_weight + cosine.clone().neg().add_scalar(1.0);
    MapperLoss { loss, mse, cosine }
}

/// Source and partner indices of every training step.
pub struct PairSampler {
    seed: u64,
    len: usize,
    twins: f32,
    epoch: usize,
    permutation: Vec<usize>,
}

impl PairSampler {
    /// Uniform partners.
    pub fn new(seed: u64, len: usize) -> Self {
        Self::with_twins(seed, len, 0.0)
    }

    /// The twin as partner for a share `twins` of the samples (codes in twin pairs: 2k, 2k + 1).
    pub fn with_twins(seed: u64, len: usize, twins: f32) -> Self {
        let mut sampler = PairSampler { seed, len, twins, epoch: usize::MAX, permutation: Vec::new() };
        sampler.enter_epoch(0);
        sampler
    }

    fn enter_epoch(&mut self, epoch: usize) {
        if epoch == self.epoch {
            return;
        }
        // Fisher–Yates with a stream of its own per epoch.
        let mut rng = Rng::stream(self.seed, 0x6570_6f63_6800_0000 ^ epoch as u64);
        self.permutation = (0..self.len).collect();
        for k in (1..self.len).rev() {
            self.permutation.swap(k, rng.below(k + 1));
        }
        self.epoch = epoch;
    }

    /// (sources, partners) of step `step`.
    pub fn batch(&mut self, step: usize, batch: usize) -> (Vec<usize>, Vec<usize>) {
        let mut sources = Vec::with_capacity(batch);
        let mut partners = Vec::with_capacity(batch);
        for b in 0..batch {
            let k = step * batch + b;
            self.enter_epoch(k / self.len);
            let source = self.permutation[k % self.len];
            let mut rng = Rng::stream(self.seed ^ 0x7061_7274, k as u64);
            // (No draw when off: uniform runs keep the pairs they always had.)
            let twin = self.twins > 0.0 && rng.chance(self.twins) && (source ^ 1) < self.len;
            sources.push(source);
            partners.push(if twin { source ^ 1 } else { rng.below(self.len) });
        }
        (sources, partners)
    }
}

/// The mapper's inputs and target for pairs (i, j): s_i, the condition (its delta projected onto
/// `subspace`), Δs = s_j − s_i. With `value_deltas` (and the step drawing which twin pairs read
/// them) the DeltaEdit condition's deltas come from there.
pub fn pair_batch(
    codes: &LatentCodes,
    kind: MapperKind,
    subspace: Option<&DeltaSubspace>,
    (sources, partners): (&[usize], &[usize]),
    value_deltas: Option<(&ValueDeltas, usize)>,
    device: &Device,
) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let s_i = codes.s_rows(sources, device);
    let s_j = codes.s_rows(partners, device);
    let c_i = codes.clip_rows(sources, device);
    let cond = match value_deltas {
        Some((values, step)) => condition(c_i, values.deltas(codes, sources, partners, step, device), subspace),
        None => training_condition(kind, subspace, c_i, codes.clip_rows(partners, device)),
    };
    (s_i.clone(), cond, s_j - s_i)
}

/// Trains a mapper of layout `config` on `codes` (resuming from `options.dir`), on `device`
/// (an autodiff device), with its deltas projected onto `subspace` (on any device) if given and
/// the twin pairs' value deltas read from `value_deltas` if given.
pub fn train(
    cfg: &MapperTraining,
    config: &DeltaMapperConfig,
    codes: &LatentCodes,
    subspace: Option<&DeltaSubspace>,
    value_deltas: Option<&ValueDeltas>,
    options: TrainOptions,
    device: &Device,
) -> Result<(DeltaMapper, Summary)> {
    if codes.s_dim != config.s_dim() || 2 * codes.clip_dim != config.cond_dim {
        return Err(Error::Config(format!(
            "delta mapper: codes have S {} and CLIP {} dims; the mapper reads S {} and a {}-d condition",
            codes.s_dim,
            codes.clip_dim,
            config.s_dim(),
            config.cond_dim
        )));
    }
    if codes.len == 0 {
        return Err(Error::Invalid("delta mapper: no training codes".into()));
    }
    let optim = AdamConfig::new().with_epsilon(1e-8).init();
    let fresh = Trainee { model: config.init(device), optim };
    let run = Run::open(TrainOptions { steps: cfg.steps, ..options }, fresh)?;
    let mut sampler = PairSampler::with_twins(cfg.seed, codes.len, cfg.twins);
    let subspace = subspace.map(|subspace| subspace.to_device(device));
    let subspace = subspace.as_ref();
    let (trained, summary) = run.train(|step, Trainee { model, mut optim }| {
        let (sources, partners) = sampler.batch(step, cfg.batch);
        let (s_i, cond, target) = pair_batch(codes, cfg.kind, subspace, (&sources, &partners), value_deltas.map(|v| (v, step)), device);
        let MapperLoss { loss, mse, cosine } = mapper_loss(model.forward(s_i, cond), target, cfg.mse_weight);
        let values = Tensor::cat(vec![loss.clone(), mse, cosine], 0).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
        if !values[0].is_finite() {
            return Err(Error::Invalid(format!("delta mapper: the loss diverged at step {step} ({})", values[0])));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(cfg.lr, model, grads);
        let losses = vec![("loss", values[0] as f64), ("mse", values[1] as f64), ("cosine", values[2] as f64)];
        Ok((Trainee { model, optim }, losses))
    })?;
    Ok((trained.model, summary))
}

/// Mean loss terms of `mapper` (within `subspaces`) on `pairs` fixed pairs of `codes` (for
/// validation; partners uniform, or twins for a share `twins`) against their whole Δs, and the
/// MSE of predicting no edit at all for scale.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    pub pairs: usize,
    pub mse: f64,
    pub cosine: f64,
    pub zero_edit_mse: f64,
}

pub fn evaluate(
    mapper: &DeltaMapper,
    kind: MapperKind,
    subspaces: &MapperSubspaces,
    codes: &LatentCodes,
    pairs: usize,
    twins: f32,
    device: &Device,
) -> Evaluation {
    let mut sampler = PairSampler::with_twins(0x7661_6c, codes.len, twins);
    let chunk = 256;
    let (mut mse, mut cosine, mut zero, mut seen) = (0.0, 0.0, 0.0, 0);
    for (step, start) in (0..pairs).step_by(chunk).enumerate() {
        let n = chunk.min(pairs - start);
        let (sources, partners) = sampler.batch(step, n);
        let (s_i, cond, target) = pair_batch(codes, kind, subspaces.delta.as_ref(), (&sources, &partners), None, device);
        let terms = mapper_loss(subspaces.project_edit(mapper.forward(s_i, cond)), target.clone(), 1.0);
        let scalar = |t: Tensor<1>| t.into_scalar::<f32>() as f64 * n as f64;
        mse += scalar(terms.mse);
        cosine += scalar(terms.cosine);
        zero += scalar(target.square().mean());
        seen += n;
    }
    let n = seen.max(1) as f64;
    Evaluation { pairs: seen, mse: mse / n, cosine: cosine / n, zero_edit_mse: zero / n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::models::tiny_base;
    use crate::train::codes::{CodeSource, compute};

    /// Twin codes with only CLIP features (2-d), pair k = codes 2k, 2k + 1.
    fn twin_clip_codes(clip: Vec<f32>) -> LatentCodes {
        LatentCodes { len: clip.len() / 2, s_dim: 0, n_latent: 0, w_dim: 0, clip_dim: 2, s: vec![], wplus: vec![], clip }
    }

    #[test]
    fn value_deltas_average_single_changes_to_a_value_and_keep_the_pair_direction() {
        let device = Device::flex();
        // Pairs 0 and 1 end at hat=1 from different starts; pair 2 also changes the background.
        let codes = twin_clip_codes(vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 3.0, 5.0, 5.0, 6.0, 5.0, 0.0, 0.0, 0.0, 1.0]);
        let hat = (Factor::Hat, 1);
        let changes = vec![vec![hat], vec![hat], vec![hat, (Factor::Background, 2)], vec![(Factor::Background, 2)]];
        let cfg = |share| MapperTraining { value_deltas: share, ..MapperTraining::default() };
        let values = ValueDeltas::fit(&codes, &changes, &cfg(1.0)).unwrap();
        let rows = |sources: &[usize], partners: &[usize]| -> Vec<f32> {
            values.deltas(&codes, sources, partners, 0, &device).into_data().try_to_vec::<f32>().unwrap()
        };
        // Mean of the unit deltas (1, 0) and (0, 1); pair 2 adds the background's (0, 1).
        assert_eq!(rows(&[0, 3, 4], &[1, 2, 5]), vec![0.5, 0.5, -0.5, -0.5, 0.5, 1.5]);
        // Uniform pairs keep their own delta.
        assert_eq!(rows(&[0], &[5]), vec![6.0, 5.0]);
        let none = ValueDeltas::fit(&codes, &changes, &cfg(0.0)).unwrap();
        assert_eq!(none.deltas(&codes, &[0], &[1], 0, &device).into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
        // A value no single-change pair reaches cannot be averaged.
        let unreached = vec![vec![hat], vec![hat], vec![hat], vec![(Factor::Eyes, 1), hat]];
        assert!(ValueDeltas::fit(&codes, &unreached, &cfg(1.0)).is_err());
    }

    #[test]
    fn pairs_follow_the_step_and_sources_cover_each_epoch() {
        let mut a = PairSampler::new(7, 10);
        let (s0, p0) = a.batch(0, 4);
        let (s1, _) = a.batch(1, 4);
        let (s2, _) = a.batch(2, 4);
        let mut epoch: Vec<usize> = s0.iter().chain(&s1).chain(&s2[..2]).copied().collect();
        epoch.sort_unstable();
        assert_eq!(epoch, (0..10).collect::<Vec<_>>(), "every code is a source once per epoch");
        // A fresh sampler (a resumed run) gives the same batch for the same step.
        let mut b = PairSampler::new(7, 10);
        assert_eq!(b.batch(2, 4), (s2, a.batch(2, 4).1));
        assert_eq!(b.batch(0, 4), (s0, p0));
    }

    #[test]
    fn twin_pairs_take_the_neighbouring_code_at_the_asked_share() {
        let mut sampler = PairSampler::with_twins(3, 1000, 0.5);
        let (sources, partners) = sampler.batch(0, 1000);
        let twins = sources.iter().zip(&partners).filter(|&(s, p)| *p == s ^ 1).count();
        // About half twins; uniform partners hit the twin 1 time in 1000.
        assert!((430..=570).contains(&twins), "{twins} twin pairs of 1000");
        let mut uniform = PairSampler::new(3, 1000);
        let (_, partners) = uniform.batch(0, 1000);
        assert!(sources.iter().zip(&partners).filter(|&(s, p)| *p == s ^ 1).count() < 10);
        // An odd count: the last code has no twin and gets a uniform partner.
        let mut odd = PairSampler::with_twins(3, 3, 1.0);
        let (sources, partners) = odd.batch(0, 30);
        assert!(sources.iter().zip(&partners).all(|(&s, &p)| p < 3 && (s == 2 || p == s ^ 1)));
    }

    #[test]
    fn conditions_are_unit_halves_or_the_two_features() {
        let device = Device::flex();
        let c_i = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &device);
        let c_j = Tensor::<2>::from_floats([[0.0, 1.0], [0.0, 1.0]], &device);
        let delta = training_condition(MapperKind::DeltaEdit, None, c_i.clone(), c_j.clone());
        let h = std::f32::consts::FRAC_1_SQRT_2;
        // Identical features give a zero delta, not NaN.
        delta.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[1.0, 0.0, -h, h], [0.0, 1.0, 0.0, 0.0]]),
            Default::default(),
        );
        // Projected onto the x axis, the first delta (−1, 1) reads as (−1, 0).
        let x_axis = DeltaSubspace { basis: Tensor::<2>::from_floats([[1.0, 0.0]], &device) };
        let projected = training_condition(MapperKind::DeltaEdit, Some(&x_axis), c_i.clone(), c_j.clone());
        assert_eq!(projected.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let straight = training_condition(MapperKind::Straightforward, None, c_i, c_j);
        assert_eq!(straight.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn loss_is_zero_for_a_perfect_prediction_and_two_for_the_opposite() {
        let device = Device::flex();
        let t = Tensor::<2>::from_floats([[1.0, -2.0, 0.5]], &device);
        let same = mapper_loss(t.clone(), t.clone(), 1.0);
        assert!(same.loss.into_scalar::<f32>().abs() < 1e-6);
        let opposite = mapper_loss(t.clone().neg(), t.clone(), 1.0);
        let expected_mse = (4.0 + 16.0 + 1.0) / 3.0;
        assert!((opposite.loss.into_scalar::<f32>() - (expected_mse + 2.0)).abs() < 1e-5);
        // The MSE weight scales the MSE term only.
        let weighted = mapper_loss(t.clone().neg(), t, 10.0);
        assert!((weighted.loss.into_scalar::<f32>() - (10.0 * expected_mse + 2.0)).abs() < 1e-4);
        assert!((weighted.mse.into_scalar::<f32>() - expected_mse).abs() < 1e-5);
    }

    #[test]
    fn a_few_steps_lower_the_loss_for_both_conditions() {
        let device = Device::flex();
        let base = tiny_base(&device);
        // Sampled codes: the random tiny encoder maps every render to nearly the same w+.
        let codes = compute(&base, CodeSource::Samples { seed: 0 }, 64, 32).unwrap();
        let config = base.mapper_config().unwrap();
        for kind in [MapperKind::DeltaEdit, MapperKind::Straightforward] {
            let dir = tempfile::tempdir().unwrap();
            let cfg = MapperTraining { steps: 60, batch: 32, kind, ..MapperTraining::default() };
            let options = TrainOptions {
                dir: dir.path().to_path_buf(),
                steps: cfg.steps,
                checkpoint_every: 30,
                log_every: 20,
                keep: 1,
                label: "mapper".into(),
            };
            let (mapper, summary) = train(&cfg, &config, &codes, None, None, options, &device.clone().autodiff()).unwrap();
            let log = std::fs::read_to_string(dir.path().join("losses.jsonl")).unwrap();
            let logged: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            let series = |name: &str| logged.iter().map(|v| v[name].as_f64().unwrap()).collect::<Vec<_>>();
            let (loss, cosine) = (series("loss"), series("cosine"));
            assert_eq!(loss.len(), 3);
            assert!(loss[2] < loss[0] && cosine[2] > cosine[0] + 0.05, "{kind:?}: loss {loss:?}, cosine {cosine:?}");
            assert_eq!(summary.steps, 60);
            let eval = evaluate(&mapper.valid(), kind, &MapperSubspaces::default(), &codes, 64, 0.0, &device);
            assert!(eval.cosine > 0.1 && eval.mse.is_finite() && eval.zero_edit_mse > 0.0, "{kind:?}: {eval:?}");
            // Validation reads Δs within the edit span, as the engine does: a span covering all
            // of S changes nothing, a 4-direction one changes the fit but not the targets.
            let within = |edit: DeltaSubspace| {
                evaluate(&mapper.valid(), kind, &MapperSubspaces { delta: None, edit: Some(edit) }, &codes, 64, 0.0, &device)
            };
            let whole = within(DeltaSubspace { basis: Tensor::eye(codes.s_dim, &device) });
            assert!((whole.cosine - eval.cosine).abs() < 1e-5 && (whole.mse - eval.mse).abs() < 1e-9, "{kind:?}: {whole:?} vs {eval:?}");
            let narrow = within(fit_delta_subspace(&codes, LatentCodes::s_rows, false, 0, 4, &device).unwrap());
            assert!((narrow.zero_edit_mse - eval.zero_edit_mse).abs() < 1e-9, "{kind:?}: {narrow:?} vs {eval:?}");
            assert!((narrow.cosine - eval.cosine).abs() > 1e-3, "{kind:?}: {narrow:?} vs {eval:?}");
        }
    }
}
