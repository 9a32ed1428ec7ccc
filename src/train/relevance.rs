//! The relevance matrix R_s DeltaEdit masks its edits with (paper 000 §3.2 "Disentanglement";
//! the official code loads StyleCLIP's `fs3.npy`): StyleCLIP global directions' channel-wise
//! relevance Δi_c (`global_directions/SingleChannel.py` with `manipulate.py`'s ±α·σ moves).
//!
//! For every S channel c and each of M images: move the image's channel by +kσ_c and by −kσ_c
//! (σ_c: the channel's std over the codes, k = 5), synthesise both with the generator (S for the
//! convs, the image's w+ for ToRGB, fixed noise), take the unit CLIP image features and their
//! difference f(+) − f(−), normalised. The row of c is the mean over the images, normalised again:
//! a unit vector in CLIP space, or zero where moving the channel never changes the features (a
//! difference below [`SILENT`] counts as none, so such rows are zero rather than noise or NaN).
//! Rows are S channels, columns CLIP dims: fs3.npy's [6048, 512] orientation.
//!
//! Channels are batched (each synthesis batch moves `channel_batch` channels of one image, both
//! ways). The sum over images is checkpointed after every image, so a killed run resumes.
use std::path::Path;

use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use super::codes::LatentCodes;
use super::l2_norm;
use crate::engine::models::GanBase;
use crate::models::stylegan2::Noise;
use crate::weights::checkpoint::Checkpoint;
use crate::weights::writer::{Precision, TensorWriter};
use crate::{Error, Result};

/// A feature difference below this norm (unit features) is treated as no change.
pub const SILENT: f32 = 1e-5;

#[derive(Clone, Debug, serde::Serialize)]
pub struct RelevanceOptions {
    /// M: images averaged over (the first M codes).
    pub images: usize,
    /// k: channels move by ±k standard deviations.
    pub sigmas: f32,
    /// Channels per synthesis batch (the batch holds twice as many images).
    pub channel_batch: usize,
}

impl Default for RelevanceOptions {
    fn default() -> Self {
        RelevanceOptions { images: 64, sigmas: 5.0, channel_batch: 64 }
    }
}

/// The matrix ([s_dim, clip_dim], row-major) and how many rows are zero.
pub struct Relevance {
    pub values: Vec<f32>,
    pub s_dim: usize,
    pub clip_dim: usize,
    pub silent_channels: usize,
}

/// Where the running sum over images is kept between sessions.
const STATE_FILE: &str = "relevance-partial.safetensors";

/// The sum of unit feature differences over the first `done` images.
struct Partial {
    sum: Vec<f32>,
    done: usize,
}

impl Partial {
    fn save(&self, dir: &Path, std: &[f32], sigmas: f32, clip_dim: usize) -> Result<()> {
        let device = Device::flex();
        let vector = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [v.len()]), &device);
        let mut writer = TensorWriter::new();
        writer.tensor_as("sum", vector(self.sum.clone()), &[std.len(), clip_dim]);
        writer.tensor("images_done", vector(vec![self.done as f32]));
        writer.tensor("std", vector(std.to_vec()));
        writer.tensor("sigmas", vector(vec![sigmas]));
        // Written aside and renamed: a killed run never leaves a half-written state.
        let scratch = dir.join(format!(".{STATE_FILE}"));
        writer.write(&scratch, Precision::F32, Default::default())?;
        let path = dir.join(STATE_FILE);
        std::fs::rename(&scratch, &path).map_err(|e| Error::io(&path, e))
    }

    /// The saved state, if there is one and it was made with the same σ and k.
    fn load(dir: &Path, std: &[f32], sigmas: f32, clip_dim: usize) -> Result<Option<Partial>> {
        let path = dir.join(STATE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let file = Checkpoint::open(&path)?;
        if file.values("std")? != std || file.values("sigmas")? != [sigmas] {
            return Err(Error::Invalid(format!(
                "{} was computed from other codes or another ±kσ; remove it or use another run directory",
                path.display()
            )));
        }
        let sum = file.values("sum")?;
        if sum.len() != std.len() * clip_dim {
            return Err(Error::checkpoint(&path, format!("sum has {} values, expected {}", sum.len(), std.len() * clip_dim)));
        }
        let done = file.values("images_done")?[0] as usize;
        Ok(Some(Partial { sum, done }))
    }
}

/// Computes the relevance matrix over the first `options.images` codes, with the channel stds
/// `std` (over all codes), keeping its running state in `state_dir`.
pub fn compute(
    base: &GanBase,
    codes: &LatentCodes,
    std: &[f32],
    options: &RelevanceOptions,
    state_dir: &Path,
) -> Result<Relevance> {
    let (s_dim, clip_dim) = (codes.s_dim, codes.clip_dim);
    if std.len() != s_dim || options.images == 0 || options.images > codes.len || options.channel_batch == 0 {
        return Err(Error::Invalid(format!(
            "relevance: {} images of {} codes, {} stds for {s_dim} channels, {} channels per batch",
            options.images,
            codes.len,
            std.len(),
            options.channel_batch
        )));
    }
    std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
    let device = base.generator.input.input.val().device();
    let mut partial = Partial::load(state_dir, std, options.sigmas, clip_dim)?
        .unwrap_or(Partial { sum: vec![0.0; s_dim * clip_dim], done: 0 });
    if partial.done > options.images {
        return Err(Error::Invalid(format!(
            "{} already averages {} images, more than the {} asked for; ask for at least as many or remove it",
            state_dir.join(STATE_FILE).display(),
            partial.done,
            options.images
        )));
    }
    let start = partial.done;
    if start > 0 {
        log::info!("relevance: resuming after {start} images");
    }
    let bar = ProgressBar::new((options.images * s_dim) as u64).with_position((start * s_dim) as u64);
    bar.set_style(
        ProgressStyle::with_template("relevance [{elapsed_precise}] {wide_bar} {pos}/{len} channel moves ({eta} left)")
            .expect("valid template"),
    );
    for image in start..options.images {
        let s = &codes.s[image * s_dim..(image + 1) * s_dim];
        let wplus = codes.wplus_rows(&[image], &device);
        for first in (0..s_dim).step_by(options.channel_batch) {
            let channels = first..(first + options.channel_batch).min(s_dim);
            let differences = feature_differences(base, s, wplus.clone(), std, options.sigmas, channels.clone())?;
            for (c, d) in channels.zip(differences.chunks_exact(clip_dim)) {
                let norm = l2_norm(d);
                if norm > SILENT {
                    for (acc, v) in partial.sum[c * clip_dim..(c + 1) * clip_dim].iter_mut().zip(d) {
                        *acc += v / norm;
                    }
                }
                bar.inc(1);
            }
        }
        partial.done = image + 1;
        partial.save(state_dir, std, options.sigmas, clip_dim)?;
    }
    bar.finish();

    let mut values = partial.sum;
    let mut silent_channels = 0;
    for row in values.chunks_exact_mut(clip_dim) {
        // The mean's direction is the sum's.
        let norm = l2_norm(row);
        if norm > SILENT {
            row.iter_mut().for_each(|v| *v /= norm);
        } else {
            row.fill(0.0);
            silent_channels += 1;
        }
    }
    Ok(Relevance { values, s_dim, clip_dim, silent_channels })
}

/// f(s + kσ_c e_c) − f(s − kσ_c e_c) for each channel c in `channels` ([len, clip_dim] row-major),
/// f the unit CLIP image feature of the synthesis.
fn feature_differences(
    base: &GanBase,
    s: &[f32],
    wplus: Tensor<3>,
    std: &[f32],
    sigmas: f32,
    channels: std::ops::Range<usize>,
) -> Result<Vec<f32>> {
    let s_dim = s.len();
    let n = channels.len();
    let mut moved = Vec::with_capacity(2 * n * s_dim);
    for c in channels {
        for sign in [1.0, -1.0] {
            let start = moved.len();
            moved.extend_from_slice(s);
            moved[start + c] += sign * sigmas * std[c];
        }
    }
    let device = wplus.device();
    let moved = Tensor::<2>::from_data(TensorData::new(moved, [2 * n, s_dim]), &device);
    let images = base.generator.synthesis_s(moved, wplus.repeat_dim(0, 2 * n), base.domain.s_layers(), &Noise::Stored)?;
    let features = base.delta_space.image_features(images)?;
    let [_, clip_dim] = features.dims();
    let pairs = features.reshape([n, 2, clip_dim]);
    let difference = pairs.clone().slice(s![.., 0..1, ..]) - pairs.slice(s![.., 1..2, ..]);
    Ok(difference.reshape([-1]).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data"))
}

#[cfg(test)]
mod tests {
    use burn::module::Param;

    use super::*;
    use crate::engine::models::tiny_base;
    use crate::train::codes::{CodeSource, compute as compute_codes};

    #[test]
    fn rows_are_unit_or_zero_for_a_channel_without_effect_and_a_resumed_run_agrees() {
        let device = Device::flex();
        let mut base = tiny_base(&device);
        // S channel 1 is conv1's input channel 1: with its weights zeroed it cannot change the image.
        let weight = base.generator.conv1.conv.weight.val();
        let [out, _, k, _] = weight.dims();
        let weight = weight.slice_assign(s![.., 1..2, .., ..], Tensor::zeros([out, 1, k, k], &device));
        base.generator.conv1.conv.weight = Param::from_tensor(weight);
        let codes = compute_codes(&base, CodeSource::Samples { seed: 1 }, 3, 3).unwrap();
        let std = codes.s_std();
        let options = RelevanceOptions { images: 2, sigmas: 5.0, channel_batch: 7 };

        // A random tiny CLIP can barely see a live channel too (rarely: the smallest live effect
        // over 300 inits was 3e-5), so the silent set is measured rather than assumed to be {1}.
        let (s_dim, clip_dim) = (codes.s_dim, codes.clip_dim);
        let silent: Vec<usize> = {
            let mut loudest = vec![0.0f32; s_dim];
            for image in 0..options.images {
                let s = &codes.s[image * s_dim..(image + 1) * s_dim];
                let d = feature_differences(&base, s, codes.wplus_rows(&[image], &device), &std, options.sigmas, 0..s_dim).unwrap();
                for (c, d) in d.chunks_exact(clip_dim).enumerate() {
                    loudest[c] = loudest[c].max(l2_norm(d));
                }
            }
            (0..s_dim).filter(|&c| loudest[c] <= SILENT).collect()
        };
        assert!(silent.contains(&1), "the dead channel moves nothing");
        assert!(silent.len() <= 3, "a random init hides at most a rare live channel: {silent:?}");

        let dir = tempfile::tempdir().unwrap();
        let r = compute(&base, &codes, &std, &options, dir.path()).unwrap();
        // The built-in domain's S: 34 conv and 18 ToRGB channels.
        assert_eq!((r.s_dim, r.clip_dim, r.values.len()), (52, 8, 416));
        assert!(r.values.iter().all(|v| v.is_finite()));
        for (c, row) in r.values.chunks(clip_dim).enumerate() {
            let norm = l2_norm(row);
            if silent.contains(&c) {
                assert_eq!(norm, 0.0, "row {c} of a silent channel is zero");
            } else {
                assert!((norm - 1.0).abs() < 1e-4, "row {c} has norm {norm}");
            }
        }
        assert_eq!(r.silent_channels, silent.len());

        // One image now, the second in a later session: the same matrix.
        let split = tempfile::tempdir().unwrap();
        compute(&base, &codes, &std, &RelevanceOptions { images: 1, ..options.clone() }, split.path())
            .unwrap();
        let resumed = compute(&base, &codes, &std, &options, split.path()).unwrap();
        let worst = r.values.iter().zip(&resumed.values).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-5, "{worst}");
        let other_std: Vec<f32> = std.iter().map(|s| s * 2.0).collect();
        assert!(compute(&base, &codes, &other_std, &options, split.path()).is_err());
    }
}
