//! `deltastudio train gan`: trains the built-in generator and encoder, exports them in the
//! official layouts, evaluates the exported files and writes the manifest and the sample sheets.
use std::path::PathBuf;

use anyhow::Context;
use burn::module::Module;
use deltastudio::train::TrainOptions;
use deltastudio::train::gan::{self, GanTraining};
use deltastudio::weights::registry::{BUILTIN_CLIP_FILE, BUILTIN_ENCODER_FILE, BUILTIN_GENERATOR_FILE, JUDGE_FILE, WeightsPath};
use deltastudio::weights::writer::Precision;
use deltastudio::world::contact_sheet;
use deltastudio::world::judge::Judge;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = GanTraining::builtin().steps)]
    steps: usize,
    #[arg(long, default_value_t = GanTraining::builtin().batch)]
    batch: usize,
    #[arg(long, default_value_t = GanTraining::builtin().lr)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Extra loss weight on the small parts' pixels (eyes, mouth, eyewear, facial hair, earrings).
    #[arg(long, default_value_t = GanTraining::builtin().detail_weight)]
    detail_weight: f32,
    /// Weight of the feature loss (e4e's identity loss with the built-in CLIP's image tower as
    /// the feature network: 1 − cos of its features of render and reconstruction).
    #[arg(long, default_value_t = GanTraining::builtin().feature_weight)]
    feature_weight: f64,
    /// Start from the generator and encoder in this folder (a second stage) instead of from
    /// scratch; use a new --run-dir and another --seed so that it sees new renders.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Background rendering threads.
    #[arg(long, default_value_t = GanTraining::builtin().workers)]
    workers: usize,
    /// Checkpoints and the loss log (a run resumes from here).
    #[arg(long, default_value = "runs/gan")]
    run_dir: PathBuf,
    /// Where stylegan2.safetensors, e4e.safetensors and the manifest stylegan2.json go.
    #[arg(long, default_value = "weights/builtin")]
    output_dir: PathBuf,
    /// Held-out renders for the evaluation (0: no evaluation, no judge needed).
    #[arg(long, default_value_t = 500)]
    eval_n: usize,
    /// Store f32 instead of f16.
    #[arg(long)]
    f32: bool,
    /// Also write the sample and reconstruction sheets here.
    #[arg(long)]
    sheets_dir: Option<PathBuf>,
    /// Only evaluate the files in --output-dir (and write the sheets); no training, the manifest
    /// is left as it is.
    #[arg(long, conflicts_with = "init_from")]
    eval_only: bool,
}

pub fn run(args: Args, weights: &WeightsPath) -> anyhow::Result<()> {
    let cfg = GanTraining {
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        workers: args.workers,
        detail_weight: args.detail_weight,
        feature_weight: args.feature_weight,
        feature_clip: feature_clip(&args, weights)?,
        init_from: args.init_from.clone(),
        ..GanTraining::builtin()
    };
    let options = TrainOptions {
        dir: args.run_dir.clone(),
        steps: cfg.steps,
        checkpoint_every: 100,
        log_every: 10,
        keep: 2,
        label: "gan".into(),
    };
    // A second stage keeps the record of the first: the manifest beside the files it starts from
    // (read now: the output folder may be the same).
    let initialised_from = match &args.init_from {
        Some(dir) => {
            let path = gan::GanFiles::in_dir(dir).manifest;
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Some(serde_json::from_str::<serde_json::Value>(&text).with_context(|| format!("{} is not JSON", path.display()))?)
        }
        None => None,
    };
    let files = gan::GanFiles::in_dir(&args.output_dir);
    if args.eval_only {
        anyhow::ensure!(args.eval_n > 0, "--eval-only needs held-out renders to evaluate (--eval-n above 0)");
        let metrics = evaluate_files(&files, &args, &load_judge(weights)?)?;
        println!("{}", serde_json::to_string_pretty(&metrics)?);
        return Ok(());
    }
    let (model, summary) = gan::train(&cfg, options).context("training the generator and encoder")?;
    let fitted = gan::fit_mapping(&model, &cfg).context("fitting the mapping network")?;
    println!("mapping fitted: distribution distance {:.5}", fitted.final_distance);

    let (generator_path, encoder_path, manifest_path) = (&files.generator, &files.encoder, &files.manifest);
    let precision = if args.f32 { Precision::F32 } else { Precision::F16 };
    let encoder = model.encoder.valid();
    gan::export(&fitted, &encoder, generator_path, encoder_path, precision)?;
    println!("weights: {} {}", generator_path.display(), encoder_path.display());

    // The shipped files are what is evaluated (f16 included); the in-memory f32 model for comparison.
    // --eval-n 0 skips it (an intermediate stage that runs before the judge exists).
    let (metrics, metrics_f32) = if args.eval_n == 0 {
        (None, None)
    } else {
        let judge = load_judge(weights)?;
        let metrics = evaluate_files(&files, &args, &judge)?;
        let (metrics_f32, _) = gan::evaluate(
            &fitted.generator,
            &gan::encoder_with_latent_avg(&encoder, fitted.latent_avg.clone()),
            &judge,
            args.eval_n.min(100),
            0,
        );
        println!("{}", serde_json::to_string_pretty(&metrics)?);
        (Some(metrics), Some(metrics_f32))
    };

    let manifest = serde_json::json!({
        "model": "built-in StyleGAN2 generator + e4e encoder, trained as an autoencoder (src/train/gan.rs)",
        "command": super::command_line(),
        "seed": cfg.seed,
        "steps": summary.steps,
        "images_seen": summary.steps * cfg.batch,
        "wall_time_s": (summary.wall_time_s * 10.0).round() / 10.0,
        "resumed_from": summary.resumed_from,
        "final_losses": last_logged_losses(&args.run_dir)?,
        "precision": precision,
        "generator_file": BUILTIN_GENERATOR_FILE,
        "encoder_file": BUILTIN_ENCODER_FILE,
        "training": cfg,
        "mapping_final_distance": fitted.final_distance,
        "metrics": metrics,
        "metrics_f32_first_100": metrics_f32,
        "initialised_from": initialised_from,
    });
    super::write_manifest(&manifest_path, &manifest)?;
    println!("manifest: {}", manifest_path.display());
    Ok(())
}

/// The CLIP file the feature loss reads: the built-in CLIP on the weights path.
fn feature_clip(args: &Args, weights: &WeightsPath) -> anyhow::Result<Option<PathBuf>> {
    if args.feature_weight <= 0.0 {
        return Ok(None);
    }
    let path = weights.find(BUILTIN_CLIP_FILE).with_context(|| format!("the feature loss reads {BUILTIN_CLIP_FILE}, not found on the weights path"))?;
    Ok(Some(path))
}

fn load_judge(weights: &WeightsPath) -> anyhow::Result<Judge> {
    let path = weights.find(JUDGE_FILE).with_context(|| format!("{JUDGE_FILE} not found on the weights path"))?;
    Judge::load(&path, &burn::prelude::Device::flex()).with_context(|| format!("loading {}", path.display()))
}

/// Evaluates the generator and encoder files and, with --sheets-dir, writes the sheets of random
/// samples and of reconstructions.
fn evaluate_files(files: &gan::GanFiles, args: &Args, judge: &Judge) -> anyhow::Result<gan::GanMetrics> {
    let device = burn::prelude::Device::flex();
    let generator = deltastudio::weights::stylegan2::load(&files.generator, None, None, &device)
        .with_context(|| format!("loading {}", files.generator.display()))?
        .generator;
    let encoder = deltastudio::weights::e4e::load_encoder(&files.encoder, None, &device)
        .with_context(|| format!("loading {}", files.encoder.display()))?;
    let (metrics, pairs) = gan::evaluate(&generator, &encoder, judge, args.eval_n, 16);
    if let Some(dir) = &args.sheets_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let prior = gan::WPlusPrior::fit(&encoder, generator.config.size as u32, args.seed, PRIOR_CODES);
        let samples = contact_sheet(&gan::samples(&generator, &prior, 64, args.seed), 8, 2);
        let samples_path = dir.join("builtin_gan_samples.png");
        samples.save(&samples_path).with_context(|| format!("writing {}", samples_path.display()))?;
        let flat: Vec<_> = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
        let pairs_path = dir.join("builtin_gan_reconstructions.png");
        contact_sheet(&flat, 8, 2).save(&pairs_path).with_context(|| format!("writing {}", pairs_path.display()))?;
        println!("sheets: {} {}", samples_path.display(), pairs_path.display());
    }
    Ok(metrics)
}

/// Encoded training renders the sampling prior is fitted to.
const PRIOR_CODES: usize = 1024;

/// The last line of the run's loss log (also when this session resumed at the last step and
/// logged nothing itself).
fn last_logged_losses(run_dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let path = run_dir.join("losses.jsonl");
    let log = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let last = log.lines().last().unwrap_or("null");
    serde_json::from_str(last).with_context(|| format!("{}: the last line is not JSON", path.display()))
}
