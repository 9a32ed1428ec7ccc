//! `deltastudio train <model>`: the commands that train DeltaStudio's own models (resumable:
//! rerun the same command to continue from the last checkpoint).
use std::path::PathBuf;

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
    /// The Delta Mapper, text-free on pairs of inverted images (or the paper's straightforward
    /// baseline); writes weights in net_face.pth's key layout + a manifest.
    Mapper(super::train_mapper::Args),
    /// The relevance matrix (StyleCLIP channel relevance, fs3.npy's layout) + a manifest.
    Relevance(super::train_relevance::Args),
    /// The built-in CLIP's delta alignment: carries text deltas to where image deltas point
    /// (fitted on counterfactual render pairs and their captions) + a manifest.
    Alignment(super::train_alignment::Args),
}

pub fn run(args: Args, device: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    match args.command {
        TrainCommand::Clip(a) => super::train_clip::run(a),
        TrainCommand::Gan(a) => super::train_gan::run(a, weights),
        TrainCommand::Mapper(a) => super::train_mapper::run(a, device, weights),
        TrainCommand::Relevance(a) => super::train_relevance::run(a, device, weights),
        TrainCommand::Alignment(a) => super::train_alignment::run(a, device, weights),
    }
}

/// `[{file, sha256}]` of the files a result was made from (hashed when they were loaded).
pub fn trained_from(models: &[(PathBuf, String)]) -> serde_json::Value {
    models.iter().map(|(path, sha256)| serde_json::json!({ "file": path.display().to_string(), "sha256": sha256 })).collect()
}
