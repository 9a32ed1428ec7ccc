//! Training and evaluating the attribute judge on renders of the built-in domain.
//!
//! Batches are rendered on the fly by background threads (rendering a 64² portrait takes well
//! under a millisecond), each image a fresh seed, and degraded at random, so the judge never
//! sees an image twice. Seeds follow from the step index, so a resumed run sees the same data.
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;

use super::batches::spawn_ordered;
use super::{Run, Summary, TrainOptions, Trainee, cosine_lr};
use crate::world::dataset::{Degradations, Sample, held_out_seed, sample, training_seed};
use crate::world::factors::{Attributes, Factor};
use crate::world::judge::{self, Judge, JudgeConfig, JudgeNet};
use crate::world::rng::Rng;
use crate::Result;

#[derive(Clone, Debug, serde::Serialize)]
pub struct JudgeTraining {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// The share of training images left undegraded.
    pub clean_fraction: f32,
    /// The share rendered at 2× and downscaled.
    pub supersample_fraction: f32,
    pub degradations: Degradations,
    /// Background rendering threads.
    pub workers: usize,
}

impl Default for JudgeTraining {
    fn default() -> Self {
        JudgeTraining {
            seed: 0,
            steps: 10000,
            batch: 64,
            lr: 2e-3,
            clean_fraction: 0.25,
            supersample_fraction: 0.2,
            degradations: Degradations::default(),
            workers: 2,
        }
    }
}

/// One training batch: images in [-1, 1] (NCHW) and their labels.
struct Batch {
    images: Vec<f32>,
    attributes: Vec<Attributes>,
}

fn make_batch(cfg: &JudgeTraining, step: usize, size: u32) -> Batch {
    let mut images = Vec::with_capacity(cfg.batch * 3 * (size * size) as usize);
    let mut attributes = Vec::with_capacity(cfg.batch);
    for i in 0..cfg.batch {
        let seed = training_seed(cfg.seed, (step * cfg.batch + i) as u64);
        let mut rng = Rng::stream(seed, 0x7261_696e);
        let Sample { attributes: a, image, .. } = sample(seed, size, rng.chance(cfg.supersample_fraction));
        let image = if rng.chance(cfg.clean_fraction) { image } else { cfg.degradations.apply(&image, &mut rng) };
        push_nchw(&mut images, &image);
        attributes.push(a);
    }
    Batch { images, attributes }
}

fn push_nchw(out: &mut Vec<f32>, image: &image::RgbImage) {
    for c in 0..3 {
        out.extend(image.pixels().map(|p| p.0[c] as f32 / 127.5 - 1.0));
    }
}

/// Trains the judge (resuming from `options.dir` if it holds checkpoints) and returns the
/// inference network.
pub fn train(cfg: &JudgeTraining, options: TrainOptions) -> Result<(JudgeNet, Summary)> {
    let device = Device::flex().autodiff();
    let config = JudgeConfig::new();
    let fresh = Trainee { model: config.init(&device), optim: AdamConfig::new().init() };
    let options = TrainOptions { steps: cfg.steps, ..options };
    let run = Run::open(options, fresh)?;
    let size = config.input_size as u32;
    let batch_cfg = cfg.clone();
    let batches = spawn_ordered(run.start_step(), cfg.steps, cfg.workers, move |step| make_batch(&batch_cfg, step, size));
    let side = config.input_size;
    let (trained, summary) = run.train(|step, Trainee { model, mut optim }| {
        let batch = batches.recv().expect("the batch threads run until the last step");
        let x = Tensor::<4>::from_data(TensorData::new(batch.images, [cfg.batch, 3, side, side]), &device);
        let targets = judge::targets(&batch.attributes, &device);
        let loss = judge::loss(model.forward(x), targets);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = cosine_lr(step, cfg.steps, cfg.lr, 200, 0.02);
        let model = optim.step(lr, model, grads);
        Ok((Trainee { model, optim }, vec![("loss", value)]))
    })?;
    Ok((trained.model.valid(), summary))
}

/// Per-factor accuracy on `n` held-out renders (seeds from [`held_out_seed`]); with `degraded`,
/// every image goes through all four degradations at random strengths.
pub fn evaluate(judge: &Judge, n: usize, degraded: bool) -> [f32; 12] {
    let size = 64;
    let every = Degradations { p: 1.0, ..Degradations::default() };
    let mut attributes = Vec::with_capacity(n);
    let mut images = Vec::with_capacity(n);
    for i in 0..n {
        let seed = held_out_seed(i as u64);
        // A quarter rendered at 2× and downscaled, like display renders given to the judge.
        let s = sample(seed, size, i % 4 == 3);
        let image = if degraded { every.apply(&s.image, &mut Rng::stream(seed, 0x6576_616c)) } else { s.image };
        attributes.push(s.attributes);
        images.push(image);
    }
    let verdicts = judge.judge(&images);
    judge::accuracy(&verdicts, &attributes)
}

/// Accuracies as `{factor: accuracy}` for manifests and reports.
pub fn accuracy_map(acc: &[f32; 12]) -> serde_json::Map<String, serde_json::Value> {
    Factor::ALL.iter().zip(acc).map(|(f, a)| (f.name().to_string(), serde_json::json!((*a as f64 * 10000.0).round() / 10000.0))).collect()
}

