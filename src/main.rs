//! `deltastudio`: with no subcommand, the editor; otherwise one of the commands in `cli/`.
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use deltastudio::app::StartOptions;
use deltastudio::app::settings::{CompareMode, Settings};
use deltastudio::device::{self, DevicePreference};
use deltastudio::weights::registry::WeightsPath;

#[derive(Parser)]
#[command(name = "deltastudio", version, about = "Text-guided image editing: DeltaEdit on StyleGAN2, diffusion editing")]
struct Cli {
    /// Where models run: a hardware GPU if present (auto), a GPU, or the CPU.
    #[arg(long, global = true, value_enum, default_value_t = DevicePreference::Auto)]
    device: DevicePreference,
    /// A folder searched first for model files (then $DELTASTUDIO_WEIGHTS, the data dir, the repo's weights/).
    #[arg(long, global = true, value_name = "DIR")]
    weights: Option<PathBuf>,
    #[command(flatten)]
    editor: EditorArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What the editor opens at start (no subcommand).
#[derive(clap::Args)]
struct EditorArgs {
    /// An image to open in the editor.
    #[arg(long, value_name = "IMAGE")]
    open: Option<PathBuf>,
    /// An exported PNG or a saved session (.json) to restore in the editor.
    #[arg(long, value_name = "FILE")]
    recipe: Option<PathBuf>,
    /// The editor's compare mode.
    #[arg(long, value_enum)]
    compare: Option<CompareMode>,
    /// Save a screenshot of the editor once it has shown everything asked for, then quit.
    #[arg(long, value_name = "PNG")]
    screenshot: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// List every model file DeltaStudio knows, where it looks for it, and whether it is present.
    Models(cli::models::Args),
    /// CLIP similarity between images and texts.
    Clip(cli::clip::Args),
    /// The built-in domain: render portraits, datasets, the attribute judge.
    World(cli::world::Args),
    /// Edit a portrait with a text prompt (DeltaEdit on StyleGAN2), without the editor.
    Edit(cli::edit::Args),
    /// Measure edit quality on held-out built-in portraits with the attribute judge.
    Eval(cli::eval::Args),
    /// Train DeltaStudio's own models (resumable: rerun the command to continue).
    Train(cli::train::Args),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Cli::parse();
    let weights = WeightsPath::new(args.weights.as_deref());
    let result = match args.command {
        None => open_editor(args.device, args.weights.clone(), args.editor),
        Some(Command::Models(a)) => cli::models::run(a, &weights),
        Some(Command::Clip(a)) => cli::clip::run(a, args.device, &weights),
        Some(Command::World(a)) => cli::world::run(a, args.device, &weights),
        Some(Command::Edit(a)) => cli::edit::run(a, args.device, &weights),
        Some(Command::Eval(a)) => cli::eval::run(a, args.device, &weights),
        Some(Command::Train(a)) => cli::train::run(a, args.device, &weights),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn open_editor(preference: DevicePreference, weights: Option<PathBuf>, editor: EditorArgs) -> anyhow::Result<()> {
    // Without --device, the editor's saved setting decides.
    let preference = match preference {
        DevicePreference::Auto => Settings::default_path().map(|p| Settings::load(&p).device).unwrap_or_default(),
        explicit => explicit,
    };
    let selected = device::select(preference)?;
    let start = StartOptions { weights, open: editor.open, recipe: editor.recipe, compare: editor.compare, screenshot: editor.screenshot };
    deltastudio::app::run(selected, start).map_err(|e| anyhow::anyhow!("the editor window could not be opened: {e}"))
}
