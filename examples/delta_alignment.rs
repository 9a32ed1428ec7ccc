//! How well each benchmark prompt's text delta points where its image delta goes: CLIP's own
//! delta, the delta carried by the delta alignment (as the engine computes it), and both projected
//! onto delta subspaces (docs/delta_mapper.md, "Delta subspace" and "Delta alignment"). Per prompt
//! of tests/prompts/builtin.jsonl: the mean cosine between the text delta (source → target) and
//! the image deltas of 30 held-out renders rendered again with the expected values; the subspaces
//! are fitted on the image deltas of training renders and their counterfactual twins.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example delta_alignment [-- TWIN_PAIRS]
use std::path::Path;

use burn::prelude::*;
use deltastudio::engine::benchmark::read_prompts;
use deltastudio::engine::delta_space::{DeltaSpace, Domain};
use deltastudio::engine::gan::Method;
use deltastudio::engine::models::GanModels;
use deltastudio::models::clip::l2_normalize;
use deltastudio::models::delta_mapper::DeltaSubspace;
use deltastudio::train::alignment;
use deltastudio::train::codes::twin_attributes;
use deltastudio::weights::registry::WeightsPath;
use deltastudio::world::dataset::{held_out_seed, training_seed};
use deltastudio::world::{Attributes, sample_attributes};

const DIRECTIONS: [usize; 5] = [16, 24, 32, 48, 64];
const RENDERS_PER_PROMPT: usize = 30;

/// Unit image deltas f(after) − f(before) of portrait pairs [N, E].
fn image_deltas(space: &DeltaSpace, pairs: &[(u64, Attributes, Attributes)], device: &Device) -> deltastudio::Result<Tensor<2>> {
    Ok(l2_normalize(alignment::image_deltas(space, pairs, 128, device)?))
}

/// Mean cosine between `direction` [1, E] and the unit rows of `deltas`.
fn mean_cosine(deltas: &Tensor<2>, direction: Tensor<2>) -> f32 {
    deltas.clone().matmul(l2_normalize(direction).transpose()).mean().into_scalar::<f32>()
}

fn main() -> deltastudio::Result<()> {
    let twin_pairs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let device = Device::flex();
    // The edit models: their DeltaSpace carries the delta alignment.
    let models = GanModels::load(&WeightsPath::new(None), Domain::Builtin, Method::DeltaEdit, &device)?;
    let space = &models.base.delta_space;
    let twins: Vec<_> = (0..twin_pairs)
        .map(|i| {
            let seed = training_seed(0, i);
            let attributes = sample_attributes(seed);
            (seed, attributes, twin_attributes(seed, attributes))
        })
        .collect();
    let twin_deltas = image_deltas(space, &twins, &device)?;
    let subspaces: Vec<DeltaSubspace> = DIRECTIONS.iter().map(|&k| DeltaSubspace::fit(twin_deltas.clone(), k)).collect::<Result<_, _>>()?;

    let clip_subspace = &subspaces[DIRECTIONS.iter().position(|&k| k == 24).expect("24 directions")];
    println!("{:48} {:>7}{:>7}{:>8}{}", "target", "clip", "clip24", "aligned", DIRECTIONS.map(|k| format!("{k:>7}")).join(""));
    let cases = read_prompts(Path::new("tests/prompts/builtin.jsonl"))?;
    let mut means = vec![0.0; DIRECTIONS.len() + 3];
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
        let clip = space.clip_text_delta(source, &case.target)?;
        let aligned = space.text_delta(source, &case.target)?;
        let row: Vec<f32> = [mean_cosine(&deltas, clip.clone()), mean_cosine(&deltas, clip_subspace.project(clip)), mean_cosine(&deltas, aligned.clone())]
            .into_iter()
            .chain(subspaces.iter().map(|s| mean_cosine(&deltas, s.project(aligned.clone()))))
            .collect();
        means.iter_mut().zip(&row).for_each(|(m, x)| *m += x / cases.len() as f32);
        println!("{:48} {}", case.target, row.iter().map(|x| format!("{x:>7.3}")).collect::<String>());
    }
    println!("{:48} {}", "mean", means.iter().map(|x| format!("{x:>7.3}")).collect::<String>());
    Ok(())
}
