//! How far edits can go in the built-in generator's latent spaces, whatever the text side does:
//! each edit moves a held-out render's code by the difference of class means (the mean code of
//! encoded training renders whose true value is the target, minus the mean of those with the
//! render's own value), in S over the conv layers (the paper's S) or in w+ (which also moves the
//! ToRGB styles), and the judge reads the result. Prints, per factor value and strength, the share
//! judged to have the target value and the share of the other factors the judge sees as in the
//! reconstruction.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example oracle_directions [-- TEST_RENDERS]
use burn::prelude::*;
use burn::tensor::Int;
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::models::{GanBase, find};
use deltastudio::models::stylegan2::{Noise, SLayers};
use deltastudio::train::gan::tensor_to_images;
use deltastudio::weights::registry::{JUDGE_FILE, WeightsPath};
use deltastudio::world::dataset::{Sample, held_out_seed, sample, training_seed};
use deltastudio::world::factors::Factor;
use deltastudio::world::judge::{Judge, images_to_tensor};

/// Encoded training renders the class means come from.
const TRAINING_RENDERS: u64 = 3000;
const STRENGTHS: [f32; 3] = [1.0, 2.0, 3.0];

/// S `[n, channels]` and w+ `[n, layers, w]` of `samples`.
fn encode(base: &GanBase, samples: &[Sample], device: &Device) -> (Tensor<2>, Tensor<3>) {
    let size = base.generator.config.size as u32;
    let images: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let wplus: Vec<Tensor<3>> = images.chunks(128).map(|chunk| base.encoder.encode(images_to_tensor(chunk, size, device))).collect();
    let wplus = Tensor::cat(wplus, 0);
    (Tensor::cat(base.generator.conv_styles(wplus.clone()), 1), wplus)
}

fn rows<const D: usize>(t: &Tensor<D>, indices: &[usize]) -> Tensor<D> {
    let indices: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    let n = indices.len();
    t.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(indices, [n]), &t.device()))
}

fn main() -> deltastudio::Result<()> {
    let test_renders: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(150);
    let device = Device::flex();
    let weights = WeightsPath::new(None);
    let base = GanBase::load(&weights, Domain::Builtin, &device)?;
    let judge = Judge::load(&find(&weights, JUDGE_FILE)?, &device)?;
    let size = base.generator.config.size as u32;

    let training: Vec<Sample> = (0..TRAINING_RENDERS).map(|i| sample(training_seed(5, i), size, false)).collect();
    let (s_training, w_training) = encode(&base, &training, &device);
    let test: Vec<Sample> = (0..test_renders).map(|i| sample(held_out_seed(i), size, false)).collect();
    let (s_test, w_test) = encode(&base, &test, &device);
    let reconstructed = judge.judge(&tensor_to_images(base.generator.synthesis(w_test.clone(), &Noise::Stored)));

    println!("factor       value       | S: strength 1, 2, 3 (target % / others kept %)      | w+: strength 1, 2, 3");
    for factor in Factor::ALL {
        let members = |value: usize| -> Vec<usize> { (0..training.len()).filter(|&i| training[i].attributes.get(factor) == value).collect() };
        let s_means: Vec<Tensor<2>> = (0..factor.count()).map(|v| rows(&s_training, &members(v)).mean_dim(0)).collect();
        let w_means: Vec<Tensor<3>> = (0..factor.count()).map(|v| rows(&w_training, &members(v)).mean_dim(0)).collect();
        for target in 0..factor.count() {
            let others: Vec<usize> = (0..test.len()).filter(|&i| test[i].attributes.get(factor) != target).collect();
            let own = |i: &usize| test[*i].attributes.get(factor);
            let s_delta = Tensor::cat(others.iter().map(|i| s_means[target].clone() - s_means[own(i)].clone()).collect(), 0);
            let w_delta = Tensor::cat(others.iter().map(|i| w_means[target].clone() - w_means[own(i)].clone()).collect(), 0);
            let (s, w) = (rows(&s_test, &others), rows(&w_test, &others));
            let score = |images: Tensor<4>| {
                let verdicts = judge.judge(&tensor_to_images(images));
                let hits = verdicts.iter().filter(|v| v.attributes.get(factor) == target).count();
                let kept: usize = verdicts
                    .iter()
                    .zip(&others)
                    .map(|(v, &i)| Factor::ALL.iter().filter(|&&g| g != factor && v.attributes.get(g) == reconstructed[i].attributes.get(g)).count())
                    .sum();
                format!("{:3.0}/{:3.0}", 100.0 * hits as f32 / others.len() as f32, 100.0 * kept as f32 / (11 * others.len()) as f32)
            };
            let mut line = format!("{:12} {:11} |", factor.name(), factor.values()[target]);
            for strength in STRENGTHS {
                let edited = s.clone() + s_delta.clone().mul_scalar(strength);
                line += &format!(" {}", score(base.generator.synthesis_s(edited, w.clone(), SLayers::Conv, &Noise::Stored)?));
            }
            line += "  |";
            for strength in STRENGTHS {
                line += &format!(" {}", score(base.generator.synthesis(w.clone() + w_delta.clone().mul_scalar(strength), &Noise::Stored)));
            }
            println!("{line}");
        }
    }
    Ok(())
}
