//! Times the full-size e4e encode (256², batch 1) and Delta Mapper forward (batch 1, official
//! 1024² layout) with random weights on flex. The PyTorch reference counterpart is
//! tools/parity/bench_e4e_mapper.py; run both in the same session to get the ratio.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example bench_e4e_mapper [-- ITERS]
mod common;

use burn::prelude::*;
use common::Timings;
use deltastudio::models::delta_mapper::DeltaMapperConfig;
use deltastudio::models::e4e::E4eConfig;

fn main() -> deltastudio::Result<()> {
    let iters: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let device = Device::flex();

    let encoder = E4eConfig::default().init(&device)?;
    let image = Tensor::<4>::random([1, 3, 256, 256], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
    let t = Timings::measure(1, iters, || encoder.encode(image.clone()).into_data());
    println!("e4e encode (IR-SE50, 18 styles, 256², batch 1): {t}");

    let config = DeltaMapperConfig::default();
    let mapper = config.init(&device);
    let s = Tensor::<2>::random([1, config.s_dim()], burn::tensor::Distribution::Normal(0.0, 10.0), &device);
    let c = Tensor::<2>::random([1, config.cond_dim], burn::tensor::Distribution::Normal(0.0, 0.05), &device);
    let t = Timings::measure(1, iters * 4, || mapper.forward(s.clone(), c.clone()).into_data());
    println!("Delta Mapper forward (official layout, batch 1): {t:.2}");
    Ok(())
}
