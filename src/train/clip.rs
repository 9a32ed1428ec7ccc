//! Training our own small CLIP on the built-in domain and measuring it.
//!
//! Pairs are (render, caption) made on the fly by background threads: every image a fresh
//! training seed, its caption drawn from the training templates. Captions mention only some
//! factors, so many pairs in a batch match a caption in part; a large batch gives the loss
//! enough near misses for the factor words to bind. The loss is open_clip's: symmetric InfoNCE
//! with a learnable temperature (its log clamped to ln 100).
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use serde::Serialize;

use super::batches::spawn_ordered;
use super::{Run, Summary, TrainOptions, Trainee, cosine_lr};
use crate::models::clip::preprocess::clip_normalized;
use crate::models::clip::tokenizer::ClipTokenizer;
use crate::models::clip::{Activation, Clip, ClipConfig, TextConfig, TextPooling, TransformerConfig, VisionConfig, VisionTransformer};
use crate::world::captions::{Kind, TemplateSet, caption, caption_mentioning, phrases};
use crate::world::dataset::{Degradations, Sample, held_out_seed, render_sampled, sample, training_seed};
use crate::world::factors::{Factor, sample_attributes};
use crate::world::render::render;
use crate::world::rng::Rng;
use crate::Result;

/// CLIP's vocabulary (the real BPE tokenizer's ids).
const VOCAB_SIZE: usize = 49408;
/// open_clip clamps the learnt temperature at 100.
const MAX_LOG_LOGIT_SCALE: f32 = 4.605_170_2;

/// The built-in CLIP: a 64² ViT with 8² patches and a 32-token text transformer, both 128 wide
/// and 4 deep, in a 128-d joint space. Heads are width / 64 and the MLP QuickGELU, which is what
/// [`crate::weights::clip::load_clip`] infers from an open_clip file.
pub fn builtin_clip_config() -> ClipConfig {
    let tower = |width: usize, layers: usize| TransformerConfig::new(width, layers, width / 64, 4 * width, Activation::QuickGelu);
    ClipConfig {
        embed_dim: 128,
        vision: VisionConfig::new(64, 8, tower(128, 4), 128),
        text: TextConfig::new(32, VOCAB_SIZE, tower(128, 4), TextPooling::Argmax).with_embed_dim(Some(128)),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ClipTraining {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub warmup: usize,
    /// The share of training images left undegraded (the rest are blurred, noised, … as the
    /// judge's are, so that generator outputs and reconstructions are not out of distribution).
    pub clean_fraction: f32,
    /// The share rendered at 2× and downscaled.
    pub supersample_fraction: f32,
    pub degradations: Degradations,
    /// Background rendering threads.
    pub workers: usize,
    /// The share of the batch made of counterfactual pairs: a render and the same portrait with
    /// one factor changed, both captions saying that factor, so that the contrastive loss can
    /// only tell them apart by the factor's words (binds the shape factors that plain captions
    /// leave unlearnt).
    pub counterfactual_fraction: f32,
    /// LiT (Zhai et al. 2022, "locked-image text tuning"): when above 0, the image tower is first
    /// trained this many steps on the factor labels (one linear head per factor, as LiT's image
    /// models are pretrained on labelled images), then locked while contrastive training tunes the
    /// text tower to it. Contrastive training alone learns the colour factors and never the shapes
    /// (docs/clip.md); a supervised tower learns both in a few hundred steps.
    pub locked_image_steps: usize,
}

impl Default for ClipTraining {
    fn default() -> Self {
        ClipTraining {
            seed: 0,
            steps: 1200,
            batch: 128,
            lr: 1e-3,
            warmup: 150,
            clean_fraction: 0.5,
            supersample_fraction: 0.2,
            degradations: Degradations::default(),
            workers: 1,
            counterfactual_fraction: 0.0,
            locked_image_steps: 0,
        }
    }
}

/// One batch: normalized pixels [B, 3, R, R] (row-major) and token ids [B, L].
struct PairBatch {
    pixels: Vec<f32>,
    tokens: Vec<i64>,
}

fn make_batch(cfg: &ClipTraining, config: &ClipConfig, tokenizer: &ClipTokenizer, step: usize) -> Result<PairBatch> {
    let size = config.vision.image_size;
    let mut pixels = Vec::with_capacity(cfg.batch * 3 * size * size);
    let mut captions = Vec::with_capacity(cfg.batch);
    let mut i = 0;
    while i < cfg.batch {
        let seed = training_seed(cfg.seed, (step * cfg.batch + i) as u64);
        let mut rng = Rng::stream(seed, 0x636c_6970);
        let supersample = rng.chance(cfg.supersample_fraction);
        let Sample { attributes, image, .. } = sample(seed, size as u32, supersample);
        // (No draw when off: a run without pairs sees the batches it always saw.)
        if cfg.counterfactual_fraction > 0.0 && i + 1 < cfg.batch && rng.chance(cfg.counterfactual_fraction) {
            let factor = *rng.pick(&Factor::ALL);
            let changed = attributes.with_other_value(factor, &mut rng);
            // The twin is rendered and degraded exactly like the original, so that the factor is
            // the only thing that tells their pixels apart (a different blur or colour jitter
            // would change far more pixels than a smile does).
            let twin = render_sampled(seed, &changed, size as u32, supersample).0;
            let mut twin_rng = rng.clone();
            push_degraded(cfg, &mut pixels, &image, &mut rng);
            push_degraded(cfg, &mut pixels, &twin, &mut twin_rng);
            captions.push(caption_mentioning(&attributes, seed, TemplateSet::Train, factor));
            captions.push(caption_mentioning(&changed, seed ^ 1, TemplateSet::Train, factor));
            i += 2;
        } else {
            push_degraded(cfg, &mut pixels, &image, &mut rng);
            captions.push(caption(&attributes, seed, TemplateSet::Train));
            i += 1;
        }
    }
    let tokens = tokenizer.tokenize_batch(&captions, config.text.context_length)?;
    Ok(PairBatch { pixels, tokens })
}

/// Appends `image`'s normalized pixels, degraded unless it is drawn to stay clean.
fn push_degraded(cfg: &ClipTraining, pixels: &mut Vec<f32>, image: &image::RgbImage, rng: &mut Rng) {
    let image = if rng.chance(cfg.clean_fraction) { image.clone() } else { cfg.degradations.apply(image, rng) };
    pixels.extend(clip_normalized(&image));
}

fn batch_tensors(batch: PairBatch, config: &ClipConfig, device: &Device) -> (Tensor<4>, Tensor<2, Int>) {
    let (size, len) = (config.vision.image_size, config.text.context_length);
    let n = batch.tokens.len() / len;
    let pixels = Tensor::from_data(TensorData::new(batch.pixels, [n, 3, size, size]), device);
    let tokens = Tensor::from_data(TensorData::new(batch.tokens, [n, len]), device);
    (pixels, tokens)
}

/// open_clip's loss on a batch of matching pairs (row i of `pixels` goes with row i of `tokens`).
pub fn contrastive_loss(model: &Clip, pixels: Tensor<4>, tokens: Tensor<2, Int>) -> Tensor<1> {
    let image = model.encode_image_normalized(pixels);
    let text = model.encode_text_normalized(tokens);
    let scale = model.logit_scale.val().clamp(0.0, MAX_LOG_LOGIT_SCALE).exp();
    symmetric_info_nce(image.matmul(text.transpose()) * scale.unsqueeze())
}

/// Mean of the cross-entropies of image→text and text→image classification, the targets
/// being the diagonal.
fn symmetric_info_nce(logits: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let eye = Tensor::<2>::eye(n, &logits.device());
    let image_to_text = (log_softmax(logits.clone(), 1) * eye.clone()).sum();
    let text_to_image = (log_softmax(logits, 0) * eye).sum();
    (image_to_text + text_to_image).div_scalar(-2.0 * n as f64)
}

fn optimizer() -> burn::optim::ModuleOptimizer {
    // CLIP's β₂ and ε; clipping keeps the early transformer steps tame.
    AdamConfig::new()
        .with_beta_2(0.98)
        .with_epsilon(1e-6)
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)))
        .init()
}

/// Trains `config` (resuming from `options.dir` if it holds checkpoints) and returns the
/// inference model. With [`ClipTraining::locked_image_steps`], the image tower's supervised
/// stage runs first (in `options.dir`/image-tower, resumable too) and its summary comes second.
pub fn train(cfg: &ClipTraining, config: &ClipConfig, options: TrainOptions) -> Result<(Clip, Summary, Option<Summary>)> {
    let device = Device::flex().autodiff();
    let mut fresh_model = config.init(&device);
    let image_locked = cfg.locked_image_steps > 0;
    let image_tower_summary = if image_locked {
        let (tower, summary) = pretrain_image_tower(cfg, config, &options)?;
        fresh_model.visual = tower;
        Some(summary)
    } else {
        None
    };
    let fresh = Trainee { model: fresh_model, optim: optimizer() };
    let options = TrainOptions { steps: cfg.steps, ..options };
    let run = Run::open(options, fresh)?;
    let tokenizer = std::sync::Arc::new(ClipTokenizer::new()?);
    let (batch_cfg, batch_config) = (cfg.clone(), config.clone());
    let batches = spawn_ordered(run.start_step(), cfg.steps, cfg.workers, move |step| make_batch(&batch_cfg, &batch_config, &tokenizer, step));
    let (trained, summary) = run.train(|step, Trainee { mut model, mut optim }| {
        if image_locked {
            // Untracked parameters: the tower's forward pass records no graph and gets no update.
            model.visual = model.visual.no_grad();
        }
        let batch = batches.recv().expect("the batch threads run until the last step")?;
        let (pixels, tokens) = batch_tensors(batch, config, &device);
        let loss = contrastive_loss(&model, pixels, tokens);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.warmup, 0.02);
        let model = optim.step(lr, model, grads);
        let scale = model.logit_scale() as f64;
        Ok((Trainee { model, optim }, vec![("loss", value), ("logit_scale", scale)]))
    })?;
    Ok((trained.model.valid(), summary, image_tower_summary))
}

/// LiT's image model: the image tower with one linear classifier per factor on its embedding.
#[derive(Module, Debug)]
struct LabelledImageTower {
    tower: VisionTransformer,
    heads: Vec<Linear>,
}

/// Renders (degraded and supersampled as the contrastive pairs are) with their factor values,
/// `[B, 12]` row-major.
struct LabelledBatch {
    pixels: Vec<f32>,
    labels: Vec<i64>,
}

fn make_labelled_batch(cfg: &ClipTraining, size: usize, step: usize) -> LabelledBatch {
    let mut batch = LabelledBatch { pixels: Vec::with_capacity(cfg.batch * 3 * size * size), labels: Vec::with_capacity(cfg.batch * 12) };
    for i in 0..cfg.batch {
        // Seeds apart from the contrastive stage's: the text stage sees new portraits.
        let seed = training_seed(cfg.seed ^ 0x6c69_74, (step * cfg.batch + i) as u64);
        let mut rng = Rng::stream(seed, 0x6c69_74);
        let Sample { attributes, image, .. } = sample(seed, size as u32, rng.chance(cfg.supersample_fraction));
        push_degraded(cfg, &mut batch.pixels, &image, &mut rng);
        batch.labels.extend(Factor::ALL.iter().map(|f| attributes.get(*f) as i64));
    }
    batch
}

/// Trains the image tower on the factor labels for `cfg.locked_image_steps` (resuming from its
/// checkpoints) and returns it.
fn pretrain_image_tower(cfg: &ClipTraining, config: &ClipConfig, options: &TrainOptions) -> Result<(VisionTransformer, Summary)> {
    let device = Device::flex().autodiff();
    let heads = Factor::ALL.iter().map(|f| LinearConfig::new(config.embed_dim, f.count()).init(&device)).collect();
    let fresh = Trainee { model: LabelledImageTower { tower: config.vision.init(&device), heads }, optim: optimizer() };
    let steps = cfg.locked_image_steps;
    let options = TrainOptions { dir: options.dir.join("image-tower"), steps, label: "clip image tower".into(), ..options.clone() };
    let run = Run::open(options, fresh)?;
    let (batch_cfg, size) = (cfg.clone(), config.vision.image_size);
    let batches = spawn_ordered(run.start_step(), steps, cfg.workers, move |step| make_labelled_batch(&batch_cfg, size, step));
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (trained, summary) = run.train(|step, Trainee { model, mut optim }| {
        let batch = batches.recv().expect("the batch threads run until the last step");
        let n = batch.labels.len() / Factor::ALL.len();
        let pixels = Tensor::<4>::from_data(TensorData::new(batch.pixels, [n, 3, size, size]), &device);
        let labels = Tensor::<2, Int>::from_data(TensorData::new(batch.labels, [n, Factor::ALL.len()]), &device);
        let features = model.tower.forward(pixels);
        let losses: Vec<Tensor<1>> = model
            .heads
            .iter()
            .enumerate()
            .map(|(k, head)| loss_fn.forward(head.forward(features.clone()), labels.clone().slice([0..n, k..k + 1]).reshape([n])))
            .collect();
        // A sum, not a mean: each factor's head gets the gradient it would get alone.
        let loss = Tensor::cat(losses, 0).sum();
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(cosine_lr(step, steps, cfg.lr, cfg.warmup, 0.02), model, grads);
        Ok((Trainee { model, optim }, vec![("factor_loss", value)]))
    })?;
    Ok((trained.model.tower, summary))
}

/// The model of the newest checkpoint in `dir` and its step, if there is one (to export a
/// preview while training goes on).
pub fn latest_checkpoint(config: &ClipConfig, dir: &std::path::Path) -> Result<Option<(usize, Clip)>> {
    let device = Device::flex().autodiff();
    let fresh = Trainee { model: config.init(&device), optim: optimizer() };
    let options = TrainOptions { dir: dir.to_path_buf(), steps: 0, checkpoint_every: 1, log_every: 1, keep: usize::MAX, label: "clip".into() };
    let (step, state) = Run::open(options, fresh)?.into_state();
    Ok((step > 0).then(|| (step, state.model.valid())))
}

// ---- evaluation ---------------------------------------------------------------------------------

/// The zero-shot prompts: two templates (one of training's, one held out) with the noun "face"
/// and each value's first "with"-kind phrase, e.g. "a face with red hair", "this is a face wearing
/// glasses".
pub const ZERO_SHOT_PROMPTS: [(&str, &str); 2] = [("train_template", "a face {with}"), ("held_out_template", "this is a face {with}")];

/// Every value has a "with" phrase ("with red hair", "without glasses", "on a blue background").
fn with_phrase(factor: Factor, value: usize) -> &'static str {
    phrases(factor, value).iter().find(|p| p.kind == Kind::With).map(|p| p.text).expect("every value has a with-phrase")
}

fn prompt(template: &str, factor: Factor, value: usize) -> String {
    template.replace("{with}", with_phrase(factor, value))
}

/// What `deltastudio train clip` reports: zero-shot accuracy per factor and prompt template,
/// and the DeltaSpace measurement.
#[derive(Clone, Debug, Serialize)]
pub struct ClipEvaluation {
    pub images: usize,
    /// {prompt set: {factor: accuracy}}, chance being 1 / (number of values).
    pub zero_shot: serde_json::Map<String, serde_json::Value>,
    pub zero_shot_prompts: serde_json::Map<String, serde_json::Value>,
    /// {factor: accuracy} of a softmax-regression probe on the image features, trained on the
    /// features of `images` further held-out renders: whether the image tower encodes a factor
    /// linearly at all, text aside. Zero-shot far below it points at the text side.
    pub image_probe: serde_json::Map<String, serde_json::Value>,
    pub delta_space: DeltaSpace,
}

/// Paper §3.1 on our domain: for held-out pairs differing in one factor, the mean cosine of
/// (Δ image feature, Δ text feature) against the mean cosine of raw matching image/text features.
#[derive(Clone, Debug, Serialize)]
pub struct DeltaSpace {
    pub pairs: usize,
    /// The texts: [`ZERO_SHOT_PROMPTS`]' training template with the old and the new value.
    pub prompt: &'static str,
    /// {factor: {"delta_cos", "raw_cos", "pairs"}}.
    pub per_factor: serde_json::Map<String, serde_json::Value>,
    pub delta_cos: f64,
    pub raw_cos: f64,
    /// Control: Δ image against the Δ text of the next pair (another factor).
    pub delta_cos_mismatched: f64,
}

/// Normalized image features of `images` (64² renders), in chunks.
pub fn image_features(model: &Clip, config: &ClipConfig, images: &[image::RgbImage], device: &Device) -> Tensor<2> {
    let size = config.vision.image_size;
    let chunks = images
        .chunks(256)
        .map(|chunk| {
            let pixels: Vec<f32> = chunk.iter().flat_map(clip_normalized).collect();
            model.encode_image_normalized(Tensor::from_data(TensorData::new(pixels, [chunk.len(), 3, size, size]), device))
        })
        .collect();
    Tensor::cat(chunks, 0)
}

/// Normalized text features of `texts`.
pub fn text_features(model: &Clip, config: &ClipConfig, tokenizer: &ClipTokenizer, texts: &[String], device: &Device) -> Result<Tensor<2>> {
    let len = config.text.context_length;
    let mut chunks = Vec::new();
    for chunk in texts.chunks(256) {
        let ids = tokenizer.tokenize_batch(chunk, len)?;
        chunks.push(model.encode_text_normalized(Tensor::from_data(TensorData::new(ids, [chunk.len(), len]), device)));
    }
    Ok(Tensor::cat(chunks, 0))
}

fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, e] = t.dims();
    let flat = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 features");
    flat.chunks(e).map(<[f32]>::to_vec).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt().max(1e-12);
    dot / (norm(a) * norm(b))
}

fn rounded(x: f64) -> serde_json::Value {
    serde_json::json!((x * 10000.0).round() / 10000.0)
}

/// Zero-shot accuracy and the DeltaSpace measurement on `n` held-out renders (and `n` pairs).
pub fn evaluate(model: &Clip, config: &ClipConfig, n: usize, device: &Device) -> Result<ClipEvaluation> {
    let tokenizer = ClipTokenizer::new()?;
    let size = config.vision.image_size as u32;
    let samples: Vec<Sample> = (0..n).map(|i| sample(held_out_seed(i as u64), size, false)).collect();
    let images: Vec<image::RgbImage> = samples.iter().map(|s| s.image.clone()).collect();
    let features = rows(image_features(model, config, &images, device));

    let mut zero_shot = serde_json::Map::new();
    let mut zero_shot_prompts = serde_json::Map::new();
    for (name, template) in ZERO_SHOT_PROMPTS {
        zero_shot_prompts.insert(name.into(), template.into());
        let mut per_factor = serde_json::Map::new();
        for factor in Factor::ALL {
            let texts: Vec<String> = (0..factor.count()).map(|v| prompt(template, factor, v)).collect();
            let value_features = rows(text_features(model, config, &tokenizer, &texts, device)?);
            let correct = samples
                .iter()
                .zip(&features)
                .filter(|(s, f)| {
                    let scores = value_features.iter().map(|t| cosine(f, t));
                    let best = scores.enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(i, _)| i);
                    best == Some(s.attributes.get(factor))
                })
                .count();
            per_factor.insert(factor.name().into(), rounded(correct as f64 / n.max(1) as f64));
        }
        zero_shot.insert(name.into(), per_factor.into());
    }
    let image_probe = image_probe(model, config, &samples, &features, device);
    let delta_space = delta_space(model, config, &tokenizer, n, device)?;
    Ok(ClipEvaluation { images: n, zero_shot, zero_shot_prompts, image_probe, delta_space })
}

/// Full-batch steps of the image probe (Adam on standardised features converges well within).
const PROBE_STEPS: usize = 300;

/// The probe's accuracy per factor on `features` (of `samples`); see [`ClipEvaluation::image_probe`].
fn image_probe(
    model: &Clip,
    config: &ClipConfig,
    samples: &[Sample],
    features: &[Vec<f32>],
    device: &Device,
) -> serde_json::Map<String, serde_json::Value> {
    let n = samples.len();
    let size = config.vision.image_size as u32;
    let references: Vec<Sample> = (n..2 * n).map(|i| sample(held_out_seed(i as u64), size, false)).collect();
    let images: Vec<image::RgbImage> = references.iter().map(|s| s.image.clone()).collect();
    let reference_features = rows(image_features(model, config, &images, device));
    let dim = reference_features.first().map_or(0, Vec::len);
    // Standardised with the training features' statistics.
    let mean: Vec<f32> = (0..dim).map(|d| reference_features.iter().map(|f| f[d]).sum::<f32>() / n as f32).collect();
    let std: Vec<f32> = (0..dim)
        .map(|d| (reference_features.iter().map(|f| (f[d] - mean[d]).powi(2)).sum::<f32>() / n as f32).sqrt().max(1e-6))
        .collect();
    let train_device = device.clone().autodiff();
    let matrix = |rows: &[Vec<f32>], device: &Device| {
        let flat: Vec<f32> = rows.iter().flat_map(|f| f.iter().enumerate().map(|(d, x)| (x - mean[d]) / std[d])).collect();
        Tensor::<2>::from_data(TensorData::new(flat, [rows.len(), dim]), device)
    };
    let (x_train, x_test) = (matrix(&reference_features, &train_device), matrix(features, device));
    let mut probe_accuracy = serde_json::Map::new();
    for factor in Factor::ALL {
        let labels: Vec<i64> = references.iter().map(|s| s.attributes.get(factor) as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &train_device);
        let mut probe: Linear = LinearConfig::new(dim, factor.count()).init(&train_device);
        let mut optim = AdamConfig::new().init();
        let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
        for _ in 0..PROBE_STEPS {
            let loss = loss_fn.forward(probe.forward(x_train.clone()), labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &probe);
            probe = optim.step(0.05, probe, grads);
        }
        let predicted = probe.valid().forward(x_test.clone()).argmax(1).into_data().convert::<i64>();
        let predicted = predicted.try_into_vec::<i64>().expect("i64 predictions");
        let correct = samples.iter().zip(&predicted).filter(|(s, p)| s.attributes.get(factor) as i64 == **p).count();
        probe_accuracy.insert(factor.name().into(), rounded(correct as f64 / n.max(1) as f64));
    }
    probe_accuracy
}

/// `n` held-out pairs: seed k's portrait and the same portrait with factor k mod 12 changed to
/// another value at random.
fn delta_space(model: &Clip, config: &ClipConfig, tokenizer: &ClipTokenizer, n: usize, device: &Device) -> Result<DeltaSpace> {
    let size = config.vision.image_size as u32;
    let template = ZERO_SHOT_PROMPTS[0].1;
    let (mut before, mut after, mut old_texts, mut new_texts, mut factors) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for k in 0..n {
        let seed = held_out_seed(k as u64);
        let attributes = sample_attributes(seed);
        let factor = Factor::ALL[k % Factor::ALL.len()];
        let old = attributes.get(factor);
        let new = (old + 1 + Rng::stream(seed, 0x6465_6c74).below(factor.count() - 1)) % factor.count();
        before.push(render(seed, &attributes, size).image);
        after.push(render(seed, &attributes.with(factor, new), size).image);
        old_texts.push(prompt(template, factor, old));
        new_texts.push(prompt(template, factor, new));
        factors.push(factor);
    }
    let (i, j) = (rows(image_features(model, config, &before, device)), rows(image_features(model, config, &after, device)));
    let (t_old, t_new) = (rows(text_features(model, config, tokenizer, &old_texts, device)?), rows(text_features(model, config, tokenizer, &new_texts, device)?));
    let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<f32>>();
    let delta_image: Vec<Vec<f32>> = (0..n).map(|k| diff(&j[k], &i[k])).collect();
    let delta_text: Vec<Vec<f32>> = (0..n).map(|k| diff(&t_new[k], &t_old[k])).collect();
    let delta: Vec<f64> = (0..n).map(|k| cosine(&delta_image[k], &delta_text[k])).collect();
    let raw: Vec<f64> = (0..n).map(|k| 0.5 * (cosine(&i[k], &t_old[k]) + cosine(&j[k], &t_new[k]))).collect();
    let mismatched: Vec<f64> = (0..n).map(|k| cosine(&delta_image[k], &delta_text[(k + 1) % n])).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;

    let mut per_factor = serde_json::Map::new();
    for factor in Factor::ALL {
        let of = |v: &[f64]| v.iter().zip(&factors).filter(|(_, f)| **f == factor).map(|(x, _)| *x).collect::<Vec<f64>>();
        let count = factors.iter().filter(|f| **f == factor).count();
        per_factor.insert(
            factor.name().into(),
            serde_json::json!({"delta_cos": rounded(mean(&of(&delta))), "raw_cos": rounded(mean(&of(&raw))), "pairs": count}),
        );
    }
    Ok(DeltaSpace {
        pairs: n,
        prompt: template,
        per_factor,
        delta_cos: (mean(&delta) * 10000.0).round() / 10000.0,
        raw_cos: (mean(&raw) * 10000.0).round() / 10000.0,
        delta_cos_mismatched: (mean(&mismatched) * 10000.0).round() / 10000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ClipConfig {
        let tower = |width: usize| TransformerConfig::new(width, 1, width / 64, 2 * width, Activation::QuickGelu);
        ClipConfig {
            embed_dim: 32,
            vision: VisionConfig::new(16, 8, tower(64), 32),
            text: TextConfig::new(24, VOCAB_SIZE, tower(64), TextPooling::Argmax).with_embed_dim(Some(32)),
        }
    }

    /// A few steps on one batch of real (render, caption) pairs bring the contrastive loss well
    /// below chance (ln B).
    #[test]
    fn training_steps_lower_the_contrastive_loss() {
        let device = Device::flex().autodiff();
        let config = tiny();
        let cfg = ClipTraining { batch: 12, ..ClipTraining::default() };
        let tokenizer = ClipTokenizer::new().unwrap();
        let (pixels, tokens) = batch_tensors(make_batch(&cfg, &config, &tokenizer, 0).unwrap(), &config, &device);
        let mut model = config.init(&device);
        let mut optim = optimizer();
        for _ in 0..30 {
            let loss = contrastive_loss(&model, pixels.clone(), tokens.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(2e-3, model, grads);
        }
        let last = contrastive_loss(&model, pixels, tokens).into_scalar::<f32>();
        let chance = (cfg.batch as f32).ln();
        assert!(last < 0.5 * chance, "loss {last}, chance {chance}");
    }

    /// LiT: the image tower is trained on the labels first, then locked: contrastive steps change
    /// the text tower and leave the image tower exactly as its supervised stage made it.
    #[test]
    fn locked_image_training_tunes_only_the_text_tower() {
        let dir = tempfile::tempdir().unwrap();
        let config = tiny();
        let cfg = ClipTraining { batch: 6, steps: 3, locked_image_steps: 4, warmup: 1, ..ClipTraining::default() };
        let options = TrainOptions { dir: dir.path().to_path_buf(), steps: 3, checkpoint_every: 100, log_every: 1, keep: 1, label: "clip".into() };
        let (model, _, image_stage) = train(&cfg, &config, options.clone()).unwrap();
        assert_eq!(image_stage.map(|s| s.steps), Some(4));
        // Reopening the finished supervised stage returns its tower without training.
        let (pretrained, _) = pretrain_image_tower(&cfg, &config, &options).unwrap();
        let values = |p: &burn::module::Param<Tensor<2>>| p.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert_eq!(values(&model.visual.proj), values(&pretrained.proj));
        let log = std::fs::read_to_string(dir.path().join("image-tower/losses.jsonl")).unwrap();
        assert_eq!(log.lines().filter(|l| l.contains("factor_loss")).count(), 4);
    }

    /// The evaluation covers every factor under both prompt templates and splits the pairs
    /// evenly over the factors.
    #[test]
    fn evaluation_reports_every_factor() {
        let device = Device::flex();
        let config = tiny();
        let e = evaluate(&config.init(&device), &config, 24, &device).unwrap();
        for (_, per_factor) in &e.zero_shot {
            let per_factor = per_factor.as_object().unwrap();
            assert_eq!(per_factor.len(), 12);
            assert!(per_factor.values().all(|a| (0.0..=1.0).contains(&a.as_f64().unwrap())));
        }
        assert_eq!(e.zero_shot.len(), ZERO_SHOT_PROMPTS.len());
        assert!(e.delta_space.per_factor.values().all(|f| f["pairs"] == 2));
        assert_eq!(e.image_probe.len(), 12);
        assert!(e.image_probe.values().all(|a| (0.0..=1.0).contains(&a.as_f64().unwrap())));
        assert!((-1.0..=1.0).contains(&e.delta_space.delta_cos) && (-1.0..=1.0).contains(&e.delta_space.raw_cos));
    }

    /// Counterfactual pairs are twins: the same portrait with one factor changed, rendered and
    /// degraded alike (so that most pixels are equal), with different captions; an odd batch ends
    /// with a single.
    #[test]
    fn counterfactual_batches_hold_twins() {
        let config = builtin_clip_config();
        let tokenizer = ClipTokenizer::new().unwrap();
        let every_degradation = Degradations { p: 1.0, ..Degradations::default() };
        let cfg = ClipTraining {
            batch: 9,
            clean_fraction: 0.0,
            supersample_fraction: 0.5,
            degradations: every_degradation,
            counterfactual_fraction: 1.0,
            ..ClipTraining::default()
        };
        let batch = make_batch(&cfg, &config, &tokenizer, 3).unwrap();
        let (len, plane) = (config.text.context_length, 3 * 64 * 64);
        assert_eq!((batch.tokens.len() / len, batch.pixels.len() / plane), (9, 9));
        let image = |i: usize| &batch.pixels[i * plane..(i + 1) * plane];
        let equal = |a: &[f32], b: &[f32]| a.iter().zip(b).filter(|(x, y)| x == y).count() as f32 / plane as f32;
        for pair in [0, 2, 4, 6] {
            // Independent noise draws would leave almost no value equal, as across portraits.
            assert!(equal(image(pair), image(pair + 1)) > 0.5, "twins share most of the degraded portrait");
            assert!(equal(image(pair + 1), image(pair + 2)) < 0.05, "different portraits across pairs");
            assert_ne!(batch.tokens[pair * len..(pair + 1) * len], batch.tokens[(pair + 1) * len..(pair + 2) * len]);
        }
    }

    #[test]
    fn info_nce_is_low_for_a_dominant_diagonal() {
        let device = Device::flex();
        let aligned = Tensor::<2>::eye(4, &device) * 20.0;
        let uniform = Tensor::<2>::zeros([4, 4], &device);
        assert!(symmetric_info_nce(aligned).into_scalar::<f32>() < 1e-3);
        assert!((symmetric_info_nce(uniform).into_scalar::<f32>() - 4f32.ln()).abs() < 1e-5);
    }
}
