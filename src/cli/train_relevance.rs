//! `deltastudio train relevance`: the relevance matrix R_s (StyleCLIP channel relevance) of a
//! domain's generator and CLIP, written as fs3.npy-style `.npy` + a manifest.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use deltastudio::device::{self, DevicePreference};
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::models::{GanBase, GanFiles};
use deltastudio::train::codes::{CodeSource, CodesFingerprint, load_or_compute};
use deltastudio::train::relevance::{RelevanceOptions, compute};
use deltastudio::weights::delta_mapper::save_relevance_matrix;
use deltastudio::weights::registry::{WeightsPath, sha256_file};

use super::train::trained_from;
use super::{command_line, write_manifest};

#[derive(clap::Args)]
pub struct Args {
    /// Whose models: `builtin` (inverted training renders) or `ffhq` (sampled z).
    #[arg(long, value_enum, default_value_t = Domain::Builtin)]
    domain: Domain,
    /// M: images the channel moves are averaged over (the first M codes).
    #[arg(long, default_value_t = RelevanceOptions::default().images)]
    images: usize,
    /// Codes the channel standard deviations σ come from (the mapper's training codes by default,
    /// so that the cache in --codes is shared).
    #[arg(long, default_value_t = 20000)]
    std_images: usize,
    /// Channels move by ±k·σ.
    #[arg(long, default_value_t = RelevanceOptions::default().sigmas)]
    sigmas: f32,
    /// Channels moved per synthesis batch (the batch holds twice as many images).
    #[arg(long, default_value_t = RelevanceOptions::default().channel_batch)]
    channel_batch: usize,
    /// Seeds the images (as `train mapper --seed`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Images per encoder/CLIP batch while computing codes.
    #[arg(long, default_value_t = 64)]
    code_batch: usize,
    /// Where the codes are cached. Default: runs/mapper (the mapper's run directory).
    #[arg(long, default_value = "runs/mapper")]
    codes: PathBuf,
    /// Where the running state lives (resume by rerunning the command).
    #[arg(long, default_value = "runs/relevance")]
    run_dir: PathBuf,
    /// The `.npy` file (+ a manifest beside it, .json). Default: weights/builtin/relevance.npy for
    /// the built-in domain, <run dir>/fs3.npy for FFHQ.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args, preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let output = args.output.clone().unwrap_or_else(|| match args.domain {
        Domain::Builtin => PathBuf::from("weights").join(GanFiles::of(Domain::Builtin).relevance),
        Domain::Ffhq => args.run_dir.join("fs3.npy"),
    });
    let selected = device::select(preference)?;
    let base = GanBase::load(weights, args.domain, &selected.device).context("loading the generator, encoder and CLIP")?;
    let source = match args.domain {
        Domain::Builtin => CodeSource::TrainingRenders { seed: args.seed },
        Domain::Ffhq => CodeSource::Samples { seed: args.seed },
    };
    let fingerprint = CodesFingerprint::of(&base, source, args.std_images)?;
    let codes = load_or_compute(&args.codes, "codes-train", &base, &fingerprint, args.code_batch).context("computing the codes")?;
    let std = codes.s_std();

    let options = RelevanceOptions { images: args.images, sigmas: args.sigmas, channel_batch: args.channel_batch };
    let started = Instant::now();
    let relevance = compute(&base, &codes, &std, &options, &args.run_dir)
        .context("computing the relevance matrix")?;
    let wall_time = started.elapsed().as_secs_f64();
    save_relevance_matrix(&output, &relevance.values, relevance.s_dim, relevance.clip_dim)?;
    println!(
        "wrote {} [{} S channels × {} CLIP dims]; {} channels never change the CLIP feature (zero rows)",
        output.display(),
        relevance.s_dim,
        relevance.clip_dim,
        relevance.silent_channels
    );

    let manifest = serde_json::json!({
        "model": "relevance matrix R_s: StyleCLIP global-directions channel relevance (src/train/relevance.rs), fs3.npy orientation [S channels, CLIP dims], f32",
        "command": command_line(),
        "domain": args.domain,
        "options": options,
        "codes": { "source": source, "std_images": codes.len },
        "shape": [relevance.s_dim, relevance.clip_dim],
        "silent_channels": relevance.silent_channels,
        "trained_from": trained_from(&fingerprint.models),
        "wall_time_s": (wall_time * 10.0).round() / 10.0,
        "wall_time_note": "this session's channel sweep only (resumed runs count from their restart); codes excluded",
        "device": selected.label,
        "sha256": sha256_file(&output)?,
    });
    write_manifest(&output.with_extension("json"), &manifest)
}
