//! The committed built-in CLIP (weights/builtin/clip.safetensors) loads through the open_clip
//! loader with the config inferred from its shapes and keeps what its manifest reports.
use burn::prelude::Device;
use deltastudio::train::clip::{builtin_clip_config, evaluate};
use deltastudio::weights::clip::load_clip;

#[test]
fn committed_clip_reads_the_factors_zero_shot_and_its_deltas_align() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/builtin/clip.safetensors");
    let device = Device::flex();
    let (model, config) = load_clip(&path, None, &device).expect("the committed CLIP loads");
    assert_eq!(config, builtin_clip_config());
    let e = evaluate(&model, &config, 120, &device).unwrap();
    let accuracy = |factor: &str| e.zero_shot["train_template"][factor].as_f64().unwrap();
    let probe = |factor: &str| e.image_probe[factor].as_f64().unwrap();
    // weights/builtin/clip.json (1000 renders): colours 97–100 %, shapes 88–99 % zero-shot. The
    // thresholds leave room for the 120-render sample. Earrings are not learnt (chance, see
    // docs/clip.md), so they are not asserted.
    for factor in ["background", "skin_tone", "hair_color"] {
        assert!(accuracy(factor) >= 0.9, "{factor}: zero-shot accuracy {:.3}", accuracy(factor));
        assert!(probe(factor) >= 0.9, "{factor}: image probe accuracy {:.3}", probe(factor));
    }
    for factor in ["hair_style", "expression", "mouth", "eyes", "eyewear", "facial_hair", "hat", "lipstick"] {
        assert!(accuracy(factor) >= 0.75, "{factor}: zero-shot accuracy {:.3}", accuracy(factor));
    }
    // DeltaSpace (paper 000 §3.1): one-factor deltas align far better than raw features
    // (clip.json: 0.63 against 0.18), and a delta does not align with another factor's.
    let d = &e.delta_space;
    assert!(d.delta_cos > d.raw_cos + 0.25, "{d:?}");
    assert!(d.delta_cos_mismatched.abs() < 0.1, "{d:?}");
}
