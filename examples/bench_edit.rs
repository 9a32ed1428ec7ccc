//! Times the GAN path of the editor on the built-in models (flex unless `--device` says
//! otherwise): the inversion of a render, a text edit with a new prompt (text features, mapper,
//! synthesis), a slider step (strength changes: synthesis only, everything else cached), the
//! strength fit ("Auto") on the syntheses and on the images shown, and keeping the unedited
//! pixels at the FFHQ size.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example bench_edit [-- RUNS]
mod common;

use std::sync::Arc;

use burn::prelude::*;
use common::Timings;
use deltastudio::engine::composite::{CompositeOptions, keep_unedited};
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::gan::{Method, TextEdit};
use deltastudio::engine::models::GanModels;
use deltastudio::engine::session::{EditSession, EditStack};
use deltastudio::weights::registry::WeightsPath;
use deltastudio::world::dataset::{held_out_seed, sample};

fn main() -> deltastudio::Result<()> {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let device = Device::flex();
    let models = Arc::new(GanModels::load(&WeightsPath::new(None), Domain::Builtin, Method::DeltaEdit, &device)?);
    let image = sample(held_out_seed(0), 64, false).image;

    let t = Timings::measure(2, runs, || EditSession::new(models.clone(), &image, &device).map(|s| s.inversion().s.clone().into_data()));
    println!("inversion (encoder, S, CLIP image feature; 64², batch 1): {t:.2}");

    let mut session = EditSession::new(models.clone(), &image, &device)?;
    let edit = |target: String, strength| TextEdit { source: None, target, strength, beta: Domain::Builtin.default_beta() };
    // Every run types a prompt never seen before, so nothing of it is cached.
    let mut fresh = 0;
    let t = Timings::measure(2, runs, || {
        fresh += 1;
        session.render(&EditStack::single(edit(format!("a face with a smile {fresh}"), 1.0)))
    });
    println!("text edit, new prompt (text features, mapper, synthesis): {t:.2}");

    let mut strength = 0.0;
    let t = Timings::measure(2, runs, || {
        strength += 0.05;
        session.render(&EditStack::single(edit("a face with a smile".into(), strength)))
    });
    println!("slider step (strength; synthesis only): {t:.2}");

    let smile = edit("a face with a smile".into(), 1.0);
    let t = Timings::measure(2, runs, || session.fit_strength(&smile, None));
    println!("strength fit (8 syntheses, 9 CLIP image features; direction and reconstruction cached): {t:.2}");
    let t = Timings::measure(2, runs, || session.fit_strength(&smile, Some(&CompositeOptions::default())));
    println!("strength fit on the images shown with unedited pixels kept (64²): {t:.2}");

    // Keeping the unedited pixels of a 1024² photo crop (the FFHQ size): the mask and the blend.
    let input = sample(held_out_seed(1), 1024, false).image;
    let (reconstruction, edited) = (sample(held_out_seed(0), 1024, false).image, sample(held_out_seed(2), 1024, false).image);
    let options = CompositeOptions::default();
    let t = Timings::measure(2, runs, || keep_unedited(&input, &edited, &reconstruction, &options));
    println!("keep unedited pixels, 1024² synthesis and input: {t:.2}");
    Ok(())
}
