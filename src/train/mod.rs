//! A small training harness shared by every model DeltaStudio trains: a progress bar, periodic
//! checkpoints, resuming from the latest checkpoint, and a loss log.
//!
//! A run lives in one directory:
//! - `checkpoints/step-NNNNNNN/` — the state after NNNNNNN steps (written atomically: a checkpoint
//!   directory exists only once complete), the newest `keep` are kept;
//! - `losses.jsonl` — one line per logged step: `{"step", "elapsed_s", <loss name>: value, ...}`.
//!
//! What a state is (one model and its optimizer, a generator/discriminator pair, …) is up to the
//! trainer: it implements [`Checkpoint`]. Data must be a function of the step index (e.g. seeds
//! derived from it) so that a resumed run sees the same batches as an uninterrupted one.
pub mod alignment;
pub mod batches;
pub mod clip;
pub mod codes;
pub mod gan;
pub mod judge;
pub mod mapper;
pub mod relevance;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Error, Result};

/// Something that can be saved to and restored from a checkpoint directory.
pub trait Checkpoint: Sized {
    fn save(&self, dir: &Path) -> Result<()>;
    /// Restores the state saved in `dir` into `self` (a freshly initialised state).
    fn load(self, dir: &Path) -> Result<Self>;
}

/// The common case: one model and its optimizer. Parameter ids are kept in the burnpack record,
/// so the optimizer's moments line up with the parameters after a resume.
pub struct Trainee<M> {
    pub model: M,
    pub optim: ModuleOptimizer,
}

impl<M: Module> Checkpoint for Trainee<M> {
    fn save(&self, dir: &Path) -> Result<()> {
        let model = dir.join("model.bpk");
        self.model.clone().save_file(&model).map_err(|e| Error::checkpoint(&model, e.to_string()))?;
        let optim = dir.join("optim.bpk");
        self.optim.save(&optim).map_err(|e| Error::checkpoint(&optim, e.to_string()))
    }

    fn load(self, dir: &Path) -> Result<Self> {
        let model_path = dir.join("model.bpk");
        let model = self.model.try_load_file(&model_path).map_err(|e| Error::checkpoint(&model_path, e.to_string()))?;
        let optim_path = dir.join("optim.bpk");
        let optim = self.optim.load(&optim_path).map_err(|e| Error::checkpoint(&optim_path, e.to_string()))?;
        Ok(Trainee { model, optim })
    }
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub dir: PathBuf,
    pub steps: usize,
    pub checkpoint_every: usize,
    pub log_every: usize,
    /// How many checkpoints to keep.
    pub keep: usize,
    /// Shown before the progress bar.
    pub label: String,
}

/// What a finished run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub steps: usize,
    /// The step the last session started from (0 unless resumed).
    pub resumed_from: usize,
    /// Training time summed over every session of the run.
    pub wall_time_s: f64,
    /// Mean of each logged loss over the last logged steps.
    pub final_losses: Vec<(String, f64)>,
}

/// The run's progress bookkeeping stored with each checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
struct Progress {
    step: usize,
    elapsed_s: f64,
    /// The run's length when the checkpoint was written (absent in older checkpoints):
    /// schedules depend on it, so a resume with another length changes them.
    #[serde(default)]
    total_steps: Option<usize>,
}

/// A training run: opened (resuming if the directory has a checkpoint), then [`Run::train`].
pub struct Run<S> {
    options: TrainOptions,
    state: S,
    start: usize,
    prior_elapsed: f64,
}

impl<S: Checkpoint> Run<S> {
    /// Opens the run in `options.dir`, restoring the latest checkpoint into `fresh` if any.
    pub fn open(options: TrainOptions, fresh: S) -> Result<Run<S>> {
        let ckpt_root = options.dir.join("checkpoints");
        std::fs::create_dir_all(&ckpt_root).map_err(|e| Error::io(&ckpt_root, e))?;
        match latest_checkpoint(&ckpt_root)? {
            Some((step, dir)) => {
                let progress_path = dir.join("progress.json");
                let text = std::fs::read_to_string(&progress_path).map_err(|e| Error::io(&progress_path, e))?;
                let progress: Progress = serde_json::from_str(&text).map_err(|e| Error::checkpoint(&progress_path, e.to_string()))?;
                let state = fresh.load(&dir)?;
                log::info!("resuming {} from step {step} ({})", options.label, dir.display());
                if let Some(total) = progress.total_steps.filter(|&t| t != options.steps) {
                    log::warn!(
                        "{} was a {total}-step run and now runs to {}: learning-rate schedules over the run's length \
                         jump (a warmed-up schedule can diverge); use a new run directory to train longer from scratch",
                        options.label,
                        options.steps
                    );
                }
                Ok(Run { options, state, start: step, prior_elapsed: progress.elapsed_s })
            }
            None => Ok(Run { options, state: fresh, start: 0, prior_elapsed: 0.0 }),
        }
    }

    /// The first step this session will run.
    pub fn start_step(&self) -> usize {
        self.start
    }

    /// The restored state and its step, without training.
    pub fn into_state(self) -> (usize, S) {
        (self.start, self.state)
    }

    /// Runs `step(index, state) -> (state, losses)` until `options.steps`, checkpointing and
    /// logging on the way. Returns the final state and a summary.
    pub fn train(self, mut step: impl FnMut(usize, S) -> Result<(S, Vec<(&'static str, f64)>)>) -> Result<(S, Summary)> {
        let Run { options, mut state, start, prior_elapsed } = self;
        let log_path = options.dir.join("losses.jsonl");
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let bar = ProgressBar::new(options.steps as u64).with_position(start as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta} left) {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(options.label.clone());
        let began = Instant::now();
        let mut window: Vec<(&'static str, f64, usize)> = Vec::new();
        // A run resumed at its end logs nothing new: its summary reports the log's last line.
        let mut last_means = last_logged_means(&log_path);
        for index in start..options.steps {
            let (next, losses) = step(index, state)?;
            state = next;
            for (name, value) in losses {
                match window.iter_mut().find(|w| w.0 == name) {
                    Some(w) => {
                        w.1 += value;
                        w.2 += 1;
                    }
                    None => window.push((name, value, 1)),
                }
            }
            let done = index + 1;
            if done % options.log_every == 0 || done == options.steps {
                let elapsed = prior_elapsed + began.elapsed().as_secs_f64();
                let mut line = serde_json::Map::new();
                line.insert("step".into(), done.into());
                line.insert("elapsed_s".into(), serde_json::json!((elapsed * 10.0).round() / 10.0));
                last_means = window.iter().map(|(n, s, c)| (n.to_string(), s / *c as f64)).collect();
                for (n, m) in &last_means {
                    line.insert(n.clone(), serde_json::json!(m));
                }
                writeln!(log, "{}", serde_json::Value::Object(line)).map_err(|e| Error::io(&log_path, e))?;
                bar.set_message(last_means.iter().map(|(n, m)| format!("{n} {m:.4}")).collect::<Vec<_>>().join("  "));
                window.clear();
            }
            if done % options.checkpoint_every == 0 || done == options.steps {
                let elapsed = prior_elapsed + began.elapsed().as_secs_f64();
                save_checkpoint(&options, &state, done, elapsed, start)?;
            }
            bar.set_position(done as u64);
        }
        bar.finish();
        let summary = Summary {
            steps: options.steps,
            resumed_from: start,
            wall_time_s: prior_elapsed + began.elapsed().as_secs_f64(),
            final_losses: last_means,
        };
        Ok((state, summary))
    }
}

/// The losses of the log's last line (empty if there is none).
fn last_logged_means(log_path: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(log_path).unwrap_or_default();
    let Some(Ok(serde_json::Value::Object(line))) = text.lines().last().map(serde_json::from_str) else {
        return Vec::new();
    };
    line.into_iter()
        .filter(|(name, _)| name != "step" && name != "elapsed_s")
        .filter_map(|(name, value)| Some((name, value.as_f64()?)))
        .collect()
}

fn checkpoint_name(step: usize) -> String {
    format!("step-{step:07}")
}

/// The newest complete checkpoint under `root`.
fn latest_checkpoint(root: &Path) -> Result<Option<(usize, PathBuf)>> {
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let name = entry.file_name();
        let Some(step) = name.to_str().and_then(|n| n.strip_prefix("step-")).and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(s, _)| step > *s) {
            best = Some((step, entry.path()));
        }
    }
    Ok(best)
}

/// Writes into a scratch directory and renames it into place, so a killed run never leaves a
/// half-written checkpoint that looks complete; then prunes old checkpoints.
/// The checkpoint this session resumed from (`resumed_from`) is never pruned, so a continuation
/// that goes wrong can be restarted from where it began.
fn save_checkpoint<S: Checkpoint>(options: &TrainOptions, state: &S, step: usize, elapsed_s: f64, resumed_from: usize) -> Result<()> {
    let root = options.dir.join("checkpoints");
    let scratch = root.join(format!(".writing-{}", checkpoint_name(step)));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
    }
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
    state.save(&scratch)?;
    let progress = scratch.join("progress.json");
    let text = serde_json::to_string(&Progress { step, elapsed_s, total_steps: Some(options.steps) }).expect("plain struct");
    std::fs::write(&progress, text).map_err(|e| Error::io(&progress, e))?;
    let final_dir = root.join(checkpoint_name(step));
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&scratch, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    let mut steps: Vec<usize> = std::fs::read_dir(&root)
        .map_err(|e| Error::io(&root, e))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("step-")?.parse().ok())
        .filter(|&s: &usize| s != resumed_from || resumed_from == 0)
        .collect();
    steps.sort_unstable();
    let excess = steps.len().saturating_sub(options.keep.max(1));
    for old in &steps[..excess] {
        let dir = root.join(checkpoint_name(*old));
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(())
}

/// The Euclidean length of a row of values.
pub fn l2_norm(values: &[f32]) -> f32 {
    values.iter().map(|v| v * v).sum::<f32>().sqrt()
}

/// Learning rate with a linear warm-up and a cosine decay to `floor`·`peak`.
pub fn cosine_lr(step: usize, total: usize, peak: f64, warmup: usize, floor: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let t = (step - warmup) as f64 / (total - warmup).max(1) as f64;
    peak * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos()))
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;

    use super::*;

    /// Fits y = 2x − 1 with data that depends on the step only, as trainers must.
    fn step(index: usize, t: Trainee<Linear>, device: &Device) -> Result<(Trainee<Linear>, Vec<(&'static str, f64)>)> {
        let Trainee { model, mut optim } = t;
        let x: Vec<f32> = (0..8).map(|i| ((index * 8 + i) % 13) as f32 / 13.0).collect();
        let y: Vec<f32> = x.iter().map(|v| 2.0 * v - 1.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [8, 1]), device);
        let y = Tensor::<2>::from_data(TensorData::new(y, [8, 1]), device);
        let loss = (model.forward(x) - y).powi_scalar(2).mean();
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(0.05, model, grads);
        Ok((Trainee { model, optim }, vec![("mse", value)]))
    }

    fn weights(m: &Linear) -> Vec<f32> {
        m.weight.val().into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
        let device = Device::flex().autodiff();
        let init = LinearConfig::new(1, 1).init(&device);
        let options = |dir: &Path, steps| TrainOptions { dir: dir.to_path_buf(), steps, checkpoint_every: 2, log_every: 1, keep: 2, label: "test".into() };

        let straight_dir = tempfile::tempdir().unwrap();
        let fresh = Trainee { model: init.clone(), optim: AdamConfig::new().init() };
        let (straight, summary) = Run::open(options(straight_dir.path(), 6), fresh).unwrap().train(|i, t| step(i, t, &device)).unwrap();
        assert_eq!(summary.resumed_from, 0);

        let split_dir = tempfile::tempdir().unwrap();
        let fresh = Trainee { model: init.clone(), optim: AdamConfig::new().init() };
        Run::open(options(split_dir.path(), 3), fresh).unwrap().train(|i, t| step(i, t, &device)).unwrap();
        let fresh = Trainee { model: LinearConfig::new(1, 1).init(&device), optim: AdamConfig::new().init() };
        let run = Run::open(options(split_dir.path(), 6), fresh).unwrap();
        assert_eq!(run.start_step(), 3);
        let (resumed, summary) = run.train(|i, t| step(i, t, &device)).unwrap();
        assert_eq!(summary.resumed_from, 3);

        let (a, b) = (weights(&straight.model), weights(&resumed.model));
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6), "{a:?} vs {b:?}");
        assert_ne!(a, weights(&init), "training moved the weights");
        let log = std::fs::read_to_string(split_dir.path().join("losses.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 6);
        let mut kept: Vec<String> = std::fs::read_dir(split_dir.path().join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        kept.sort();
        assert_eq!(kept, ["step-0000003", "step-0000004", "step-0000006"], "the newest two and the one resumed from");

        // Reopened at its end, the run trains nothing and reports what it logged last.
        let fresh = Trainee { model: init.clone(), optim: AdamConfig::new().init() };
        let (_, finished) = Run::open(options(split_dir.path(), 6), fresh).unwrap().train(|i, t| step(i, t, &device)).unwrap();
        assert_eq!(finished.resumed_from, 6);
        assert!(!finished.final_losses.is_empty());
        for ((name, logged), (expected_name, expected)) in finished.final_losses.iter().zip(&summary.final_losses) {
            assert_eq!(name, expected_name);
            assert!((logged - expected).abs() <= 1e-12 * expected.abs(), "{name}: {logged} vs {expected}");
        }
    }

    #[test]
    fn cosine_schedule_warms_up_and_decays() {
        assert!(cosine_lr(0, 100, 1.0, 10, 0.1) < 0.2);
        assert!((cosine_lr(10, 100, 1.0, 10, 0.1) - 1.0).abs() < 1e-9);
        assert!((cosine_lr(100, 100, 1.0, 10, 0.1) - 0.1).abs() < 1e-9);
    }
}
