//! `deltastudio train clip`: trains the built-in CLIP, exports it in the open_clip layout and
//! writes a manifest with its evaluation.
use std::path::PathBuf;

use anyhow::Context;
use burn::prelude::Device;
use deltastudio::models::clip::ClipConfig;
use deltastudio::train::TrainOptions;
use deltastudio::train::clip::{ClipEvaluation, ClipTraining, builtin_clip_config, evaluate, latest_checkpoint};
use deltastudio::weights::clip::{load_clip, save_clip};
use deltastudio::world::Factor;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = ClipTraining::default().steps)]
    steps: usize,
    #[arg(long, default_value_t = ClipTraining::default().batch)]
    batch: usize,
    #[arg(long, default_value_t = ClipTraining::default().lr)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = ClipTraining::default().workers)]
    workers: usize,
    /// Share of each batch made of counterfactual pairs (one portrait, one factor changed, both
    /// captions saying it).
    #[arg(long, default_value_t = ClipTraining::default().counterfactual_fraction)]
    counterfactual: f32,
    /// LiT: first train the image tower this many steps on the factor labels, then lock it and
    /// train only the text tower (and temperature) contrastively for --steps.
    #[arg(long, default_value_t = ClipTraining::default().locked_image_steps)]
    locked_image_steps: usize,
    /// The run directory (checkpoints, loss log).
    #[arg(long, default_value = "runs/clip")]
    run_dir: PathBuf,
    /// Where the weights go (open_clip safetensors, f16); a manifest JSON is written beside them.
    #[arg(short, long, default_value = "weights/builtin/clip.safetensors")]
    output: PathBuf,
    /// Held-out renders (and one-factor pairs) for the evaluation.
    #[arg(long, default_value_t = 1000)]
    eval_n: usize,
    /// Do not train: export the run directory's newest checkpoint (a preview of a running job).
    #[arg(long, conflicts_with = "eval_only")]
    export_latest: bool,
    /// Do not train: evaluate the weights at --output and print the results.
    #[arg(long)]
    eval_only: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let device = Device::flex();
    if args.eval_only {
        let (model, config) = load_clip(&args.output, None, &device).with_context(|| format!("loading {}", args.output.display()))?;
        let evaluation = evaluate(&model, &config, args.eval_n, &device)?;
        print_evaluation(&evaluation);
        return Ok(());
    }
    let config = builtin_clip_config();
    let cfg = ClipTraining {
        seed: args.seed,
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        workers: args.workers,
        counterfactual_fraction: args.counterfactual,
        locked_image_steps: args.locked_image_steps,
        ..ClipTraining::default()
    };
    let (model, steps, wall_time_s, final_losses, image_tower) = if args.export_latest {
        let (step, model) = latest_checkpoint(&config, &args.run_dir)?.with_context(|| format!("no checkpoint in {}", args.run_dir.display()))?;
        (model, step, None, None, None)
    } else {
        let options = TrainOptions { dir: args.run_dir.clone(), steps: args.steps, checkpoint_every: 100, log_every: 10, keep: 2, label: "clip".into() };
        let (model, summary, image_tower) = deltastudio::train::clip::train(&cfg, &config, options).context("training CLIP")?;
        (model, summary.steps, Some(summary.wall_time_s), Some(summary.final_losses), image_tower)
    };
    save_clip(&model, &args.output, &[("model", "deltastudio built-in CLIP".into()), ("steps", steps.to_string())])
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!("weights: {} (step {steps})", args.output.display());
    let evaluation = (args.eval_n > 0).then(|| evaluate(&model, &config, args.eval_n, &device)).transpose()?;
    if let Some(e) = &evaluation {
        print_evaluation(e);
    }
    let manifest = serde_json::json!({
        "model": "built-in CLIP (src/models/clip, trained by src/train/clip.rs), open_clip state-dict layout, f16",
        "command": super::command_line(),
        "config": config_summary(&config),
        "training": cfg,
        "steps": steps,
        "pairs_seen": steps * cfg.batch,
        "wall_time_s": wall_time_s.map(|s| (s * 10.0).round() / 10.0),
        "final_losses": final_losses,
        // The supervised image-tower stage (LiT), not counted in the fields above.
        "image_tower_stage": image_tower,
        "logit_scale": model.logit_scale(),
        "evaluation": evaluation,
    });
    let manifest_path = args.output.with_extension("json");
    super::write_manifest(&manifest_path, &manifest)?;
    println!("manifest: {}", manifest_path.display());
    Ok(())
}

fn config_summary(config: &ClipConfig) -> serde_json::Value {
    let tower = |t: &deltastudio::models::clip::TransformerConfig| serde_json::json!({"width": t.width, "layers": t.layers, "heads": t.heads, "mlp_width": t.mlp_width, "act": t.act});
    serde_json::json!({
        "embed_dim": config.embed_dim,
        "vision": {"image_size": config.vision.image_size, "patch_size": config.vision.patch_size, "transformer": tower(&config.vision.transformer)},
        "text": {"context_length": config.text.context_length, "vocab_size": config.text.vocab_size, "transformer": tower(&config.text.transformer)},
    })
}

fn print_evaluation(e: &ClipEvaluation) {
    let get = |map: &serde_json::Value, factor: Factor| map.get(factor.name()).and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
    let sets: Vec<(&String, &serde_json::Value)> = e.zero_shot.iter().collect();
    print!("{:<12}", "factor");
    for (name, _) in &sets {
        print!(" {:>18}", format!("zero-shot {}", name.trim_end_matches("_template")));
    }
    println!(" {:>12} {:>9} {:>9}", "image probe", "Δ cos", "raw cos");
    for factor in Factor::ALL {
        print!("{:<12}", factor.name());
        for (_, map) in &sets {
            print!(" {:>17.1}%", 100.0 * get(map, factor));
        }
        let d = &e.delta_space.per_factor[factor.name()];
        print!(" {:>11.1}%", 100.0 * e.image_probe.get(factor.name()).and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN));
        println!(" {:>9.3} {:>9.3}", d["delta_cos"].as_f64().unwrap_or(f64::NAN), d["raw_cos"].as_f64().unwrap_or(f64::NAN));
    }
    print!("{:<12}", "mean");
    for (_, map) in &sets {
        let mean = Factor::ALL.iter().map(|f| get(map, *f)).sum::<f64>() / Factor::ALL.len() as f64;
        print!(" {:>17.1}%", 100.0 * mean);
    }
    let probe_mean = e.image_probe.values().filter_map(serde_json::Value::as_f64).sum::<f64>() / e.image_probe.len().max(1) as f64;
    print!(" {:>11.1}%", 100.0 * probe_mean);
    println!(" {:>9.3} {:>9.3}", e.delta_space.delta_cos, e.delta_space.raw_cos);
    println!("Δ cos with another pair's text Δ (control): {:.3}; {} images, {} pairs", e.delta_space.delta_cos_mismatched, e.images, e.delta_space.pairs);
}
