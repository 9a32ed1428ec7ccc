//! `deltastudio train <model>`: training the built-in domain's models (resumable: rerun the same
//! command to continue from the last checkpoint).
use clap::Subcommand;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TrainCommand,
}

#[derive(Subcommand)]
enum TrainCommand {
    /// Our small CLIP, contrastive on (render, caption) pairs; evaluates zero-shot accuracy and
    /// the DeltaSpace property and writes weights + manifest.
    Clip(super::train_clip::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        TrainCommand::Clip(a) => super::train_clip::run(a),
    }
}
