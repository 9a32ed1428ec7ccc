//! The committed built-in CLIP (weights/builtin/clip.safetensors) loads through the open_clip
//! loader with the config inferred from its shapes and keeps what its manifest reports.
use burn::prelude::Device;
use deltastudio::train::clip::{builtin_clip_config, evaluate};
use deltastudio::weights::clip::load_clip;

#[test]
fn committed_clip_loads_and_reads_colours_zero_shot() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/builtin/clip.safetensors");
    let device = Device::flex();
    let (model, config) = load_clip(&path, None, &device).expect("the committed CLIP loads");
    assert_eq!(config, builtin_clip_config());
    let e = evaluate(&model, &config, 120, &device).unwrap();
    let accuracy = |factor: &str| e.zero_shot["train_template"][factor].as_f64().unwrap();
    let probe = |factor: &str| e.image_probe[factor].as_f64().unwrap();
    // The colour factors are learnt well (weights/builtin/clip.json: 0.99–1.0), by both towers;
    // the shape factors are not, not even by the image tower (see docs/clip.md), so they are not
    // asserted.
    for factor in ["background", "skin_tone", "hair_color"] {
        assert!(accuracy(factor) >= 0.95, "{factor}: zero-shot accuracy {:.3}", accuracy(factor));
        assert!(probe(factor) >= 0.9, "{factor}: image probe accuracy {:.3}", probe(factor));
    }
    assert!(e.delta_space.delta_cos > e.delta_space.delta_cos_mismatched + 0.1, "{:?}", e.delta_space);
}
