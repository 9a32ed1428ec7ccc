//! The latent codes DeltaEdit trains on (`{s,w,c}space_*_feat.npy`): per image its S code, its
//! w+ and its unit CLIP image feature. They are computed once (batched, with a progress bar) and
//! cached beside a fingerprint of how they were made, so that a resumed or second run reuses them.
use std::path::{Path, PathBuf};

use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::models::GanBase;
use crate::models::stylegan2::{Noise, SLayers};
use crate::weights::checkpoint::Checkpoint;
use crate::weights::registry::sha256_file;
use crate::weights::writer::{Precision, TensorWriter};
use crate::world::dataset::{held_out_seed, training_seed};
use crate::world::factors::{Attributes, Factor};
use crate::world::render::render;
use crate::world::sample_attributes;
use crate::world::rng::Rng;
use crate::{Error, Result};

/// Where the images behind the codes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSource {
    /// Renders of the built-in domain from `training_seed(seed, i)` (the GAN's training
    /// distribution), inverted by the encoder; CLIP sees the render itself, as DeltaEdit's
    /// `inference_real.py` feeds CLIP the input image and not its reconstruction.
    TrainingRenders { seed: u64 },
    /// Counterfactual twins of training renders, inverted the same way: code 2k is the render of
    /// `training_seed(seed, k)`, code 2k + 1 the same portrait with one or two factors at other
    /// values ([`twin_attributes`]). Only the built-in domain can render such pairs.
    TrainingTwins { seed: u64 },
    /// Held-out renders (`held_out_seed(i)`), inverted the same way: for validation.
    HeldOutRenders,
    /// `generate_codes.py`: z ~ N(0, I) → w (truncation 1) → w+ → S, and CLIP of the synthesis
    /// with the generator's fixed noise. For domains without images here (FFHQ).
    Samples { seed: u64 },
}

/// `len` codes, row-major.
#[derive(Clone, Debug)]
pub struct LatentCodes {
    pub len: usize,
    pub s_dim: usize,
    pub n_latent: usize,
    pub w_dim: usize,
    pub clip_dim: usize,
    /// [len, s_dim]
    pub s: Vec<f32>,
    /// [len, n_latent, w_dim]
    pub wplus: Vec<f32>,
    /// [len, clip_dim], unit rows.
    pub clip: Vec<f32>,
}

impl LatentCodes {
    /// S rows `indices` as [B, s_dim].
    pub fn s_rows(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        gather(&self.s, self.s_dim, indices, [indices.len(), self.s_dim], device)
    }

    /// CLIP rows `indices` as [B, clip_dim].
    pub fn clip_rows(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        gather(&self.clip, self.clip_dim, indices, [indices.len(), self.clip_dim], device)
    }

    /// w+ rows `indices` as [B, n_latent, w_dim].
    pub fn wplus_rows(&self, indices: &[usize], device: &Device) -> Tensor<3> {
        let row = self.n_latent * self.w_dim;
        gather(&self.wplus, row, indices, [indices.len(), self.n_latent, self.w_dim], device)
    }

    /// The standard deviation of every S channel over the codes.
    pub fn s_std(&self) -> Vec<f32> {
        let n = self.len.max(1) as f64;
        let mut sum = vec![0f64; self.s_dim];
        let mut sum_sq = vec![0f64; self.s_dim];
        for row in self.s.chunks_exact(self.s_dim) {
            for (c, &v) in row.iter().enumerate() {
                sum[c] += v as f64;
                sum_sq[c] += (v as f64) * (v as f64);
            }
        }
        sum.iter().zip(&sum_sq).map(|(s, q)| ((q / n - (s / n).powi(2)).max(0.0)).sqrt() as f32).collect()
    }

    /// Writes `s`, `wplus` and `clip` as f32 safetensors.
    fn save(&self, path: &Path) -> Result<()> {
        let device = Device::flex();
        let mut writer = TensorWriter::new();
        writer.tensor_as("s", flat(&self.s, &device), &[self.len, self.s_dim]);
        writer.tensor_as("wplus", flat(&self.wplus, &device), &[self.len, self.n_latent, self.w_dim]);
        writer.tensor_as("clip", flat(&self.clip, &device), &[self.len, self.clip_dim]);
        writer.write(path, Precision::F32, Default::default())
    }

    fn load(path: &Path) -> Result<LatentCodes> {
        let file = Checkpoint::open(path)?;
        let s_shape = file.shape("s")?.to_vec();
        let w_shape = file.shape("wplus")?.to_vec();
        let c_shape = file.shape("clip")?.to_vec();
        let (len, s_dim, n_latent, w_dim, clip_dim) = match (&s_shape[..], &w_shape[..], &c_shape[..]) {
            ([n, s], [n2, l, w], [n3, c]) if n == n2 && n == n3 => (*n, *s, *l, *w, *c),
            _ => return Err(Error::checkpoint(path, format!("inconsistent code shapes {s_shape:?}, {w_shape:?}, {c_shape:?}"))),
        };
        Ok(LatentCodes {
            len,
            s_dim,
            n_latent,
            w_dim,
            clip_dim,
            s: file.values("s")?,
            wplus: file.values("wplus")?,
            clip: file.values("clip")?,
        })
    }
}

fn flat(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

fn gather<const D: usize>(values: &[f32], row: usize, indices: &[usize], shape: [usize; D], device: &Device) -> Tensor<D> {
    let mut out = Vec::with_capacity(indices.len() * row);
    for &i in indices {
        out.extend_from_slice(&values[i * row..(i + 1) * row]);
    }
    Tensor::from_data(TensorData::new(out, shape), device)
}

/// What a cache was computed from: the source, the count, the model files (path + sha256) and the
/// layers S covers.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodesFingerprint {
    pub source: CodeSource,
    pub len: usize,
    pub models: Vec<(PathBuf, String)>,
    pub s_layers: SLayers,
}

impl CodesFingerprint {
    pub fn of(base: &GanBase, source: CodeSource, len: usize) -> Result<Self> {
        let models = base.paths.iter().map(|p| Ok((p.clone(), sha256_file(p)?))).collect::<Result<Vec<_>>>()?;
        Ok(CodesFingerprint { source, len, models, s_layers: base.domain.s_layers() })
    }
}

/// The codes cached as `<dir>/<name>.safetensors` (+ `.json` fingerprint) if they were made
/// from the same source and models; otherwise computed and cached. A cache made from something
/// else is an error rather than silently replaced: a run resumed on other codes would be wrong.
pub fn load_or_compute(
    dir: &Path,
    name: &str,
    base: &GanBase,
    fingerprint: &CodesFingerprint,
    batch: usize,
) -> Result<LatentCodes> {
    let data_path = dir.join(format!("{name}.safetensors"));
    let meta_path = dir.join(format!("{name}.json"));
    if meta_path.exists() && data_path.exists() {
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let cached: CodesFingerprint =
            serde_json::from_str(&text).map_err(|e| Error::checkpoint(&meta_path, e.to_string()))?;
        if &cached != fingerprint {
            return Err(Error::Invalid(format!(
                "{} holds codes made from other images or models ({text}); use another directory for these",
                data_path.display()
            )));
        }
        log::info!("reusing the cached codes in {}", data_path.display());
        return LatentCodes::load(&data_path);
    }
    let codes = compute(base, fingerprint.source, fingerprint.len, batch)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // The fingerprint goes last: a cache without one is recomputed.
    codes.save(&data_path)?;
    let text = serde_json::to_string_pretty(fingerprint).expect("plain struct");
    std::fs::write(&meta_path, text).map_err(|e| Error::io(&meta_path, e))?;
    Ok(codes)
}

/// Computes `len` codes from `source`, `batch` images at a time.
pub fn compute(base: &GanBase, source: CodeSource, len: usize, batch: usize) -> Result<LatentCodes> {
    let generator = &base.generator;
    let device = base.generator.input.input.val().device();
    let size = generator.config.size;
    let (n_latent, w_dim) = (generator.n_latent(), generator.config.style_dim);
    let s_dim = base.s_dim();
    let clip_dim = base.delta_space.config.embed_dim;
    let mut codes = LatentCodes {
        len,
        s_dim,
        n_latent,
        w_dim,
        clip_dim,
        s: Vec::with_capacity(len * s_dim),
        wplus: Vec::with_capacity(len * n_latent * w_dim),
        clip: Vec::with_capacity(len * clip_dim),
    };
    let bar = ProgressBar::new(len as u64);
    bar.set_style(ProgressStyle::with_template("codes [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta} left)").expect("valid template"));
    for start in (0..len).step_by(batch.max(1)) {
        let indices: Vec<u64> = (start as u64..(start + batch).min(len) as u64).collect();
        let (wplus, image) = match source {
            CodeSource::TrainingRenders { .. } | CodeSource::TrainingTwins { .. } | CodeSource::HeldOutRenders => {
                let portraits = indices.iter().map(|&i| match source {
                    CodeSource::TrainingRenders { seed } => portrait(training_seed(seed, i)),
                    CodeSource::TrainingTwins { seed } => {
                        let (seed, attributes) = portrait(training_seed(seed, i / 2));
                        (seed, if i % 2 == 1 { twin_attributes(seed, attributes) } else { attributes })
                    }
                    _ => portrait(held_out_seed(i)),
                });
                let image = renders(portraits, size, &device);
                (base.encoder.encode(image.clone()), image)
            }
            CodeSource::Samples { seed } => {
                let z = standard_normal_rows(seed, &indices, w_dim, &device);
                let wplus = generator.broadcast(generator.mapping(z));
                let image = generator.synthesis(wplus.clone(), &Noise::Stored);
                (wplus, image)
            }
        };
        let s = generator.s(wplus.clone(), base.domain.s_layers());
        let clip = base.delta_space.image_features(image)?;
        codes.s.extend(to_vec(s.reshape([-1])));
        codes.wplus.extend(to_vec(wplus.reshape([-1])));
        codes.clip.extend(to_vec(clip.reshape([-1])));
        bar.inc(indices.len() as u64);
    }
    bar.finish();
    Ok(codes)
}

fn to_vec(t: Tensor<1>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor data")
}

/// The portrait of `seed` as the dataset samples it.
fn portrait(seed: u64) -> (u64, Attributes) {
    (seed, sample_attributes(seed))
}

/// The twin of the portrait of `seed`: one or two of its factors at other values, everything
/// else (pose, proportions, nuisances) the same.
pub fn twin_attributes(seed: u64, attributes: Attributes) -> Attributes {
    let mut rng = Rng::stream(seed, 0x7477_696e);
    let first = *rng.pick(&Factor::ALL);
    let twin = attributes.with_other_value(first, &mut rng);
    if rng.chance(0.5) {
        let second = Factor::ALL[(first as usize + 1 + rng.below(Factor::ALL.len() - 1)) % Factor::ALL.len()];
        return twin.with_other_value(second, &mut rng);
    }
    twin
}

/// The changes (factor, new value) from code 2k to code 2k + 1 of [`CodeSource::TrainingTwins`]
/// with `seed`, for `pairs` pairs.
pub fn twin_changes(seed: u64, pairs: usize) -> Vec<Vec<(Factor, usize)>> {
    (0..pairs as u64)
        .map(|k| {
            let (seed, before) = portrait(training_seed(seed, k));
            let after = twin_attributes(seed, before);
            before.changes_to(&after)
        })
        .collect()
}

/// The renders of `portraits` at `size`² as [B, 3, size, size] in [−1, 1].
pub(crate) fn renders(portraits: impl Iterator<Item = (u64, Attributes)>, size: usize, device: &Device) -> Tensor<4> {
    let plane = size * size;
    let mut data = Vec::new();
    let mut count = 0;
    for (seed, attributes) in portraits {
        let image = render(seed, &attributes, size as u32).image;
        for c in 0..3 {
            data.extend(image.pixels().map(|p| p.0[c] as f32 / 127.5 - 1.0));
        }
        count += 1;
    }
    debug_assert_eq!(data.len(), count * 3 * plane);
    Tensor::from_data(TensorData::new(data, [count, 3, size, size]), device)
}

/// N(0, 1) rows (Box–Muller), row `i` a function of `(seed, i)` only.
fn standard_normal_rows(seed: u64, indices: &[u64], dim: usize, device: &Device) -> Tensor<2> {
    let mut data = Vec::with_capacity(indices.len() * dim);
    for &i in indices {
        let mut rng = Rng::stream(seed, i);
        data.extend((0..dim).map(|_| {
            let u1 = 1.0 - rng.unit() as f64; // in (0, 1]
            let u2 = rng.unit() as f64;
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        }));
    }
    Tensor::from_data(TensorData::new(data, [indices.len(), dim]), device)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::models::tiny_base;

    #[test]
    fn codes_are_cached_with_their_fingerprint_and_reused() {
        let device = Device::flex();
        let base = tiny_base(&device);
        let dir = tempfile::tempdir().unwrap();
        let fingerprint =
            CodesFingerprint { source: CodeSource::TrainingRenders { seed: 3 }, len: 5, models: vec![], s_layers: base.domain.s_layers() };
        let codes = load_or_compute(dir.path(), "codes", &base, &fingerprint, 2).unwrap();
        // The built-in domain's S: 34 conv and 18 ToRGB channels.
        assert_eq!((codes.len, codes.s_dim, codes.n_latent, codes.w_dim, codes.clip_dim), (5, 52, 10, 8, 8));
        assert_eq!((codes.s.len(), codes.wplus.len(), codes.clip.len()), (5 * 52, 5 * 80, 5 * 8));
        for row in codes.clip.chunks(8) {
            let norm = crate::train::l2_norm(row);
            assert!((norm - 1.0).abs() < 1e-4, "CLIP features are unit rows: {norm}");
        }
        // S is the generator's styles of the encoder's w+.
        let wplus = codes.wplus_rows(&[4], &device);
        let s = base.generator.s(wplus, base.domain.s_layers());
        s.into_data().assert_approx_eq::<f32>(&codes.s_rows(&[4], &device).into_data(), Default::default());

        let again = load_or_compute(dir.path(), "codes", &base, &fingerprint, 4).unwrap();
        assert_eq!(again.s, codes.s, "the second call reads the cache");
        let other = CodesFingerprint { len: 6, ..fingerprint.clone() };
        assert!(load_or_compute(dir.path(), "codes", &base, &other, 2).is_err(), "a cache of other codes is not reused");
        let other = CodesFingerprint { s_layers: SLayers::Conv, ..fingerprint };
        assert!(load_or_compute(dir.path(), "codes", &base, &other, 2).is_err(), "nor a cache of another S layout");
    }

    #[test]
    fn twins_change_one_or_two_factors_and_twin_codes_pair_them() {
        let mut changed = [0usize; 3];
        for seed in 0..200 {
            let attributes = sample_attributes(seed);
            let twin = twin_attributes(seed, attributes);
            let differ = attributes.changes_to(&twin).len();
            assert!((1..=2).contains(&differ), "seed {seed}: {differ} factors changed");
            changed[differ] += 1;
        }
        assert!(changed[1] > 60 && changed[2] > 60, "{changed:?}");

        let device = Device::flex();
        let base = tiny_base(&device);
        let twins = compute(&base, CodeSource::TrainingTwins { seed: 3 }, 4, 4).unwrap();
        let renders = compute(&base, CodeSource::TrainingRenders { seed: 3 }, 2, 2).unwrap();
        let row = twins.s_dim;
        assert_eq!(&twins.s[..row], &renders.s[..row], "code 0 is training render 0");
        assert_eq!(&twins.s[2 * row..3 * row], &renders.s[row..2 * row], "code 2 is training render 1");
        assert_ne!(&twins.s[..row], &twins.s[row..2 * row], "code 1 is its twin");
    }

    #[test]
    fn sampled_codes_broadcast_w_and_std_is_per_channel() {
        let device = Device::flex();
        let base = tiny_base(&device);
        let codes = compute(&base, CodeSource::Samples { seed: 1 }, 3, 3).unwrap();
        let first = &codes.wplus[..codes.n_latent * codes.w_dim];
        assert!(first.chunks(codes.w_dim).all(|row| row == &first[..codes.w_dim]), "one w for every layer");
        let std = codes.s_std();
        assert_eq!(std.len(), codes.s_dim);
        assert!(std.iter().all(|s| s.is_finite() && *s >= 0.0));
        assert!(std.iter().any(|s| *s > 0.0));
    }
}
