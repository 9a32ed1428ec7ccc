//! ViT-B/32 encoding speed with random weights: median of several runs after warm-up.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example bench_clip [-- RUNS [cpu|auto]]
use std::time::Instant;

use burn::prelude::*;
use deltastudio::device::{self, DevicePreference};
use deltastudio::models::clip::ClipConfig;
use deltastudio::models::clip::tokenizer::{CONTEXT_LENGTH, ClipTokenizer};

fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..2 {
        f(); // warm-up
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

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
    let image = median_seconds(runs, || {
        model.encode_image(pixels.clone()).into_data();
    });
    let text = median_seconds(runs, || {
        model.encode_text(tokens.clone()).into_data();
    });
    println!("ViT-B/32 encode_image, batch 1: median {:.1} ms over {runs} runs", image * 1e3);
    println!("ViT-B/32 encode_text,  batch 1: median {:.1} ms over {runs} runs", text * 1e3);
    Ok(())
}
