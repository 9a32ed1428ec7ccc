//! `deltastudio models`: every model file the app knows, where it looked, and what it found.
use burn::prelude::Device;
use deltastudio::weights::registry::{self, WeightsPath};

#[derive(clap::Args)]
pub struct Args {
    /// Skip hashing the files that are found (hashing multi-GB checkpoints takes a while).
    #[arg(long)]
    no_hash: bool,
    /// Also load every file found with its model's loader (on the CPU), to verify keys and shapes.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args, weights: &WeightsPath) -> anyhow::Result<()> {
    println!("Search order:");
    for (i, (origin, dir)) in weights.dirs.iter().enumerate() {
        let exists = if dir.is_dir() { "" } else { "  (does not exist)" };
        println!("  {}. {:<22} {}{exists}", i + 1, origin.to_string(), dir.display());
    }
    println!();
    for status in registry::status(weights, !args.no_hash)? {
        let k = &status.known;
        let kind = if k.builtin { "built-in" } else { "official" };
        match &status.found {
            Some(path) => {
                println!("[found]   {} ({kind})", k.file);
                println!("          {}", k.purpose);
                println!("          at {}", path.display());
                if let Some(hash) = &status.sha256 {
                    let check = match status.verified() {
                        Some(true) => " (matches the canonical file)",
                        Some(false) => " (WARNING: differs from the canonical file; it still loads if its keys and shapes fit)",
                        None => "",
                    };
                    println!("          sha256 {hash}{check}");
                }
                if args.check {
                    match registry::check_loads(k, path, &Device::flex()) {
                        Ok(summary) => println!("          loads: {summary}"),
                        Err(e) => println!("          DOES NOT LOAD: {e}"),
                    }
                }
            }
            None => {
                println!("[missing] {} ({kind})", k.file);
                println!("          {}", k.purpose);
                println!("          get it from: {}", k.source);
                if let Some(sha) = k.sha256 {
                    println!("          expected sha256 {sha}");
                }
            }
        }
    }
    Ok(())
}
