//! Training the built-in domain's StyleGAN2 generator and its e4e encoder.
//!
//! Adversarial training from scratch is too slow on a 2-core CPU, so the two are trained together
//! as an autoencoder on renders made on the fly: image → encoder → w+ → synthesis with the
//! generator's stored noise → reconstruction loss (MSE + L1; later stages add a feature loss
//! on CLIP's image tower, [`FeatureNetwork`]). e4e's delta regularisation pulls
//! every w+ row towards the first (w0), but the rows still differ about as much as portraits do,
//! so one w repeated on every layer renders a blurred average face: random samples draw whole w+
//! codes from [`WPlusPrior`]. The mapping network z → w is fitted to the distribution of the
//! encoded codes' layer means (sliced Wasserstein distance plus mean matching) and `latent_avg`,
//! the encoder's starting point, is the mean of its outputs.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Param;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::{Distribution, Int, TensorData};
use image::RgbImage;

use super::batches::spawn_ordered;
use super::judge::accuracy_map;
use super::{Run, Summary, TrainOptions, Trainee, cosine_lr};
use crate::models::clip::preprocess::clip_input_from_signed;
use crate::models::clip::{VisionTransformer, l2_normalize};
use crate::models::e4e::{BackboneMode, E4eConfig, Encoder4Editing};
use crate::models::stylegan2::mapping::MappingNetwork;
use crate::models::stylegan2::{Generator, Noise, StyleGan2Config};
use crate::weights::registry::{BUILTIN_ENCODER_FILE, BUILTIN_GENERATOR_FILE};
use crate::weights::writer::Precision;
use crate::world::dataset::{held_out_seed, sample, sample_with_mask, training_seed};
use crate::world::render::{Part, PartMask};
use crate::world::judge::{self, Judge, images_to_tensor};
use crate::world::rng::Rng;
use crate::{Error, Result};

/// How the mapping network is fitted to the encoded w.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MappingFit {
    /// Training renders encoded as the target distribution.
    pub bank: usize,
    pub steps: usize,
    pub batch: usize,
    /// Adam's step on the raw weights (the layers' `lr_mul` = 0.01 scales it down).
    pub lr: f64,
    /// Random directions of the sliced Wasserstein distance.
    pub projections: usize,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct GanTraining {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub warmup: usize,
    pub l1_weight: f64,
    /// Extra loss weight on the pixels of small parts (eyes, mouth, eyewear, facial hair,
    /// earrings): a plain pixel loss spends the model's capacity on the large regions and leaves
    /// exactly the details the edits are about blurred.
    pub detail_weight: f32,
    /// Weight of the feature loss, e4e's identity loss (`id_lambda`, ArcFace features there) with
    /// the built-in CLIP's image tower as the feature network: 1 − cos between the tower's
    /// features of render and reconstruction. The tower was trained to read the factors (LiT's
    /// first stage), so the loss asks for what pixel losses blur: mouths, eyes, lipstick.
    pub feature_weight: f64,
    /// The CLIP file whose image tower the feature loss reads (needed when `feature_weight` > 0).
    pub feature_clip: Option<PathBuf>,
    /// e4e's delta regularisation: mean squared distance of the w+ rows from w0, weighted
    /// `delta_weight_early` for the first `delta_early_steps` steps (the encoder finds its way
    /// freely), then `delta_weight` (w+ pulled towards one w, where samples from z live).
    pub delta_weight_early: f64,
    pub delta_early_steps: usize,
    pub delta_weight: f64,
    /// The share of renders made at 2× and downscaled.
    pub supersample_fraction: f32,
    /// Background rendering threads.
    pub workers: usize,
    pub generator: StyleGan2Config,
    pub encoder: E4eConfig,
    pub mapping: MappingFit,
    /// Start from these exported files (`stylegan2.safetensors`, `e4e.safetensors`) instead of
    /// a fresh initialisation: a second stage with another loss or data seed.
    pub init_from: Option<PathBuf>,
}

impl GanTraining {
    /// The built-in models: a 64² generator whose coarse and medium S layers are 64 wide (the
    /// Delta Mapper needs them equal) and fine ones 32, w of width 128, and a small IR encoder
    /// reading 64² images.
    pub fn builtin() -> Self {
        let channels = BTreeMap::from([(4, 64), (8, 64), (16, 64), (32, 64), (64, 32)]);
        GanTraining {
            seed: 0,
            steps: 3000,
            batch: 16,
            lr: 2e-3,
            warmup: 100,
            l1_weight: 0.5,
            detail_weight: 0.0,
            feature_weight: 0.0,
            feature_clip: None,
            delta_weight_early: 0.02,
            delta_early_steps: 900,
            delta_weight: 1.0,
            supersample_fraction: 0.25,
            workers: 1,
            generator: StyleGan2Config::new(64).with_style_dim(128).with_n_mlp(4).with_channels(Some(channels)),
            encoder: E4eConfig {
                num_layers: 50,
                mode: BackboneMode::Ir,
                stylegan_size: 64,
                stage_units: Some([1, 2, 2, 1]),
                stage_channels: Some([16, 32, 64, 128]),
                input_size: 64,
            },
            mapping: MappingFit { bank: 4096, steps: 2000, batch: 512, lr: 1.0, projections: 128 },
            init_from: None,
        }
    }

    /// Checks that encoder and generator fit each other, and that a feature loss has its network.
    pub fn validate(&self) -> Result<()> {
        if self.feature_weight > 0.0 && self.feature_clip.is_none() {
            return Err(Error::Config("gan: the feature loss needs a CLIP file for its image tower".into()));
        }
        let (g, e) = (&self.generator, &self.encoder);
        if e.stylegan_size != g.size || e.input_size != g.size || e.style_dim() != g.style_dim {
            return Err(Error::Config(format!(
                "gan: the encoder ({0}² input, for a {1}² generator, w width {2}) must fit the generator ({3}², w width {4})",
                e.input_size,
                e.stylegan_size,
                e.style_dim(),
                g.size,
                g.style_dim
            )));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> Result<Autoencoder> {
        self.validate()?;
        Ok(Autoencoder { encoder: self.encoder.init(device)?, generator: self.generator.init(device)? })
    }
}

/// The built-in generator's and encoder's files in one folder, under the registry's names, and
/// the generator's manifest beside them.
pub struct GanFiles {
    pub generator: PathBuf,
    pub encoder: PathBuf,
    pub manifest: PathBuf,
}

impl GanFiles {
    pub fn in_dir(dir: &Path) -> GanFiles {
        let file = |name: &str| dir.join(Path::new(name).file_name().expect("a file name"));
        let generator = file(BUILTIN_GENERATOR_FILE);
        GanFiles { manifest: generator.with_extension("json"), generator, encoder: file(BUILTIN_ENCODER_FILE) }
    }
}

/// The encoder and the generator trained as one autoencoder.
#[derive(Module, Debug)]
pub struct Autoencoder {
    pub encoder: Encoder4Editing,
    pub generator: Generator,
}

impl Autoencoder {
    /// Images `[B, 3, size, size]` in [−1, 1] → (w+, reconstructions).
    pub fn reconstruct(&self, images: Tensor<4>) -> (Tensor<3>, Tensor<4>) {
        let wplus = self.encoder.encode(images);
        let reconstruction = self.generator.synthesis(wplus.clone(), &Noise::Stored);
        (wplus, reconstruction)
    }

    /// Exported files (see [`export`]) as the start of further training, on `device`; `cfg`
    /// must describe them. `latent_avg` is folded back into w0's bias, the inverse of
    /// [`encoder_with_latent_avg`], so that the encoder outputs w+ itself as in training.
    pub fn from_files(generator: &Path, encoder: &Path, cfg: &GanTraining, device: &Device) -> Result<Autoencoder> {
        cfg.validate()?;
        let generator = crate::weights::stylegan2::load(generator, None, Some(&cfg.generator), device)?.generator;
        let mut encoder = crate::weights::e4e::load_encoder(encoder, Some(&cfg.encoder), device)?;
        if let Some(latent_avg) = encoder.latent_avg.take() {
            let w0 = &mut encoder.styles[0].linear;
            let shift = latent_avg.narrow(0, 0, 1).squeeze_dim::<1>(0).div_scalar(w0.lr_mul);
            w0.bias = Param::from_tensor((w0.bias.val() + shift).detach());
        }
        Ok(Autoencoder { encoder, generator })
    }

    fn encoder_device(&self) -> Device {
        self.encoder.latlayer1.weight.lazy_device()
    }
}

impl GanTraining {
    /// The weight of the delta regularisation at `step`.
    pub fn delta_weight_at(&self, step: usize) -> f64 {
        if step < self.delta_early_steps { self.delta_weight_early } else { self.delta_weight }
    }
}

/// The image tower the feature loss reads, frozen.
pub struct FeatureNetwork {
    tower: VisionTransformer,
    image_size: usize,
}

impl FeatureNetwork {
    /// The image tower of the CLIP file at `path`, on `device`, with untracked parameters (it
    /// records no graph of its own and gets no update; gradients still flow to its input).
    pub fn load(path: &Path, device: &Device) -> Result<FeatureNetwork> {
        let (clip, config) = crate::weights::clip::load_clip(path, None, device)?;
        Ok(FeatureNetwork { tower: clip.visual.no_grad(), image_size: config.vision.image_size })
    }

    /// Unit features of generator images `[B, 3, H, W]` in [−1, 1].
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        l2_normalize(self.tower.forward(clip_input_from_signed(images, self.image_size)))
    }
}

/// The training loss at `step` and its parts.
pub struct Loss {
    pub total: Tensor<1>,
    /// The plain (unweighted) MSE, comparable across detail weights.
    pub mse: f64,
    pub delta: f64,
    /// 1 − cos of the feature network's features, when there is one.
    pub feature: Option<f64>,
}

/// The training loss at `step`. `pixel_weights` `[B, 1, H, W]` weigh the pixel losses (normalised
/// to a weighted mean).
pub fn loss(
    model: &Autoencoder,
    images: Tensor<4>,
    pixel_weights: Tensor<4>,
    features: Option<&FeatureNetwork>,
    cfg: &GanTraining,
    step: usize,
) -> Loss {
    let (wplus, reconstruction) = model.reconstruct(images.clone());
    let diff = reconstruction.clone() - images.clone();
    let weights = pixel_weights.repeat_dim(1, 3);
    let weight_sum = weights.clone().sum();
    let weighted_mean = |t: Tensor<4>| (t * weights.clone()).sum() / weight_sum.clone();
    let mse = diff.clone().square().mean();
    let l1 = weighted_mean(diff.clone().abs());
    let weighted_mse = weighted_mean(diff.square());
    let rows = wplus.dims()[1];
    let w0 = wplus.clone().narrow(1, 0, 1).repeat_dim(1, rows);
    let delta = (wplus - w0).square().mean();
    let pixel_and_delta = weighted_mse + l1.mul_scalar(cfg.l1_weight) + delta.clone().mul_scalar(cfg.delta_weight_at(step));
    let feature = features.map(|network| {
        let cosine = (network.features(reconstruction) * network.features(images).detach()).sum_dim(1).mean();
        cosine.neg().add_scalar(1.0)
    });
    let total = match &feature {
        Some(feature) => pixel_and_delta + feature.clone().mul_scalar(cfg.feature_weight),
        None => pixel_and_delta,
    };
    let scalar = |t: Tensor<1>| t.into_scalar::<f32>() as f64;
    Loss { mse: scalar(mse), delta: scalar(delta), feature: feature.map(scalar), total }
}

/// The renders of one training step (seeds from the step index) and their pixel weights.
struct TrainingBatch {
    images: Vec<RgbImage>,
    /// `[batch, size, size]`, row-major.
    pixel_weights: Vec<f32>,
}

impl TrainingBatch {
    fn new(cfg: &GanTraining, step: usize) -> Self {
        let size = cfg.generator.size as u32;
        let mut batch = TrainingBatch { images: Vec::with_capacity(cfg.batch), pixel_weights: Vec::new() };
        for i in 0..cfg.batch {
            let seed = training_seed(cfg.seed, (step * cfg.batch + i) as u64);
            let supersample = Rng::stream(seed, 0x6761_6e00).chance(cfg.supersample_fraction);
            let (sample, mask) = sample_with_mask(seed, size, supersample);
            batch.images.push(sample.image);
            batch.pixel_weights.extend(detail_weights(&mask, size, cfg.detail_weight));
        }
        batch
    }

    fn tensors(&self, size: u32, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let shape = [self.images.len(), 1, size as usize, size as usize];
        let weights = Tensor::from_data(TensorData::new(self.pixel_weights.clone(), shape), device);
        (images_to_tensor(&self.images, size, device), weights)
    }
}

/// The parts [`GanTraining::detail_weight`] weighs up.
const DETAIL_PARTS: [Part; 5] = [Part::Eyes, Part::Mouth, Part::Eyewear, Part::FacialHair, Part::Earrings];

/// Pixel weights at `size` from a mask at `size` or a multiple of it: 1 plus `detail_weight`
/// times the share of the pixel's footprint that shows a detail part.
fn detail_weights(mask: &PartMask, size: u32, detail_weight: f32) -> Vec<f32> {
    let scale = mask.size / size;
    let footprint = (scale * scale) as f32;
    (0..size * size)
        .map(|p| {
            let (x, y) = (p % size * scale, p / size * scale);
            let details = (0..scale * scale)
                .filter(|i| DETAIL_PARTS.contains(&mask.get(x + i % scale, y + i / scale)))
                .count();
            1.0 + detail_weight * details as f32 / footprint
        })
        .collect()
}

/// Trains encoder and generator (resuming from `options.dir` if it holds checkpoints); the
/// returned model is on the autodiff device, ready for [`fit_mapping`].
pub fn train(cfg: &GanTraining, options: TrainOptions) -> Result<(Autoencoder, Summary)> {
    let device = Device::flex().autodiff();
    let model = match &cfg.init_from {
        Some(dir) => {
            let files = GanFiles::in_dir(dir);
            Autoencoder::from_files(&files.generator, &files.encoder, cfg, &device)?
        }
        None => cfg.init(&device)?,
    };
    let fresh = Trainee { model, optim: AdamConfig::new().init() };
    let run = Run::open(TrainOptions { steps: cfg.steps, ..options }, fresh)?;
    let batch_cfg = cfg.clone();
    let batches =
        spawn_ordered(run.start_step(), cfg.steps, cfg.workers, move |step| TrainingBatch::new(&batch_cfg, step));
    let size = cfg.generator.size as u32;
    let features = match &cfg.feature_clip {
        Some(path) if cfg.feature_weight > 0.0 => Some(FeatureNetwork::load(path, &device)?),
        _ => None,
    };
    let (trained, summary) = run.train(|step, Trainee { model, mut optim }| {
        let batch = batches.recv().expect("the batch threads run until the last step");
        let (images, pixel_weights) = batch.tensors(size, &device);
        let loss = loss(&model, images, pixel_weights, features.as_ref(), cfg, step);
        let value = loss.total.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.warmup, 0.05);
        let model = optim.step(lr, model, grads);
        let mut logged = vec![("loss", value), ("mse", loss.mse), ("delta", loss.delta)];
        logged.extend(loss.feature.map(|f| ("feature", f)));
        Ok((Trainee { model, optim }, logged))
    })?;
    Ok((trained.model, summary))
}

/// The mean of the w+ rows of `n` training renders not seen in training, `[n, style_dim]`.
fn encoded_w_bank(model: &Autoencoder, cfg: &GanTraining) -> Tensor<2> {
    let first = cfg.steps * cfg.batch;
    let wplus = encode_training_renders(&model.encoder, cfg.generator.size as u32, cfg.seed, first..first + cfg.mapping.bank);
    wplus.mean_dim(1).squeeze_dim(1)
}

/// The encoder's w+ `[n, layers, w]` for the training renders `indices` of `seed`.
fn encode_training_renders(encoder: &Encoder4Editing, size: u32, seed: u64, indices: std::ops::Range<usize>) -> Tensor<3> {
    let device = encoder.latlayer1.weight.lazy_device();
    let indices: Vec<usize> = indices.collect();
    let chunks: Vec<Tensor<3>> = indices
        .chunks(128)
        .map(|chunk| {
            let images: Vec<RgbImage> = chunk.iter().map(|&i| sample(training_seed(seed, i as u64), size, false).image).collect();
            encoder.encode(images_to_tensor(&images, size, &device))
        })
        .collect();
    Tensor::cat(chunks, 0)
}

/// Sliced Wasserstein distance between two equally sized point sets `[N, D]` along `directions`
/// `[D, K]` (unit columns), plus the squared distance of their means.
fn distribution_distance(a: Tensor<2>, b: Tensor<2>, directions: Tensor<2>) -> Tensor<1> {
    let (pa, pb) = (a.clone().matmul(directions.clone()).sort(0), b.clone().matmul(directions).sort(0));
    let mean_gap = (a.mean_dim(0) - b.mean_dim(0)).square().mean();
    (pa - pb).square().mean() + mean_gap
}

/// What fitting the mapping network gives: the generator with the fitted mapping (inference
/// device), its mean w and the final distance to the encoded w.
pub struct FittedMapping {
    pub generator: Generator,
    pub latent_avg: Tensor<1>,
    pub final_distance: f64,
}

/// Fits `model`'s mapping network (on the autodiff device) to the encoded w of fresh renders.
pub fn fit_mapping(model: &Autoencoder, cfg: &GanTraining) -> Result<FittedMapping> {
    let inference = model.valid();
    let bank = encoded_w_bank(&inference, cfg);
    let fit = &cfg.mapping;
    let device = model.encoder_device();
    let dim = cfg.generator.style_dim;
    let mut mapping: MappingNetwork = model.generator.style.clone();
    let mut optim = AdamConfig::new().init();
    let mut rng = Rng::stream(cfg.seed, 0x6d61_7070);
    let mut final_distance = f64::NAN;
    for step in 0..fit.steps {
        let z = Tensor::<2>::random([fit.batch, dim], Distribution::Normal(0.0, 1.0), &device);
        let picks: Vec<i64> = (0..fit.batch).map(|_| rng.below(cfg.mapping.bank) as i64).collect();
        let picks = Tensor::<1, Int>::from_data(TensorData::new(picks, [fit.batch]), &bank.device());
        let target = bank.clone().select(0, picks).autodiff();
        let directions = Tensor::<2>::random([dim, fit.projections], Distribution::Normal(0.0, 1.0), &device);
        let directions = directions.clone() / directions.square().sum_dim(0).sqrt();
        let distance = distribution_distance(mapping.forward(z), target, directions);
        final_distance = distance.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(distance.backward(), &mapping);
        mapping = optim.step(cosine_lr(step, fit.steps, fit.lr, fit.steps / 20, 0.02), mapping, grads);
    }
    let device = inference.encoder_device();
    let mut generator = inference.generator;
    generator.style = mapping.valid();
    let latent_avg = generator.mean_latent(8192, &device);
    Ok(FittedMapping { generator, latent_avg, final_distance })
}

/// The encoder as e4e ships it: `latent_avg` (as `[n_styles, w]` rows) added to its output, and
/// subtracted from w0's bias so that the encoding is unchanged.
pub fn encoder_with_latent_avg(encoder: &Encoder4Editing, latent_avg: Tensor<1>) -> Encoder4Editing {
    let mut encoder = encoder.clone();
    let w0 = &mut encoder.styles[0].linear;
    let shift = latent_avg.clone().div_scalar(w0.lr_mul);
    w0.bias = Param::from_tensor(w0.bias.val() - shift);
    encoder.latent_avg = Some(latent_avg.unsqueeze_dim::<2>(0).repeat_dim(0, encoder.n_styles()));
    encoder
}

/// Writes the generator (rosinality layout, `latent_avg`) and the encoder (e4e layout).
pub fn export(
    fitted: &FittedMapping,
    encoder: &Encoder4Editing,
    generator_path: &Path,
    encoder_path: &Path,
    precision: Precision,
) -> Result<()> {
    crate::weights::stylegan2::save(generator_path, &fitted.generator, fitted.latent_avg.clone(), precision)?;
    crate::weights::e4e::save_encoder(
        encoder_path,
        &encoder_with_latent_avg(encoder, fitted.latent_avg.clone()),
        precision,
    )
}

/// Images `[B, 3, H, W]` (nominally [−1, 1]) → RGB images, clamped.
pub fn tensor_to_images(images: Tensor<4>) -> Vec<RgbImage> {
    let [batch, _, h, w] = images.dims();
    let values = images
        .clamp(-1.0, 1.0)
        .add_scalar(1.0)
        .mul_scalar(127.5)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float data");
    let plane = h * w;
    (0..batch)
        .map(|b| {
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let p = y as usize * w + x as usize;
                let at = |c: usize| values[(b * 3 + c) * plane + p].round() as u8;
                image::Rgb([at(0), at(1), at(2)])
            })
        })
        .collect()
}

/// PSNR in dB of `b` against `a` (8-bit).
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-10)).log10()
}

/// What the evaluation measures on held-out renders.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GanMetrics {
    pub eval_images: usize,
    /// Mean over images of the reconstruction PSNR (render → encoder → w+ → generator).
    pub psnr_db: f64,
    /// The worst image's.
    pub psnr_min_db: f64,
    /// The judge's accuracy per factor on the reconstructions (vs the renders' true attributes).
    pub judge_accuracy: serde_json::Map<String, serde_json::Value>,
    pub judge_accuracy_min: f64,
    /// The same on the renders themselves, for reference.
    pub judge_accuracy_renders_min: f64,
    /// How far the encoded w+ is from one w per portrait: the mean summed squared distance of a
    /// portrait's rows from their mean, and of the portraits' mean rows from the overall mean.
    pub wplus_layer_spread: f64,
    pub wplus_portrait_spread: f64,
    /// Median ms per image at batch 1 on this machine's CPU (flex).
    pub inversion_ms: f64,
    pub synthesis_ms: f64,
}

/// Render | reconstruction pairs of the first held-out renders.
pub type Pairs = Vec<(RgbImage, RgbImage)>;

/// Reconstructs `n` held-out renders and measures PSNR, the judge's accuracy and timings; returns
/// the first `keep` pairs too.
pub fn evaluate(
    generator: &Generator,
    encoder: &Encoder4Editing,
    judge: &Judge,
    n: usize,
    keep: usize,
) -> (GanMetrics, Pairs) {
    let device = encoder.latlayer1.weight.lazy_device();
    let size = generator.config.size as u32;
    let renders: Vec<_> = (0..n).map(|i| sample(held_out_seed(i as u64), size, false)).collect();
    let images: Vec<RgbImage> = renders.iter().map(|s| s.image.clone()).collect();
    let mut reconstructions = Vec::with_capacity(n);
    let mut codes = Vec::new();
    for chunk in images.chunks(100) {
        let wplus = encoder.encode(images_to_tensor(chunk, size, &device));
        reconstructions.extend(tensor_to_images(generator.synthesis(wplus.clone(), &Noise::Stored)));
        codes.push(wplus);
    }
    let codes = Tensor::cat(codes, 0);
    let row_means = codes.clone().mean_dim(1);
    let spread = |t: Tensor<3>| t.square().sum_dim(2).mean().into_scalar::<f32>() as f64;
    let wplus_layer_spread = spread(codes - row_means.clone());
    let wplus_portrait_spread = spread(row_means.clone() - row_means.mean_dim(0));
    let psnrs: Vec<f64> = images.iter().zip(&reconstructions).map(|(a, b)| psnr(a, b)).collect();
    let attributes: Vec<_> = renders.iter().map(|s| s.attributes).collect();
    let on_reconstructions = judge::accuracy(&judge.judge(&reconstructions), &attributes);
    let on_renders = judge::accuracy(&judge.judge(&images), &attributes);
    let min = |acc: &[f32; 12]| acc.iter().fold(1.0f64, |m, a| m.min(*a as f64));

    let one = images_to_tensor(&images[..1], size, &device);
    let inversion_ms = median_ms(|| {
        encoder.encode(one.clone()).into_data();
    });
    let wplus = encoder.encode(one);
    let synthesis_ms = median_ms(|| {
        generator.synthesis(wplus.clone(), &Noise::Stored).into_data();
    });
    let metrics = GanMetrics {
        eval_images: n,
        psnr_db: psnrs.iter().sum::<f64>() / n.max(1) as f64,
        psnr_min_db: psnrs.iter().copied().fold(f64::INFINITY, f64::min),
        judge_accuracy: accuracy_map(&on_reconstructions),
        judge_accuracy_min: min(&on_reconstructions),
        judge_accuracy_renders_min: min(&on_renders),
        wplus_layer_spread,
        wplus_portrait_spread,
        inversion_ms,
        synthesis_ms,
    };
    (metrics, images.into_iter().zip(reconstructions).take(keep).collect())
}

/// Median wall time of `f` over 30 runs after 5 warm-up runs.
fn median_ms(mut f: impl FnMut()) -> f64 {
    for _ in 0..5 {
        f();
    }
    let mut times: Vec<f64> = (0..30)
        .map(|_| {
            let began = Instant::now();
            f();
            began.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// A Gaussian over w+ with the mean and covariance of the encoder's codes for training renders: the
/// ex-post density estimate of deterministic autoencoders (Ghosh et al., 2020, "From variational
/// to deterministic autoencoders"), from which random portraits are drawn.
pub struct WPlusPrior {
    /// `[1, layers, w]`.
    mean: Tensor<3>,
    /// The centred codes `[n, layers·w]` over √n: z `[k, n]` ~ N(0, I) times this has their covariance.
    deviations: Tensor<2>,
}

impl WPlusPrior {
    /// Fits the prior to the codes of the first `n` (≥ 2) training renders of `seed`.
    pub fn fit(encoder: &Encoder4Editing, size: u32, seed: u64, n: usize) -> WPlusPrior {
        let codes = encode_training_renders(encoder, size, seed, 0..n);
        let [_, layers, dim] = codes.dims();
        let mean = codes.clone().mean_dim(0);
        let deviations = (codes - mean.clone()).reshape([n, layers * dim]).div_scalar((n as f64).sqrt());
        WPlusPrior { mean, deviations }
    }

    /// `n` codes `[n, layers, w]` from z ~ N(0, I) drawn with `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Tensor<3> {
        let [fitted, _] = self.deviations.dims();
        let [_, layers, dim] = self.mean.dims();
        let mut rng = Rng::stream(seed, 0x7361_6d70);
        let z: Vec<f32> = (0..n * fitted).map(|_| rng.normal()).collect();
        let z = Tensor::<2>::from_data(TensorData::new(z, [n, fitted]), &self.mean.device());
        z.matmul(self.deviations.clone()).reshape([n, layers, dim]) + self.mean.clone()
    }
}

/// `n` random portraits: codes from `prior`, stored noise.
pub fn samples(generator: &Generator, prior: &WPlusPrior, n: usize, seed: u64) -> Vec<RgbImage> {
    tensor_to_images(generator.synthesis(prior.sample(n, seed), &Noise::Stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> GanTraining {
        let channels = BTreeMap::from([(4, 16), (8, 16), (16, 16), (32, 16), (64, 8)]);
        GanTraining {
            steps: 12,
            batch: 4,
            lr: 3e-3,
            warmup: 2,
            generator: StyleGan2Config::new(64).with_style_dim(16).with_n_mlp(2).with_channels(Some(channels)),
            encoder: E4eConfig {
                stage_units: Some([1; 4]),
                stage_channels: Some([4, 8, 12, 16]),
                ..GanTraining::builtin().encoder
            },
            mapping: MappingFit { bank: 64, steps: 30, batch: 64, lr: 0.5, projections: 8 },
            ..GanTraining::builtin()
        }
    }

    #[test]
    fn a_few_steps_lower_the_reconstruction_loss_and_the_export_loads_back() {
        let cfg = tiny();
        let dir = tempfile::tempdir().unwrap();
        let options = TrainOptions {
            dir: dir.path().to_path_buf(),
            steps: cfg.steps,
            checkpoint_every: 100,
            log_every: 1,
            keep: 1,
            label: "gan".into(),
        };
        let (model, _) = train(&cfg, options).unwrap();
        let log = std::fs::read_to_string(dir.path().join("losses.jsonl")).unwrap();
        let mse: Vec<f64> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["mse"].as_f64().unwrap())
            .collect();
        let (first, last) = (mse[..3].iter().sum::<f64>(), mse[mse.len() - 3..].iter().sum::<f64>());
        assert!(last < 0.8 * first, "mse {mse:?}");

        let fitted = fit_mapping(&model, &cfg).unwrap();
        let (g_path, e_path) = (dir.path().join("g.safetensors"), dir.path().join("e.safetensors"));
        export(&fitted, &model.encoder.valid(), &g_path, &e_path, Precision::F32).unwrap();
        let loaded = crate::weights::stylegan2::load(&g_path, None, None, &Device::flex()).unwrap();
        assert_eq!(loaded.generator.config, cfg.generator);
        let encoder = crate::weights::e4e::load_encoder(&e_path, None, &Device::flex()).unwrap();
        let images = TrainingBatch::new(&cfg, 99).tensors(64, &Device::flex()).0;
        let original = model.valid().reconstruct(images.clone()).1;
        let reloaded = loaded.generator.synthesis(encoder.encode(images.clone()), &Noise::Stored);
        let gap = (original.clone() - reloaded).abs().max().into_scalar::<f32>();
        assert!(gap < 1e-4, "the exported pair reconstructs like the trained one (max gap {gap})");

        let resumed = Autoencoder::from_files(&g_path, &e_path, &cfg, &Device::flex()).unwrap();
        let reconstruction = resumed.reconstruct(images).1;
        assert!(resumed.encoder.latent_avg.is_none(), "training encodes w+ itself");
        let gap = (original - reconstruction).abs().max().into_scalar::<f32>();
        assert!(gap < 1e-4, "a second stage starts from the exported pair (max gap {gap})");

        // Samples from the prior have the codes' mean and spread, per coordinate.
        let n = 200;
        let prior = WPlusPrior::fit(&encoder, 64, cfg.seed, n);
        let codes = encode_training_renders(&encoder, 64, cfg.seed, 0..n);
        let drawn = prior.sample(4000, 7);
        let coordinates = |codes: Tensor<3>| {
            let [n, layers, dim] = codes.dims();
            codes.reshape([n, layers * dim])
        };
        let (codes, drawn) = (coordinates(codes), coordinates(drawn));
        let spread = codes.clone().var(0).sqrt();
        let mean_gap = ((drawn.clone().mean_dim(0) - codes.clone().mean_dim(0)).abs() / spread.clone()).max().into_scalar::<f32>();
        let spread_ratio = drawn.var(0).sqrt() / spread;
        let (low, high) = (spread_ratio.clone().min().into_scalar::<f32>(), spread_ratio.max().into_scalar::<f32>());
        assert!(mean_gap < 0.15, "sample mean within 0.15 σ of the codes' (worst {mean_gap})");
        assert!(low > 0.85 && high < 1.15, "sample spread within 15 % of the codes' ({low}..{high})");
        assert_eq!(samples(&loaded.generator, &prior, 3, 1).len(), 3);
    }

    #[test]
    fn the_feature_loss_compares_tower_features_and_trains_the_autoencoder_not_the_tower() {
        let dir = tempfile::tempdir().unwrap();
        let clip_path = dir.path().join("clip.safetensors");
        crate::weights::clip::save_clip(&crate::models::clip::ClipConfig::tiny().init(&Device::flex()), &clip_path, &[]).unwrap();
        let cfg = GanTraining { feature_weight: 0.5, feature_clip: Some(clip_path.clone()), ..tiny() };
        let device = Device::flex().autodiff();
        let network = FeatureNetwork::load(&clip_path, &device).unwrap();
        let model = cfg.init(&device).unwrap();
        let (images, pixel_weights) = TrainingBatch::new(&cfg, 0).tensors(64, &device);

        let with = loss(&model, images.clone(), pixel_weights.clone(), Some(&network), &cfg, 0);
        let without = loss(&model, images.clone(), pixel_weights, None, &cfg, 0);
        let feature = with.feature.unwrap();
        assert!(feature > 1e-4 && feature <= 2.0, "1 − cos of an untrained reconstruction: {feature}");
        let added = (with.total.clone() - without.total).into_scalar::<f32>() as f64;
        assert!((added - 0.5 * feature).abs() < 1e-5, "the weighted term is added to the total ({added} vs {feature})");
        let same = network.features(images.clone()) * network.features(images).detach();
        assert!((same.sum_dim(1).mean().into_scalar::<f32>() - 1.0).abs() < 1e-5, "a perfect reconstruction costs nothing");

        let grads = with.total.backward();
        assert!(network.tower.conv1.weight.grad(&grads).is_none(), "the tower is frozen");
        assert!(model.generator.to_rgb1.conv.weight.grad(&grads).is_some(), "the generator is trained");
        let missing = GanTraining { feature_clip: None, ..cfg };
        assert!(missing.validate().is_err(), "a feature weight without a CLIP file is refused");
    }

    #[test]
    fn detail_weights_follow_the_small_parts_at_the_training_size() {
        // A 4² mask (2× supersampled) for a 2² image: one pixel all mouth, two a quarter eyes.
        let labels = vec![
            4, 4, 1, 1, //
            4, 4, 3, 1, //
            0, 0, 9, 9, //
            0, 0, 3, 9,
        ];
        let mask = PartMask { size: 4, labels };
        assert_eq!(detail_weights(&mask, 2, 3.0), vec![4.0, 1.75, 1.0, 1.75]);
        assert_eq!(detail_weights(&mask, 4, 0.0), vec![1.0; 16], "weight 0 is the plain loss");
    }
}
