//! `deltastudio eval`: the edit-quality benchmark of the built-in domain (see
//! `engine::benchmark`), for DeltaEdit or a baseline.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use deltastudio::device::{self, DevicePreference};
use deltastudio::engine::benchmark::{self, BenchmarkOptions, Strength};
use deltastudio::engine::composite::CompositeOptions;
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::gan::Method;
use deltastudio::engine::models::{GanModels, find};
use deltastudio::engine::session::InversionSteps;
use deltastudio::weights::registry::{JUDGE_FILE, WeightsPath};
use deltastudio::world::judge::Judge;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct Args {
    /// JSON Lines, one edit per line: {"source": "a face", "target": "a face with red hair", "expect": {"hair_color": "red"}}.
    #[arg(long, value_name = "FILE")]
    prompts: PathBuf,
    /// Held-out renders per edit.
    #[arg(long, default_value_t = 200)]
    n: usize,
    #[arg(long, value_enum, default_value_t = Method::DeltaEdit)]
    method: Method,
    #[arg(long, default_value_t = 1.0, conflicts_with = "fit_strength")]
    strength: f32,
    /// Fit each edit's strength to each render: the smallest that reaches most of the best CLIP
    /// similarity to the target prompt (the editor's "Auto" strength button).
    #[arg(long)]
    fit_strength: bool,
    /// Relevance threshold β (default: the built-in domain's).
    #[arg(long)]
    beta: Option<f32>,
    /// Per-image latent refinement: optimisation steps on w+ after the encoder.
    #[arg(long, default_value_t = 0)]
    refine: usize,
    /// Pivotal tuning: optimisation steps on the generator's weights at each render's inversion.
    #[arg(long, default_value_t = 0)]
    tune: usize,
    /// Keep the input's pixels wherever the edit leaves the synthesis unchanged (the editor's
    /// "keep unedited pixels"); without it the edit is judged on the synthesis, as in the paper.
    #[arg(long)]
    keep_unedited: bool,
    /// With --keep-unedited: the change (fraction of full scale) below which a pixel is unedited.
    #[arg(long, requires = "keep_unedited", default_value_t = CompositeOptions::default().below)]
    mask_below: f32,
    /// With --keep-unedited: the change from which a pixel shows the edit alone.
    #[arg(long, requires = "keep_unedited", default_value_t = CompositeOptions::default().above)]
    mask_above: f32,
    /// Also write the full report as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn run(args: Args, device_preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let cases = benchmark::read_prompts(&args.prompts)?;
    let selected = device::select(device_preference)?;
    let device = selected.device.clone();
    println!("device: {} ({})", selected.label, selected.reason);
    let models = GanModels::load(weights, Domain::Builtin, args.method, &device).context("cannot load the built-in models")?;
    let judge = Judge::load(&find(weights, JUDGE_FILE)?, &device)?;
    let options = BenchmarkOptions {
        n: args.n,
        strength: if args.fit_strength { Strength::Fitted } else { Strength::Given(args.strength) },
        beta: args.beta.unwrap_or(Domain::Builtin.default_beta()),
        inversion: InversionSteps { refine_steps: args.refine, tune_steps: args.tune },
        keep_unedited: args.keep_unedited.then_some(CompositeOptions {
            below: args.mask_below,
            above: args.mask_above,
            ..CompositeOptions::default()
        }),
    };

    let bar = ProgressBar::new(cases.len() as u64);
    bar.set_style(ProgressStyle::with_template("eval [{elapsed_precise}] {wide_bar} {pos}/{len} edits ({eta} left)").expect("valid template"));
    let start = Instant::now();
    let report = benchmark::run(Arc::new(models), &judge, &cases, options, &device, |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();

    let output = if options.keep_unedited.is_some() { ", unedited pixels kept" } else { "" };
    println!(
        "method {}, strength {}, β {}{output}, {} renders per edit ({:.0} s)",
        report.method,
        options.strength,
        options.beta,
        options.n,
        start.elapsed().as_secs_f64()
    );
    println!("{:<58} {:>8} {:>8} {:>9} {:>8} {:>8}  {}", "target (expect)", "accuracy", "preserve", "PSNR out", "strength", "ms/edit", "least kept");
    for case in &report.cases {
        let expect: Vec<String> = case.expect.iter().map(|(f, v)| format!("{f}={v}")).collect();
        let label = format!("{} ({})", case.target, expect.join(", "));
        let least_kept = case
            .kept_by_factor
            .iter()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(f, share)| format!("{f} {:.0}%", share * 100.0))
            .unwrap_or_default();
        println!(
            "{:<58} {:>7.1}% {:>7.1}% {:>9} {:>8.2} {:>8.1}  {least_kept}",
            truncate(&label, 58),
            case.accuracy * 100.0,
            case.preservation * 100.0,
            decibels(case.psnr_outside_db),
            case.mean_strength,
            case.ms_per_edit
        );
    }
    println!(
        "{:<58} {:>7.1}% {:>7.1}% {:>9} {:>8} {:>8.1}",
        "OVERALL (mean over edits)",
        report.accuracy * 100.0,
        report.preservation * 100.0,
        decibels(report.psnr_outside_db),
        "",
        report.ms_per_edit
    );
    println!("inversion: {:.1} ms per render", report.ms_per_inversion);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// "23.4 dB", or "n/a" where the edited parts cover the whole image.
fn decibels(value: f64) -> String {
    if value.is_finite() { format!("{value:.1} dB") } else { "n/a".to_string() }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}
