//! `deltastudio train mapper`: the Delta Mapper (or the straightforward baseline) trained
//! text-free on codes of the domain's images, written in net_face.pth's key layout.
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::prelude::*;
use deltastudio::device::{self, DevicePreference};
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::models::{GanBase, GanFiles};
use deltastudio::train::mapper::MapperKind;
use deltastudio::models::delta_mapper::{DeltaMapper, MapperSubspaces};
use deltastudio::train::TrainOptions;
use deltastudio::train::codes::{CodeSource, CodesFingerprint, LatentCodes, load_or_compute, twin_changes};
use deltastudio::train::mapper::{MapperTraining, PairSampler, ValueDeltas, evaluate, fit_delta_subspace, pair_batch, train};
use deltastudio::weights::delta_mapper::{load_delta_mapper, save_delta_mapper};
use deltastudio::weights::registry::{WeightsPath, sha256_file};
use deltastudio::weights::writer::Precision;

use super::train::trained_from;
use super::{command_line, write_manifest};

/// Largest relative change of the mapper's outputs that f16 storage may cause: 1 % of an edit
/// is far below what a strength step changes.
const F16_TOLERANCE: f64 = 1e-2;

#[derive(clap::Args)]
pub struct Args {
    /// Whose models: `builtin` (codes from inverted training renders) or `ffhq` (the official
    /// files; codes from sampled z as generate_codes.py, since no photos ship here).
    #[arg(long, value_enum, default_value_t = Domain::Builtin)]
    domain: Domain,
    /// The paper's straightforward baseline (§3.1.1): trained with the target image feature as
    /// the condition instead of the CLIP image delta.
    #[arg(long)]
    straightforward: bool,
    /// Training images (codes).
    #[arg(long, default_value_t = 20000)]
    images: usize,
    /// Held-out images for the validation losses.
    #[arg(long, default_value_t = 512)]
    val_images: usize,
    /// Seeds the training images and the pairs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = MapperTraining::default().steps)]
    steps: usize,
    #[arg(long, default_value_t = MapperTraining::default().batch)]
    batch: usize,
    /// Adam's learning rate on the raw EqualLinear parameters (official: 0.5).
    #[arg(long, default_value_t = MapperTraining::default().lr)]
    lr: f64,
    /// The share of training pairs that are a render and its counterfactual twin (the same
    /// portrait with one or two factors changed), so that the mapper also sees image deltas of
    /// single edits, as text deltas are at inference. Built-in domain only; 0 (the default) is
    /// the paper's uniform random pairs. The codes are then twin pairs (cached as codes-twins).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    twins: f32,
    /// Project the image deltas (in training) and text deltas (at inference) onto this many top
    /// principal directions of single-edit image deltas (twin pairs with --twins, else uniform
    /// pairs), saved in the mapper file: the rest of a text delta is the modality gap, which the
    /// text-free mapper never sees. 0 (the default) is the paper's full delta.
    #[arg(long, default_value_t = 0)]
    delta_subspace: usize,
    /// Project the mapper's Δs at inference onto this many top principal directions of the S
    /// deltas of single edits (twin pairs with --twins, else uniform pairs), saved in the mapper
    /// file: what the mapper predicts outside them moves other factors. Training is unchanged.
    /// 0 (the default) is the paper's full Δs.
    #[arg(long, default_value_t = 0)]
    edit_subspace: usize,
    /// The share of twin pairs whose condition reads their value delta: the mean image delta of
    /// all single-change twin pairs ending at the same factor value, which, like a text delta
    /// from the neutral source, says where the edit goes and not where it starts (needs --twins).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    value_deltas: f32,
    /// Weight of the MSE term of the loss, beside 1 − cosine. The paper's 1 leaves the length of
    /// Δs to a term about a hundred times smaller than the cosine's.
    #[arg(long, default_value_t = 1.0)]
    mse_weight: f32,
    /// Images per encoder/CLIP batch while computing the codes.
    #[arg(long, default_value_t = 64)]
    code_batch: usize,
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: usize,
    #[arg(long, default_value_t = 100)]
    log_every: usize,
    /// The run directory (checkpoints, losses.jsonl). Default: runs/mapper or runs/mapper-straightforward.
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Where the codes are cached (share it between runs on the same models). Default: the run directory.
    #[arg(long)]
    codes: Option<PathBuf>,
    /// The weights file (+ a manifest beside it, .json). Default: weights/builtin/delta_mapper[_straightforward].safetensors
    /// for the built-in domain, <run dir>/delta_mapper.safetensors for FFHQ.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args, preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let kind = if args.straightforward { MapperKind::Straightforward } else { MapperKind::DeltaEdit };
    if args.straightforward && args.delta_subspace > 0 {
        anyhow::bail!("--delta-subspace projects CLIP deltas; the straightforward baseline reads target features, not deltas");
    }
    if args.value_deltas > 0.0 && (args.straightforward || args.twins == 0.0) {
        anyhow::bail!("--value-deltas replaces the deltas of twin pairs: it needs --twins and the DeltaEdit condition");
    }
    let run_dir = args.run_dir.clone().unwrap_or_else(|| {
        PathBuf::from(if args.straightforward { "runs/mapper-straightforward" } else { "runs/mapper" })
    });
    let codes_dir = args.codes.clone().unwrap_or_else(|| run_dir.clone());
    let output = match (&args.output, args.domain) {
        (Some(path), _) => path.clone(),
        (None, Domain::Builtin) => {
            let files = GanFiles::of(Domain::Builtin);
            let file = if args.straightforward { files.straightforward_mapper.expect("the built-in domain has one") } else { files.mapper };
            PathBuf::from("weights").join(file)
        }
        (None, Domain::Ffhq) => run_dir.join("delta_mapper.safetensors"),
    };

    let selected = device::select(preference)?;
    let device = selected.device.clone();
    let base = GanBase::load(weights, args.domain, &device).context("loading the generator, encoder and CLIP")?;
    let config = base.mapper_config()?;
    println!(
        "mapper: S {} (coarse {}×{}, medium {}×{}, fine {}), condition {} — {kind:?}",
        config.s_dim(),
        config.coarse_layers,
        config.style_width,
        config.medium_layers,
        config.style_width,
        config.fine_dim,
        config.cond_dim
    );

    let (train_source, val_source) = match (args.domain, args.twins > 0.0) {
        (Domain::Builtin, false) => (CodeSource::TrainingRenders { seed: args.seed }, CodeSource::HeldOutRenders),
        (Domain::Builtin, true) => (CodeSource::TrainingTwins { seed: args.seed }, CodeSource::HeldOutRenders),
        (Domain::Ffhq, false) => (CodeSource::Samples { seed: args.seed }, CodeSource::Samples { seed: !args.seed }),
        (Domain::Ffhq, true) => anyhow::bail!("--twins needs renders of one portrait with a factor changed; only the built-in domain has them"),
    };
    let train_name = if args.twins > 0.0 { "codes-twins" } else { "codes-train" };
    let codes_started = Instant::now();
    let train_fingerprint = CodesFingerprint::of(&base, train_source, args.images)?;
    let val_fingerprint = CodesFingerprint { source: val_source, len: args.val_images, ..train_fingerprint.clone() };
    let train_codes = load_or_compute(&codes_dir, train_name, &base, &train_fingerprint, args.code_batch)
        .context("computing the training codes")?;
    let val_codes = load_or_compute(&codes_dir, "codes-val", &base, &val_fingerprint, args.code_batch)
        .context("computing the validation codes")?;
    let codes_time = codes_started.elapsed().as_secs_f64();

    let fit = |rows, k: usize, name: &str| -> anyhow::Result<_> {
        match k {
            0 => Ok(None),
            k => Ok(Some(
                fit_delta_subspace(&train_codes, rows, args.twins > 0.0, args.seed, k, &device)
                    .with_context(|| format!("fitting the {k}-direction {name} subspace"))?,
            )),
        }
    };
    let subspaces = MapperSubspaces {
        delta: fit(LatentCodes::clip_rows, args.delta_subspace, "delta")?,
        edit: fit(LatentCodes::s_rows, args.edit_subspace, "edit")?,
    };
    let cfg = MapperTraining {
        seed: args.seed,
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        kind,
        twins: args.twins,
        delta_subspace: args.delta_subspace,
        edit_subspace: args.edit_subspace,
        value_deltas: args.value_deltas,
        mse_weight: args.mse_weight,
    };
    let value_deltas = if cfg.value_deltas > 0.0 {
        Some(ValueDeltas::fit(&train_codes, &twin_changes(args.seed, train_codes.len / 2), &cfg)?)
    } else {
        None
    };
    let options = TrainOptions {
        dir: run_dir.clone(),
        steps: args.steps,
        checkpoint_every: args.checkpoint_every,
        log_every: args.log_every,
        keep: 2,
        label: format!("{kind:?} mapper").to_lowercase(),
    };
    let (mapper, summary) =
        train(&cfg, &config, &train_codes, subspaces.delta.as_ref(), value_deltas.as_ref(), options, &device.clone().autodiff()).context("training the mapper")?;
    let mapper = mapper.valid();

    // Validation on uniform pairs of held-out renders, comparable between pairings.
    let validation = evaluate(&mapper, kind, &subspaces, &val_codes, 4096, 0.0, &device);
    let training_fit = evaluate(&mapper, kind, &subspaces, &train_codes, 4096, args.twins, &device);
    println!(
        "validation: MSE {:.4} (no edit: {:.4}), cosine {:.4}; training pairs: MSE {:.4}, cosine {:.4}",
        validation.mse, validation.zero_edit_mse, validation.cosine, training_fit.mse, training_fit.cosine
    );

    // f16 halves the file; keep it only if the outputs stay within F16_TOLERANCE.
    let metadata = HashMap::from([
        ("format".to_string(), "DeltaEdit net_face.pth state dict (raw EqualLinear parameters)".to_string()),
        ("config".to_string(), serde_json::to_string(&config)?),
        ("condition".to_string(), format!("{kind:?}")),
    ]);
    save_delta_mapper(&mapper, &subspaces, &output, Precision::F16, metadata.clone())?;
    let (reloaded, reloaded_subspaces) = load_delta_mapper(&output, &config, "", &device)?;
    let f16_error = relative_output_change((&mapper, &subspaces), (&reloaded, &reloaded_subspaces), kind, &val_codes, &device);
    let precision = if f16_error <= F16_TOLERANCE {
        Precision::F16
    } else {
        save_delta_mapper(&mapper, &subspaces, &output, Precision::F32, metadata)?;
        Precision::F32
    };
    println!("wrote {} ({precision:?}; f16 changes the outputs by {f16_error:.2e} relative)", output.display());

    let manifest = serde_json::json!({
        "model": match kind {
            MapperKind::DeltaEdit => "Delta Mapper (src/models/delta_mapper.rs), condition [c_i ‖ normalise(c_j − c_i)] (paper 000 §3.2)",
            MapperKind::Straightforward => "Delta Mapper network, straightforward baseline: condition [c_i ‖ c_j] in training, the target text feature at inference (paper 000 §3.1.1, Table I)",
        },
        "command": command_line(),
        "domain": args.domain,
        "config": config,
        "training": cfg,
        "codes": {
            "train": { "source": train_source, "images": train_codes.len },
            "validation": { "source": val_source, "images": val_codes.len },
            "compute_time_s": (codes_time * 10.0).round() / 10.0,
        },
        "trained_from": trained_from(&train_fingerprint.models),
        "steps": summary.steps,
        "resumed_from": summary.resumed_from,
        "wall_time_s": (summary.wall_time_s * 10.0).round() / 10.0,
        "device": selected.label,
        "final_losses": summary.final_losses,
        "validation": validation,
        "training_pairs": training_fit,
        "precision": format!("{precision:?}"),
        "f16_relative_output_change": f16_error,
        "sha256": sha256_file(&output)?,
    });
    write_manifest(&output.with_extension("json"), &manifest)
}

fn share(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a share in [0, 1], got {text:?}")),
    }
}

/// ‖b(x) − a(x)‖ / ‖a(x)‖ over 256 validation pairs, each mapper within its own subspaces.
fn relative_output_change(
    (a, a_subspaces): (&DeltaMapper, &MapperSubspaces),
    (b, b_subspaces): (&DeltaMapper, &MapperSubspaces),
    kind: MapperKind,
    codes: &LatentCodes,
    device: &Device,
) -> f64 {
    let (sources, partners) = PairSampler::new(1, codes.len).batch(0, 256);
    let (s_i, cond_a, _) = pair_batch(codes, kind, a_subspaces.delta.as_ref(), (&sources, &partners), None, device);
    let (_, cond_b, _) = pair_batch(codes, kind, b_subspaces.delta.as_ref(), (&sources, &partners), None, device);
    let ya = a_subspaces.project_edit(a.forward(s_i.clone(), cond_a));
    let yb = b_subspaces.project_edit(b.forward(s_i, cond_b));
    let diff = (yb - ya.clone()).square().sum().sqrt().into_scalar::<f32>() as f64;
    diff / (ya.square().sum().sqrt().into_scalar::<f32>() as f64).max(1e-12)
}
