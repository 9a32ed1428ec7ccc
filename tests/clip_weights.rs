//! CLIP checkpoint loading: config inference, and clear errors for bad files (truncated, missing
//! key, wrong shape, TorchScript, not CLIP at all).
use std::path::{Path, PathBuf};

use burn::prelude::Device;
use deltastudio::Error;
use deltastudio::models::clip::ClipConfig;
use burn::prelude::{Int, Tensor};
use burn::tensor::TensorData;
use deltastudio::weights::clip::{hf_clip_config, infer_open_clip_config, load_clip, load_clip_text, open_clip_checkpoint, open_clip_config};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn manifest_config(dir: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(&format!("parity/{dir}/manifest.json"))).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["config"].clone()
}

const OPEN_CLIP: &str = "parity/clip_open_clip_gelu_safetensors/model.safetensors";

/// A fixture checkpoint's tensors rewritten as `dir`/edited.safetensors, after `edit` changes them.
fn rewritten(source: &str, dir: &Path, edit: impl FnOnce(&mut Vec<(String, Vec<usize>, Vec<f32>)>)) -> PathBuf {
    let state = open_clip_checkpoint(&fixture(source)).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = state
        .keys()
        .map(|k| (k.to_string(), state.shape(k).unwrap().to_vec(), state.values(k).unwrap()))
        .collect();
    edit(&mut tensors);
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> =
        tensors.into_iter().map(|(k, s, v)| (k, v.iter().flat_map(|x| x.to_le_bytes()).collect(), s)).collect();
    let views = bytes.iter().map(|(k, b, s)| (k.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap()));
    let path = dir.join("edited.safetensors");
    safetensors::serialize_to_file(views, None, &path).unwrap();
    path
}

fn load_error(path: &Path) -> Error {
    match load_clip(path, None, &Device::flex()) {
        Ok(_) => panic!("{} loaded although it is broken", path.display()),
        Err(e) => e,
    }
}

#[test]
fn open_clip_config_is_inferred_from_shapes() {
    for dir in ["clip_open_clip_quickgelu_pt", "clip_open_clip_gelu_safetensors"] {
        let file = if dir.ends_with("_pt") { "model.pt" } else { "model.safetensors" };
        let inferred = infer_open_clip_config(&open_clip_checkpoint(&fixture(&format!("parity/{dir}/{file}"))).unwrap()).unwrap();
        let mut declared = open_clip_config(&manifest_config(dir)).unwrap();
        // Shapes cannot tell the head count (open_clip assumes 64-wide heads) or the activation
        // (OpenAI's QuickGELU is assumed).
        for (tower, inferred) in [(&mut declared.vision.transformer, &inferred.vision.transformer), (&mut declared.text.transformer, &inferred.text.transformer)] {
            tower.heads = inferred.heads;
            tower.act = inferred.act;
        }
        assert_eq!(inferred, declared, "{dir}");
    }
}

#[test]
fn hf_checkpoints_read_the_config_json_beside_them() {
    let path = fixture("parity/clip_hf_gelu_eos/model.safetensors");
    let (_, config): (_, ClipConfig) = load_clip(&path, None, &Device::flex()).unwrap();
    assert_eq!(config, hf_clip_config(&manifest_config("clip_hf_gelu_eos")).unwrap());
}

#[test]
fn truncated_files_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    for source in ["parity/clip_open_clip_gelu_safetensors/model.safetensors", "parity/clip_open_clip_quickgelu_pt/model.pt"] {
        let bytes = std::fs::read(fixture(source)).unwrap();
        let path = tmp.path().join(Path::new(source).file_name().unwrap());
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let error = load_error(&path);
        assert!(
            matches!(&error, Error::Checkpoint { path: p, .. } | Error::CheckpointKey { path: p, .. } if p == &path),
            "{source}: {error}"
        );
        assert!(error.to_string().contains(path.to_str().unwrap()), "{error}");
    }
    let empty = tmp.path().join("empty.pt");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(load_error(&empty), Error::Checkpoint { .. }));
}

#[test]
fn a_missing_tensor_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let path = rewritten(OPEN_CLIP, tmp.path(), |t| t.retain(|(k, _, _)| k != "visual.ln_post.weight"));
    match load_error(&path) {
        Error::CheckpointKey { path: p, key, reason } => {
            assert_eq!((p, key.as_str(), reason.as_str()), (path.clone(), "visual.ln_post.weight", "missing"));
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = rewritten(OPEN_CLIP, tmp.path(), |t| {
        let fc = t.iter_mut().find(|(k, _, _)| k == "visual.transformer.resblocks.1.mlp.c_proj.weight").unwrap();
        fc.1 = vec![32, 100];
        fc.2.truncate(32 * 100);
    });
    match load_error(&path) {
        Error::CheckpointKey { key, reason, .. } => {
            assert_eq!(key, "visual.transformer.resblocks.1.mlp.c_proj.weight");
            assert_eq!(reason, "shape [32, 100], expected [32, 128]");
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn torchscript_archives_get_the_conversion_command() {
    let path = fixture("clip/torchscript_tiny.pt");
    let message = load_error(&path).to_string();
    assert!(message.contains("TorchScript"), "{message}");
    assert!(message.contains("torch.jit.load('torchscript_tiny.pt',map_location='cpu').state_dict()"), "{message}");
    assert!(message.contains("'torchscript_tiny.safetensors'"), "{message}");
}

#[test]
fn other_checkpoints_are_not_taken_for_clip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = rewritten(OPEN_CLIP, tmp.path(), |t| {
        for (k, _, _) in t.iter_mut() {
            *k = format!("encoder.{k}");
        }
    });
    let message = load_error(&path).to_string();
    assert!(message.contains("not a CLIP checkpoint"), "{message}");
}

#[test]
fn clip_text_models_load_with_and_without_the_text_model_prefix() {
    // transformers 5 saves CLIPTextModel keys bare; Stable Diffusion's files have `text_model.`.
    let source = "parity/clip_text_hf_gelu/model.safetensors";
    let tmp = tempfile::tempdir().unwrap();
    let prefixed = rewritten(source, tmp.path(), |t| {
        for (k, _, _) in t.iter_mut() {
            *k = format!("text_model.{k}");
        }
    });
    std::fs::copy(fixture("parity/clip_text_hf_gelu/config.json"), tmp.path().join("config.json")).unwrap();
    let device = Device::flex();
    let tokens = || Tensor::<2, Int>::from_data(TensorData::new(vec![998i64, 5, 7, 999, 999], [1, 5]), &device);
    let (bare, _) = load_clip_text(&fixture(source), None, &device).unwrap();
    let (with_prefix, _) = load_clip_text(&prefixed, None, &device).unwrap();
    let difference = (bare.hidden_states(tokens()) - with_prefix.hidden_states(tokens())).abs().max().into_scalar::<f32>();
    assert_eq!(difference, 0.0);
}

#[test]
fn wrapped_keys_are_unwrapped_and_the_format_is_told_by_content() {
    // A `state_dict` wrapper around DataParallel's `module.` keys, in a safetensors file named `.pt`.
    let tmp = tempfile::tempdir().unwrap();
    let edited = rewritten(OPEN_CLIP, tmp.path(), |t| {
        for (k, _, _) in t.iter_mut() {
            *k = format!("state_dict.module.{k}");
        }
    });
    let wrapped = tmp.path().join("wrapped.pt");
    std::fs::rename(&edited, &wrapped).unwrap();
    let device = Device::flex();
    let (plain, _) = load_clip(&fixture(OPEN_CLIP), None, &device).unwrap();
    let (unwrapped, _) = load_clip(&wrapped, None, &device).unwrap();
    let tokens = || Tensor::<2, Int>::from_data(TensorData::new(vec![998i64, 17, 250, 999, 0], [1, 5]), &device);
    let difference = (plain.encode_text(tokens()) - unwrapped.encode_text(tokens())).abs().max().into_scalar::<f32>();
    assert_eq!(difference, 0.0);
}

#[test]
fn half_precision_checkpoints_are_converted_to_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let f32_path = fixture(OPEN_CLIP);
    let state = open_clip_checkpoint(&f32_path).unwrap();
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = state
        .keys()
        .map(|k| {
            let values = state.values(k).unwrap();
            (k.to_string(), values.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect(), state.shape(k).unwrap().to_vec())
        })
        .collect();
    let views = bytes.iter().map(|(k, b, s)| (k.clone(), TensorView::new(Dtype::F16, s.clone(), b).unwrap()));
    let f16_path = tmp.path().join("half.safetensors");
    safetensors::serialize_to_file(views, None, &f16_path).unwrap();

    let device = Device::flex();
    let config = open_clip_config(&manifest_config("clip_open_clip_gelu_safetensors")).unwrap();
    let (full, _) = load_clip(&f32_path, Some(config.clone()), &device).unwrap();
    let (half, _) = load_clip(&f16_path, Some(config), &device).unwrap();
    let tokens = || Tensor::<2, Int>::from_data(TensorData::new(vec![998i64, 17, 250, 999, 0], [1, 5]), &device);
    let (a, b) = (full.encode_text(tokens()), half.encode_text(tokens()));
    let scale = a.clone().abs().max().into_scalar::<f32>();
    let difference = (a - b).abs().max().into_scalar::<f32>();
    // f16 keeps ~3 significant digits of every weight.
    assert!(difference < 0.02 * scale, "difference {difference}, scale {scale}");
}
