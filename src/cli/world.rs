//! `deltastudio world`: the built-in domain — render portraits, contact sheets and datasets, run
//! and train the attribute judge.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use deltastudio::device::{self, DevicePreference};
use deltastudio::train::TrainOptions;
use deltastudio::train::judge::{JudgeTraining, accuracy_map, evaluate};
use deltastudio::weights::registry::{JUDGE_FILE, WeightsPath};
use deltastudio::world::captions::{TemplateSet, caption};
use deltastudio::world::judge::{Judge, JudgeConfig};
use deltastudio::world::{Attributes, Factor, contact_sheet, render, sample_attributes};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render one portrait (optionally its part mask, attributes and a caption).
    Render {
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Override a factor, e.g. `--set hair_color=red` (repeatable).
        #[arg(long = "set", value_name = "FACTOR=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value_t = 256)]
        size: u32,
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the part mask (display colours) here.
        #[arg(long)]
        mask: Option<PathBuf>,
        /// Also write the attributes and a caption as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// A contact sheet of `n` portraits (seeds first_seed..first_seed+n).
    Sheet {
        #[arg(long, default_value_t = 64)]
        n: u64,
        #[arg(long, default_value_t = 64)]
        size: u32,
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        #[arg(long, default_value_t = 8)]
        columns: usize,
        /// Show each portrait's part mask next to it.
        #[arg(long)]
        masks: bool,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// A dataset for external tools: PNGs, part masks and index.jsonl (attributes, captions).
    Dataset {
        #[arg(long, default_value_t = 20000)]
        n: u64,
        #[arg(long, default_value_t = 64)]
        size: u32,
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Measure rendering speed (images per second, one thread).
    Speed {
        #[arg(long, default_value_t = 2000)]
        n: u64,
        #[arg(long, default_value_t = 64)]
        size: u32,
    },
    /// The judge's verdict on images: each factor's most likely value and its confidence.
    Judge {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Judge weights (default: builtin/judge.safetensors on the weights path).
        #[arg(long)]
        judge: Option<PathBuf>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Train the judge on fresh renders with degradations (resumable: rerun the same command).
    TrainJudge {
        #[arg(long, default_value_t = JudgeTraining::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = JudgeTraining::default().batch)]
        batch: usize,
        #[arg(long, default_value_t = JudgeTraining::default().lr)]
        lr: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = JudgeTraining::default().workers)]
        workers: usize,
        /// The run directory (checkpoints, loss log).
        #[arg(long, default_value = "runs/judge")]
        run_dir: PathBuf,
        /// Where the trained weights go; a manifest JSON is written beside them.
        #[arg(short, long, default_value = "weights/builtin/judge.safetensors")]
        output: PathBuf,
        /// Held-out renders for the final evaluation.
        #[arg(long, default_value_t = 2000)]
        eval_n: usize,
    },
    /// The judge's per-factor accuracy on held-out renders, clean and degraded.
    EvalJudge {
        #[arg(long)]
        judge: Option<PathBuf>,
        #[arg(long, default_value_t = 2000)]
        n: usize,
    },
}

pub fn run(args: Args, device: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    match args.command {
        Command::Render { seed, set, size, output, mask, json } => {
            let mut attributes = sample_attributes(seed);
            for s in &set {
                attributes.apply_override(s)?;
            }
            let portrait = render(seed, &attributes, size);
            save(&portrait.image, &output)?;
            if let Some(mask_path) = mask {
                save(&portrait.mask.to_image(), &mask_path)?;
            }
            if let Some(json_path) = json {
                let value = serde_json::json!({
                    "seed": seed,
                    "size": size,
                    "attributes": attributes,
                    "caption": caption(&attributes, seed, TemplateSet::Train),
                });
                std::fs::write(&json_path, serde_json::to_string_pretty(&value)?).with_context(|| format!("writing {}", json_path.display()))?;
            }
            println!("{}: {}", output.display(), describe(&attributes));
            Ok(())
        }
        Command::Sheet { n, size, first_seed, columns, masks, output } => {
            let mut tiles = Vec::new();
            for seed in first_seed..first_seed + n {
                let p = render(seed, &sample_attributes(seed), size);
                tiles.push(p.image);
                if masks {
                    tiles.push(p.mask.to_image());
                }
            }
            let columns = if masks { columns * 2 } else { columns };
            save(&contact_sheet(&tiles, columns, (size / 32).max(1)), &output)?;
            println!("{}: {n} portraits at {size}²", output.display());
            Ok(())
        }
        Command::Dataset { n, size, first_seed, output } => {
            let bar = indicatif::ProgressBar::new(n);
            deltastudio::world::dataset::write_dataset(&output, n, size, first_seed, || bar.inc(1))
                .with_context(|| format!("writing the dataset to {}", output.display()))?;
            bar.finish();
            println!("{}: {n} portraits, masks and index.jsonl", output.display());
            Ok(())
        }
        Command::Speed { n, size } => {
            let began = Instant::now();
            let mut checksum = 0u64;
            for seed in 0..n {
                let p = render(seed, &sample_attributes(seed), size);
                checksum = checksum.wrapping_add(p.image.as_raw()[0] as u64);
            }
            let secs = began.elapsed().as_secs_f64();
            println!("{n} renders at {size}² in {secs:.2} s: {:.0} images/s on one thread (checksum {checksum})", n as f64 / secs);
            Ok(())
        }
        Command::Judge { images, judge, json } => {
            let judge = load_judge(judge.as_deref(), device, weights)?;
            let loaded = images
                .iter()
                .map(|p| image::open(p).map(|i| i.to_rgb8()).with_context(|| format!("reading {}", p.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for (path, verdict) in images.iter().zip(judge.judge(&loaded)) {
                if json {
                    let mut factors = serde_json::Map::new();
                    for (i, f) in Factor::ALL.iter().enumerate() {
                        factors.insert(f.name().into(), serde_json::json!({"value": verdict.attributes.value_name(*f), "confidence": verdict.confidence[i]}));
                    }
                    println!("{}", serde_json::json!({"image": path, "factors": factors}));
                } else {
                    println!("{}", path.display());
                    for (i, f) in Factor::ALL.iter().enumerate() {
                        println!("  {:<12} {:<11} {:>5.1}%", f.name(), verdict.attributes.value_name(*f), 100.0 * verdict.confidence[i]);
                    }
                }
            }
            Ok(())
        }
        Command::TrainJudge { steps, batch, lr, seed, workers, run_dir, output, eval_n } => {
            let cfg = JudgeTraining { seed, steps, batch, lr, workers, ..JudgeTraining::default() };
            let options = TrainOptions {
                dir: run_dir.clone(),
                steps,
                checkpoint_every: 250,
                log_every: 25,
                keep: 2,
                label: "judge".into(),
            };
            let (net, summary) = deltastudio::train::judge::train(&cfg, options).context("training the judge")?;
            let judge = Judge::new(net, JudgeConfig::new(), burn::prelude::Device::flex());
            judge.save(&output)?;
            println!("weights: {}", output.display());
            let clean = evaluate(&judge, eval_n, false);
            let degraded = evaluate(&judge, eval_n, true);
            print_accuracies(&clean, &degraded);
            let manifest = serde_json::json!({
                "model": "attribute judge (src/world/judge.rs)",
                "command": super::command_line(),
                "config": format!("{:?}", JudgeConfig::new()),
                "training": cfg,
                "steps": summary.steps,
                "images_seen": summary.steps * cfg.batch,
                "wall_time_s": (summary.wall_time_s * 10.0).round() / 10.0,
                "resumed_from": summary.resumed_from,
                "final_losses": summary.final_losses,
                "eval_images": eval_n,
                "accuracy_clean": accuracy_map(&clean),
                "accuracy_degraded": accuracy_map(&degraded),
            });
            let manifest_path = output.with_extension("json");
            super::write_manifest(&manifest_path, &manifest)?;
            println!("manifest: {}", manifest_path.display());
            Ok(())
        }
        Command::EvalJudge { judge, n } => {
            let judge = load_judge(judge.as_deref(), device, weights)?;
            let began = Instant::now();
            let clean = evaluate(&judge, n, false);
            let degraded = evaluate(&judge, n, true);
            print_accuracies(&clean, &degraded);
            println!("({n} held-out renders each, {:.1} s)", began.elapsed().as_secs_f64());
            Ok(())
        }
    }
}

fn describe(a: &Attributes) -> String {
    Factor::ALL.iter().map(|f| format!("{}={}", f.name(), a.value_name(*f))).collect::<Vec<_>>().join(" ")
}

fn save(image: &image::RgbImage, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    image.save(path).with_context(|| format!("writing {}", path.display()))
}

fn load_judge(explicit: Option<&Path>, preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<Judge> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => weights.find(JUDGE_FILE).with_context(|| format!("{JUDGE_FILE} not found on the weights path"))?,
    };
    let selected = device::select(preference)?;
    Ok(Judge::load(&path, &selected.device)?)
}

fn print_accuracies(clean: &[f32; 12], degraded: &[f32; 12]) {
    println!("{:<12} {:>8} {:>9}", "factor", "clean", "degraded");
    for (i, f) in Factor::ALL.iter().enumerate() {
        println!("{:<12} {:>7.2}% {:>8.2}%", f.name(), 100.0 * clean[i], 100.0 * degraded[i]);
    }
    let mean = |a: &[f32; 12]| a.iter().sum::<f32>() / 12.0 * 100.0;
    println!("{:<12} {:>7.2}% {:>8.2}%", "mean", mean(clean), mean(degraded));
}
