//! `deltastudio train <model>`: the commands that train DeltaStudio's own models (resumable:
//! rerun the same command to continue from the last checkpoint).
use clap::Subcommand;
use deltastudio::device::DevicePreference;
use deltastudio::weights::registry::WeightsPath;

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
    /// The built-in StyleGAN2 generator and its e4e encoder, trained together as an autoencoder.
    Gan(super::train_gan::Args),
}

pub fn run(args: Args, _device: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    match args.command {
        TrainCommand::Clip(a) => super::train_clip::run(a),
        TrainCommand::Gan(a) => super::train_gan::run(a, weights),
    }
}
