//! `deltastudio edit`: one text edit of one image with DeltaEdit-G, headless.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use deltastudio::device::{self, DevicePreference};
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::gan::{Method, TextEdit};
use deltastudio::engine::models::GanModels;
use deltastudio::engine::session::{EditSession, EditStack};
use deltastudio::weights::registry::WeightsPath;

#[derive(clap::Args)]
pub struct Args {
    /// An aligned portrait (built-in renders are aligned; FFHQ photos must be FFHQ-aligned).
    #[arg(long, value_name = "IMAGE")]
    input: PathBuf,
    /// What the image should show, e.g. "a face with a smile".
    #[arg(long)]
    target: String,
    /// The neutral description the edit starts from (default: the domain's, "a face" / "face").
    #[arg(long)]
    source: Option<String>,
    /// How far to move along the edit direction (0 = the reconstruction).
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Disentanglement threshold β: S channels less relevant to the text change are left alone
    /// (default: the domain's).
    #[arg(long)]
    beta: Option<f32>,
    /// Which models: the built-in domain's or the official FFHQ files.
    #[arg(long, value_enum, default_value_t = Domain::Builtin)]
    domain: Domain,
    #[arg(long, value_enum, default_value_t = Method::DeltaEdit)]
    method: Method,
    /// Per-image latent refinement: optimisation steps on w+ after the encoder (sharper
    /// reconstructions, slower inversion).
    #[arg(long, default_value_t = 0)]
    refine: usize,
    /// Also save the reconstruction (the inversion without edits) here.
    #[arg(long, value_name = "PNG")]
    reconstruction: Option<PathBuf>,
    /// Where to write the edited image (PNG).
    #[arg(short, long, value_name = "PNG")]
    output: PathBuf,
}

pub fn run(args: Args, device_preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let image = deltastudio::engine::image_input::load_image(&args.input)?;
    let selected = device::select(device_preference)?;
    let device = selected.device.clone();
    println!("device: {} ({})", selected.label, selected.reason);

    let start = Instant::now();
    let models = GanModels::load(weights, args.domain, args.method, &device).context("cannot load the GAN-path models")?;
    println!("models loaded in {:.2} s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let mut session = EditSession::refined(Arc::new(models), &image, args.refine, &device)?;
    let reconstruction = session.render(&EditStack::default())?;
    println!("inversion: {:.1} ms", start.elapsed().as_secs_f64() * 1000.0);

    let edit = TextEdit {
        source: args.source,
        target: args.target,
        strength: args.strength,
        beta: args.beta.unwrap_or(args.domain.default_beta()),
    };
    let start = Instant::now();
    let edited = session.render(&EditStack::single(edit))?;
    println!("edit: {:.1} ms (text features, mapper, synthesis)", start.elapsed().as_secs_f64() * 1000.0);

    edited.save(&args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("wrote {}", args.output.display());
    if let Some(path) = args.reconstruction {
        reconstruction.save(&path).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
