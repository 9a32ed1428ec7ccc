//! Times StyleGAN2 synthesis from w+ (batch 1, random weights, the stored noise maps): the op the
//! editor re-runs on every slider move. Prints the median of `--runs` timed runs after warm-up.
//!
//!   cargo run --release --example bench_stylegan2 -- --device cpu --sizes 1024,256 --runs 5
//!
//! The PyTorch reference is timed by tools/parity/bench_stylegan2.py with the same arguments.
mod common;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use common::Timings;
use deltastudio::device::{self, DevicePreference};
use deltastudio::models::stylegan2::{Noise, StyleGan2Config};

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value_t = DevicePreference::Cpu)]
    device: DevicePreference,
    /// Generator sizes (rosinality config, channel multiplier 2).
    #[arg(long, value_delimiter = ',', default_values_t = [1024, 256])]
    sizes: Vec<usize>,
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let selected = device::select(args.device)?;
    let device = &selected.device;
    println!("device: {} ({})", selected.label, selected.reason);
    for &size in &args.sizes {
        let g = StyleGan2Config::new(size).init(device)?;
        let w = g.mapping(Tensor::random([1, 512], Distribution::Normal(0.0, 1.0), device));
        let wplus = g.broadcast(w);
        // The editor needs the pixels on the host.
        let t = Timings::measure(args.warmup, args.runs, || g.synthesis(wplus.clone(), &Noise::Stored).into_data());
        println!("synthesis {size}x{size} batch 1: {t}");
    }
    Ok(())
}
