//! `deltastudio train alignment`: the built-in CLIP's delta alignment (text deltas carried to
//! where image deltas point), fitted on counterfactual render pairs and their captions, + a
//! manifest.
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::tensor::Tensor;
use deltastudio::device::{self, DevicePreference};
use deltastudio::engine::delta_space::{DeltaSpace, Domain};
use deltastudio::models::delta_alignment::DeltaAlignment;
use deltastudio::train::alignment::{AlignmentCosines, deltas, held_out_pairs, one_sided_deltas, training_pairs};
use deltastudio::weights::clip::load_clip;
use deltastudio::weights::delta_alignment::save_delta_alignment;
use deltastudio::weights::registry::{BUILTIN_CLIP_FILE, BUILTIN_DELTA_ALIGNMENT_FILE, WeightsPath, sha256_file};

use super::train::trained_from;
use super::{command_line, write_manifest};

#[derive(clap::Args)]
pub struct Args {
    /// Counterfactual training pairs (a render and the same portrait with one factor changed).
    #[arg(long, default_value_t = 4096)]
    pairs: usize,
    /// Held-out pairs (held-out renders, held-out caption templates) the result is measured on.
    #[arg(long, default_value_t = 512)]
    held_out_pairs: usize,
    /// Ridge strength, relative to the mean eigenvalue of the text deltas' second moment.
    #[arg(long, default_value_t = 0.1)]
    ridge: f32,
    /// Seeds the training renders.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also fit one-sided deltas: per pair, the neutral prompt → a caption saying only the new
    /// value, aligned to the mean image delta of the pairs ending at that value (what an edit
    /// from the neutral source asks for). `--one-sided false` fits the paired captions only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    one_sided: bool,
    /// Renders per CLIP batch.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Default: weights/builtin/delta_alignment.safetensors (+ a manifest beside it, .json).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args, preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from("weights").join(BUILTIN_DELTA_ALIGNMENT_FILE));
    let selected = device::select(preference)?;
    let device = &selected.device;
    let clip_path = weights.find(BUILTIN_CLIP_FILE).with_context(|| format!("{BUILTIN_CLIP_FILE} not found on the weights path"))?;
    let (clip, config) = load_clip(&clip_path, None, device).with_context(|| format!("loading {}", clip_path.display()))?;
    let space = DeltaSpace::new(clip, config, Domain::Builtin, device)?;

    let started = Instant::now();
    let pairs = training_pairs(args.seed, args.pairs);
    let (text, image) = deltas(&space, &pairs, args.batch, device).context("computing the training deltas")?;
    let one_sided = args.one_sided.then(|| one_sided_deltas(&space, &pairs, image.clone())).transpose()?;
    let (mut fit_text, mut fit_image) = (vec![text.clone()], vec![image.clone()]);
    if let Some((t, i)) = &one_sided {
        fit_text.push(t.clone());
        fit_image.push(i.clone());
    }
    let alignment = DeltaAlignment::fit(Tensor::cat(fit_text, 0), Tensor::cat(fit_image, 0), args.ridge)?;
    let wall_time = started.elapsed().as_secs_f64();
    let training = AlignmentCosines::of(&alignment, text, image);
    let one_sided = one_sided.map(|(t, i)| AlignmentCosines::of(&alignment, t, i));
    if let Some(c) = &one_sided {
        println!("one-sided training deltas (neutral → value), CLIP → aligned: {:.3} → {:.3}", c.clip, c.aligned);
    }
    let (text, image) = deltas(&space, &held_out_pairs(args.held_out_pairs), args.batch, device).context("computing the held-out deltas")?;
    let held_out = AlignmentCosines::of(&alignment, text, image);
    println!(
        "mean cosine of text and image deltas, CLIP → aligned: training pairs {:.3} → {:.3}, held-out pairs {:.3} → {:.3}",
        training.clip, training.aligned, held_out.clip, held_out.aligned
    );

    let metadata = HashMap::from([("format".to_string(), "deltastudio delta alignment".to_string())]);
    save_delta_alignment(&alignment, &output, metadata).with_context(|| format!("writing {}", output.display()))?;
    println!("wrote {}", output.display());
    let manifest = serde_json::json!({
        "model": "delta alignment W [E, E]: unit CLIP text deltas × W ≈ unit image deltas, ridge regression on counterfactual render pairs and their paired captions, and with --one-sided on neutral → value captions and the mean image delta to that value (src/train/alignment.rs), f32",
        "command": command_line(),
        "pairs": args.pairs,
        "ridge": args.ridge,
        "seed": args.seed,
        "one_sided": args.one_sided,
        "mean_cosine_training_pairs": training,
        "mean_cosine_one_sided_training_deltas": one_sided,
        "mean_cosine_held_out_pairs": held_out,
        "held_out_pairs": args.held_out_pairs,
        "trained_from": trained_from(&[(clip_path.clone(), sha256_file(&clip_path)?)]),
        "wall_time_s": (wall_time * 10.0).round() / 10.0,
        "device": selected.label,
        "sha256": sha256_file(&output)?,
    });
    write_manifest(&output.with_extension("json"), &manifest)
}
