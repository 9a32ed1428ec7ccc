//! Times the full-size e4e encode (256², batch 1) and Delta Mapper forward (batch 1, official
//! 1024² layout) with random weights on flex. The PyTorch reference counterpart is
//! tools/parity/bench_e4e_mapper.py; run both in the same session to get the ratio.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example bench_e4e_mapper [-- ITERS]
use std::time::Instant;

use burn::prelude::*;
use deltastudio::models::delta_mapper::DeltaMapperConfig;
use deltastudio::models::e4e::E4eConfig;

/// Runs `f` once to warm up, then `iters` times; returns the median in milliseconds.
fn time_ms<T>(iters: usize, mut f: impl FnMut() -> T) -> f64 {
    f();
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> deltastudio::Result<()> {
    let iters: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let device = Device::flex();

    let encoder = E4eConfig::default().init(&device)?;
    let image = Tensor::<4>::random([1, 3, 256, 256], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
    let e4e_ms = time_ms(iters, || encoder.encode(image.clone()).into_data());
    println!("e4e encode (IR-SE50, 18 styles, 256², batch 1): median {e4e_ms:.1} ms over {iters} runs");

    let config = DeltaMapperConfig::default();
    let mapper = config.init(&device);
    let s = Tensor::<2>::random([1, config.s_dim()], burn::tensor::Distribution::Normal(0.0, 10.0), &device);
    let c = Tensor::<2>::random([1, config.cond_dim], burn::tensor::Distribution::Normal(0.0, 0.05), &device);
    let mapper_ms = time_ms(iters * 4, || mapper.forward(s.clone(), c.clone()).into_data());
    println!("Delta Mapper forward (official layout, batch 1): median {mapper_ms:.2} ms over {} runs", iters * 4);
    Ok(())
}
