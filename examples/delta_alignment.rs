//! How well each benchmark prompt's text delta points where its image delta goes, with and
//! without projecting the text delta onto a delta subspace (docs/delta_mapper.md, "Delta
//! subspace"). Per prompt of tests/prompts/builtin.jsonl: the mean cosine between the text delta
//! (source → target, as the engine computes it) and the image deltas of 30 held-out renders
//! rendered again with the expected values; the subspaces are fitted on the image deltas of
//! training renders and their counterfactual twins.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example delta_alignment [-- TWIN_PAIRS]
use std::path::Path;

use burn::prelude::*;
use deltastudio::engine::benchmark::read_prompts;
use deltastudio::engine::delta_space::{DeltaSpace, Domain};
use deltastudio::engine::models::GanBase;
use deltastudio::models::delta_mapper::DeltaSubspace;
use deltastudio::train::codes::twin_attributes;
use deltastudio::weights::registry::WeightsPath;
use deltastudio::world::dataset::{held_out_seed, training_seed};
use deltastudio::world::judge::images_to_tensor;
use deltastudio::world::{Attributes, render, sample_attributes};

const DIRECTIONS: [usize; 5] = [16, 24, 32, 48, 64];
const RENDERS_PER_PROMPT: usize = 30;

/// Unit image deltas f(after) − f(before) of portrait pairs [N, E].
fn image_deltas(space: &DeltaSpace, pairs: &[(u64, Attributes, Attributes)], device: &Device) -> deltastudio::Result<Tensor<2>> {
    let features = |pick: fn(&(u64, Attributes, Attributes)) -> (u64, Attributes)| -> deltastudio::Result<Tensor<2>> {
        let images: Vec<_> = pairs.iter().map(pick).map(|(seed, a)| render(seed, &a, 64).image).collect();
        let chunks: deltastudio::Result<Vec<_>> =
            images.chunks(128).map(|chunk| space.image_features(images_to_tensor(chunk, 64, device))).collect();
        Ok(Tensor::cat(chunks?, 0))
    };
    let delta = features(|p| (p.0, p.2))? - features(|p| (p.0, p.1))?;
    Ok(delta.clone() / delta.square().sum_dim(1).sqrt().clamp_min(1e-12))
}

/// Mean cosine between `direction` [1, E] and the unit rows of `deltas`.
fn mean_cosine(deltas: &Tensor<2>, direction: Tensor<2>) -> f32 {
    let unit = direction.clone() / direction.square().sum().sqrt().clamp_min(1e-12).unsqueeze::<2>();
    deltas.clone().matmul(unit.transpose()).mean().into_scalar::<f32>()
}

fn main() -> deltastudio::Result<()> {
    let twin_pairs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let device = Device::flex();
    let base = GanBase::load(&WeightsPath::new(None), Domain::Builtin, &device)?;
    let space = &base.delta_space;
    let twins: Vec<_> = (0..twin_pairs)
        .map(|i| {
            let seed = training_seed(0, i);
            let attributes = sample_attributes(seed);
            (seed, attributes, twin_attributes(seed, attributes))
        })
        .collect();
    let twin_deltas = image_deltas(space, &twins, &device)?;
    let subspaces: Vec<DeltaSubspace> = DIRECTIONS.iter().map(|&k| DeltaSubspace::fit(twin_deltas.clone(), k)).collect::<Result<_, _>>()?;

    println!("{:48} {:>7}{}", "target", "full", DIRECTIONS.map(|k| format!("{k:>7}")).join(""));
    let cases = read_prompts(Path::new("tests/prompts/builtin.jsonl"))?;
    let mut means = vec![0.0; DIRECTIONS.len() + 1];
    for case in &cases {
        let expected = case.expected()?;
        let pairs: Vec<_> = (0..)
            .map(|i| (held_out_seed(i), sample_attributes(held_out_seed(i))))
            .filter(|(_, a)| expected.iter().all(|&(f, v)| a.get(f) != v))
            .take(RENDERS_PER_PROMPT)
            .map(|(seed, a)| (seed, a, expected.iter().fold(a, |a, &(f, v)| a.with(f, v))))
            .collect();
        let deltas = image_deltas(space, &pairs, &device)?;
        let source = case.source.as_deref().unwrap_or(Domain::Builtin.neutral_prompt());
        let text = space.text_delta(source, &case.target)?;
        let row: Vec<f32> = std::iter::once(mean_cosine(&deltas, text.clone()))
            .chain(subspaces.iter().map(|s| mean_cosine(&deltas, s.project(text.clone()))))
            .collect();
        means.iter_mut().zip(&row).for_each(|(m, x)| *m += x / cases.len() as f32);
        println!("{:48} {}", case.target, row.iter().map(|x| format!("{x:>7.3}")).collect::<String>());
    }
    println!("{:48} {}", "mean", means.iter().map(|x| format!("{x:>7.3}")).collect::<String>());
    Ok(())
}
