//! `deltastudio train <model>`: the commands that train DeltaStudio's own models.
use clap::Subcommand;
use deltastudio::weights::registry::WeightsPath;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TrainCommand,
}

#[derive(Subcommand)]
enum TrainCommand {
    /// The built-in StyleGAN2 generator and its e4e encoder, trained together as an autoencoder.
    Gan(super::train_gan::Args),
}

pub fn run(args: Args, weights: &WeightsPath) -> anyhow::Result<()> {
    match args.command {
        TrainCommand::Gan(a) => super::train_gan::run(a, weights),
    }
}
