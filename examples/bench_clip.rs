//! ViT-B/32 encoding speed with random weights: median of several runs after two warm-up runs.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example bench_clip [-- RUNS [cpu|auto]]
mod common;

use burn::prelude::*;
use common::Timings;
use deltastudio::device::{self, DevicePreference};
use deltastudio::models::clip::ClipConfig;
use deltastudio::models::clip::tokenizer::{CONTEXT_LENGTH, ClipTokenizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10).max(1);
    let preference = match args.next().as_deref() {
        Some("auto") => DevicePreference::Auto,
        Some("gpu") => DevicePreference::Gpu,
        _ => DevicePreference::Cpu,
    };
    let selected = device::select(preference)?;
    let device = selected.device;
    println!("device: {} ({})", selected.label, selected.reason);

    let model = ClipConfig::vit_b_32().init(&device);
    let pixels = Tensor::<4>::random([1, 3, 224, 224], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let ids = ClipTokenizer::new()?.tokenize("a portrait of a smiling woman with glasses", CONTEXT_LENGTH)?;
    let tokens = Tensor::<2, Int>::from_data(burn::tensor::TensorData::new(ids, [1, CONTEXT_LENGTH]), &device);

    // `into_data` waits for the device, so each timing covers the whole forward pass.
    let image = Timings::measure(2, runs, || model.encode_image(pixels.clone()).into_data());
    let text = Timings::measure(2, runs, || model.encode_text(tokens.clone()).into_data());
    println!("ViT-B/32 encode_image, batch 1: {image}");
    println!("ViT-B/32 encode_text,  batch 1: {text}");
    Ok(())
}
