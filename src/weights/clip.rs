//! Loading CLIP from the files people have:
//! - OpenAI / open_clip state dicts (`visual.conv1.weight`, `transformer.resblocks.0.attn.in_proj_weight`,
//!   …) as a torch `.pt`/`.pth` state dict or `.safetensors`; the config is inferred from tensor
//!   shapes as open_clip's `build_model_from_openai_state_dict` does.
//! - transformers `CLIPModel` / `CLIPTextModel` safetensors (`vision_model.encoder.layers.0.self_attn.q_proj.weight`,
//!   …) with the `config.json` beside them.
//!
//! OpenAI's original `ViT-B-32.pt` is a TorchScript archive, which burn-store cannot read;
//! [`Checkpoint::open`] recognises it and prints the one-line conversion instead.
use std::path::Path;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, bridge};
use burn::tensor::TensorData;
use serde_json::Value;

use super::checkpoint::Checkpoint;
use crate::models::clip::{Activation, Clip, ClipConfig, TextConfig, TextPooling, TextTransformer, TransformerConfig, VisionConfig};
use crate::{Error, Result};

/// The key layout of a CLIP checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipLayout {
    /// OpenAI / open_clip state-dict names.
    OpenClip,
    /// transformers `CLIPModel` / `CLIPTextModel`.
    Hf,
}

/// Opens a CLIP checkpoint. A `state_dict` wrapper and DataParallel's `module.` prefix, which
/// some fine-tuning scripts save, are removed.
pub fn open_clip_checkpoint(path: &Path) -> Result<Checkpoint> {
    Ok(Checkpoint::open(path)?.strip_prefix("state_dict.").strip_prefix("module."))
}

impl ClipLayout {
    /// The layout `state`'s keys follow.
    pub fn of(state: &Checkpoint) -> Result<ClipLayout> {
        // transformers 5 saves a bare CLIPTextModel without the `text_model.` prefix.
        if state.contains("text_model.embeddings.token_embedding.weight") || state.contains("embeddings.token_embedding.weight") {
            Ok(ClipLayout::Hf)
        } else if state.contains("token_embedding.weight") || state.contains("visual.conv1.weight") {
            Ok(ClipLayout::OpenClip)
        } else {
            let first: Vec<&str> = state.keys().take(5).collect();
            Err(Error::checkpoint(
                state.path(),
                format!("not a CLIP checkpoint: neither `token_embedding.weight` (OpenAI/open_clip) nor `text_model.embeddings.token_embedding.weight` (transformers) is present; first keys: {first:?}"),
            ))
        }
    }
}

/// Loads a CLIP model (both towers). `config` overrides what is read from `config.json` (HF) or
/// inferred from the tensor shapes (open_clip).
pub fn load_clip(path: &Path, config: Option<ClipConfig>, device: &Device) -> Result<(Clip, ClipConfig)> {
    let state = open_clip_checkpoint(path)?;
    let layout = ClipLayout::of(&state)?;
    let config = match config {
        Some(c) => c,
        None => match layout {
            ClipLayout::OpenClip => infer_open_clip_config(&state)?,
            ClipLayout::Hf => hf_clip_config(&read_config_json(path)?)?,
        },
    };
    let mut model = config.init(device);
    let key = |module_path: &str| match layout {
        ClipLayout::OpenClip => open_clip_source(module_path),
        ClipLayout::Hf => hf_clip_source(module_path),
    };
    apply(&mut model, &state, key)?;
    Ok((model, config))
}

/// Loads a text tower alone: a transformers `CLIPTextModel` (as Stable Diffusion ships it, no
/// projection) or the text half of a full CLIP checkpoint in either layout.
pub fn load_clip_text(path: &Path, config: Option<TextConfig>, device: &Device) -> Result<(TextTransformer, TextConfig)> {
    let state = open_clip_checkpoint(path)?;
    let layout = ClipLayout::of(&state)?;
    let config = match config {
        Some(c) => c,
        None => match layout {
            ClipLayout::OpenClip => infer_open_clip_config(&state)?.text,
            ClipLayout::Hf => {
                let json = read_config_json(path)?;
                let mut text = hf_text_config(json.get("text_config").unwrap_or(&json))?;
                if !state.contains("text_projection.weight") {
                    text.embed_dim = None;
                }
                text
            }
        },
    };
    let mut model = config.init(device);
    let prefix = if state.contains("embeddings.token_embedding.weight") { "" } else { "text_model." };
    let key = |module_path: &str| match layout {
        ClipLayout::OpenClip => open_clip_text_source(module_path),
        ClipLayout::Hf => hf_text_source(module_path, prefix),
    };
    apply(&mut model, &state, key)?;
    Ok((model, config))
}

/// Where one parameter of our module comes from in a checkpoint (keys and layouts as PyTorch's).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Key(String),
    /// Stored as the transpose of ours (an `nn.Linear` weight feeding our `x @ proj`).
    Transposed(String),
    /// Our packed q/k/v projection from three separate ones, stacked along dim 0.
    Stacked([String; 3]),
}

/// Reads every parameter of `model` from `state` (PyTorch layout, our module paths mapped to
/// checkpoint keys by `source`), checking presence and shape first so that errors name the
/// checkpoint key.
fn apply<M: Module>(model: &mut M, state: &Checkpoint, source: impl Fn(&str) -> Source) -> Result<()> {
    let mut expected = PyTorchParams::default();
    model.visit(&mut expected);
    let mut tensors = Vec::with_capacity(expected.params.len());
    for (name, want) in expected.params {
        let data = read_source(state, &source(&name), &want)?;
        tensors.push(bridge::from_data(data, name, None));
    }
    let result = model.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), false);
    if !result.missing.is_empty() || !result.errors.is_empty() {
        let detail = result.missing.first().map(|(p, _)| format!("`{p}` not filled")).or_else(|| result.errors.first().map(|e| e.to_string()));
        return Err(Error::checkpoint(state.path(), format!("internal key map error: {}", detail.unwrap_or_default())));
    }
    Ok(())
}

/// Every parameter's path and shape as PyTorch would name and lay it out (`nn.Linear` weights
/// [out, in], LayerNorm `weight`/`bias`), without initialising lazy parameters (burn-store's
/// `collect` would materialise all of them, ~2 s for ViT-B/32).
#[derive(Default)]
struct PyTorchParams {
    path: Vec<String>,
    containers: Vec<String>,
    params: Vec<(String, Vec<usize>)>,
}

impl ModuleVisitor for PyTorchParams {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let mut shape = param.lazy_shape().to_vec();
        let mut path = self.path.clone();
        let renamed = match (self.containers.last().map(String::as_str), path.last().map(String::as_str)) {
            (Some("Struct:Linear"), Some("weight")) => {
                shape.reverse();
                None
            }
            (Some("Struct:LayerNorm"), Some("gamma")) => Some("weight"),
            (Some("Struct:LayerNorm"), Some("beta")) => Some("bias"),
            _ => None,
        };
        if let (Some(name), Some(last)) = (renamed, path.last_mut()) {
            *last = name.to_string();
        }
        self.params.push((path.join("."), shape));
    }
}

fn read_source(state: &Checkpoint, src: &Source, want: &[usize]) -> Result<TensorData> {
    let mismatch = |key: &str, got: &[usize], want: &[usize]| {
        Error::checkpoint_key(state.path(), key, format!("shape {got:?}, expected {want:?}"))
    };
    match src {
        Source::Key(key) => {
            let got = state.shape(key)?;
            // A 0-d scalar (logit_scale) fills a [1] parameter.
            if got != want && !(got.is_empty() && want == [1]) {
                return Err(mismatch(key, got, want));
            }
            Ok(TensorData::new(state.values(key)?, want.to_vec()))
        }
        Source::Transposed(key) => {
            let got = state.shape(key)?;
            let flipped: Vec<usize> = got.iter().rev().copied().collect();
            if got.len() != 2 || flipped != want {
                return Err(mismatch(key, got, &[want[1], want[0]]));
            }
            let values = state.values(key)?;
            let (rows, cols) = (got[0], got[1]);
            let mut out = vec![0.0f32; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
            Ok(TensorData::new(out, [cols, rows]))
        }
        Source::Stacked(keys) => {
            let part: Vec<usize> = std::iter::once(want[0] / 3).chain(want[1..].iter().copied()).collect();
            let mut values = Vec::new();
            for key in keys {
                let got = state.shape(key)?;
                if got != part {
                    return Err(mismatch(key, got, &part));
                }
                values.extend(state.values(key)?);
            }
            Ok(TensorData::new(values, want.to_vec()))
        }
    }
}

// ---- key maps: our module path (PyTorch param names) → checkpoint key --------------------------

/// open_clip keeps the text tower at the top level and `nn.MultiheadAttention`'s packed
/// projection as bare parameters.
fn open_clip_source(path: &str) -> Source {
    Source::Key(open_clip_key(path))
}

/// The open_clip key of one of our parameters (PyTorch names): the loader's and [`save_clip`]'s
/// single key map.
fn open_clip_key(path: &str) -> String {
    packed_in_proj(path.strip_prefix("text.").unwrap_or(path))
}

fn open_clip_text_source(path: &str) -> Source {
    Source::Key(packed_in_proj(path))
}

fn packed_in_proj(path: &str) -> String {
    path.replace("attn.in_proj.weight", "attn.in_proj_weight").replace("attn.in_proj.bias", "attn.in_proj_bias")
}

fn hf_clip_source(path: &str) -> Source {
    if let Some(text) = path.strip_prefix("text.") {
        return hf_text_source(text, "text_model.");
    }
    let Some(visual) = path.strip_prefix("visual.") else {
        return Source::Key(path.to_string()); // logit_scale
    };
    let v = |k: &str| format!("vision_model.{k}");
    match visual {
        "conv1.weight" => Source::Key(v("embeddings.patch_embedding.weight")),
        "class_embedding" => Source::Key(v("embeddings.class_embedding")),
        "positional_embedding" => Source::Key(v("embeddings.position_embedding.weight")),
        "proj" => Source::Transposed("visual_projection.weight".into()),
        other => {
            let other = other.replacen("ln_pre.", "pre_layrnorm.", 1).replacen("ln_post.", "post_layernorm.", 1);
            hf_block_source(&other, "vision_model.")
        }
    }
}

/// `prefix`: `text_model.` inside a CLIPModel and in older CLIPTextModel files, empty in
/// CLIPTextModel files saved by transformers 5.
fn hf_text_source(path: &str, prefix: &str) -> Source {
    let t = |k: &str| format!("{prefix}{k}");
    match path {
        "token_embedding.weight" => Source::Key(t("embeddings.token_embedding.weight")),
        "positional_embedding" => Source::Key(t("embeddings.position_embedding.weight")),
        "text_projection" => Source::Transposed("text_projection.weight".into()),
        other => hf_block_source(&other.replacen("ln_final.", "final_layer_norm.", 1), prefix),
    }
}

/// `transformer.resblocks.N.…` → `encoder.layers.N.…` with transformers' sub-module names.
fn hf_block_source(path: &str, prefix: &str) -> Source {
    let Some(rest) = path.strip_prefix("transformer.resblocks.") else {
        return Source::Key(format!("{prefix}{path}"));
    };
    let (index, param) = rest.split_once('.').unwrap_or((rest, ""));
    let layer = format!("{prefix}encoder.layers.{index}.");
    if let Some(kind) = param.strip_prefix("attn.in_proj.") {
        return Source::Stacked(["q", "k", "v"].map(|p| format!("{layer}self_attn.{p}_proj.{kind}")));
    }
    let renamed = param
        .replacen("ln_1.", "layer_norm1.", 1)
        .replacen("ln_2.", "layer_norm2.", 1)
        .replacen("attn.out_proj.", "self_attn.out_proj.", 1)
        .replacen("mlp.c_fc.", "mlp.fc1.", 1)
        .replacen("mlp.c_proj.", "mlp.fc2.", 1);
    Source::Key(format!("{layer}{renamed}"))
}

// ---- saving -------------------------------------------------------------------------------------

/// Writes `model` as an open_clip state dict in safetensors (f16), the layout [`load_clip`] reads
/// back (config inferred from the shapes, so heads must be width / 64).
pub fn save_clip(model: &Clip, path: &Path, metadata: &[(&str, String)]) -> Result<()> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for tensor in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), false) {
        let key = open_clip_key(&tensor.name);
        let data = bridge::into_data(tensor).map_err(|e| Error::checkpoint(path, format!("`{key}`: {e}")))?;
        let mut shape = data.shape().to_vec();
        // open_clip keeps the temperature as a 0-d scalar.
        if key == "logit_scale" {
            shape.clear();
        }
        let values = data.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::checkpoint(path, format!("`{key}`: {e:?}")))?;
        let bytes = values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
        tensors.push((key, shape, bytes));
    }
    let views = tensors
        .iter()
        .map(|(key, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F16, shape.clone(), bytes)
                .map(|view| (key.clone(), view))
                .map_err(|e| Error::checkpoint(path, format!("`{key}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    safetensors::serialize_to_file(views, Some(metadata), path).map_err(|e| Error::checkpoint(path, e.to_string()))
}

// ---- configs ------------------------------------------------------------------------------------

/// The open_clip config of an OpenAI-layout state dict, from its shapes (heads = width / 64,
/// QuickGELU: OpenAI's weights were trained with it).
pub fn infer_open_clip_config(state: &Checkpoint) -> Result<ClipConfig> {
    let dim = |key: &str, axis: usize| -> Result<usize> {
        let shape = state.shape(key)?;
        shape.get(axis).copied().ok_or_else(|| Error::checkpoint_key(state.path(), key, format!("shape {shape:?} has no axis {axis}")))
    };
    let count_layers = |prefix: &str| {
        state
            .keys()
            .filter_map(|k| k.strip_prefix(prefix)?.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |m| m + 1)
    };
    let tower = |width: usize, layers: usize, mlp_key: &str| -> Result<TransformerConfig> {
        Ok(TransformerConfig::new(width, layers, (width / 64).max(1), dim(mlp_key, 0)?, Activation::QuickGelu))
    };
    let vision_width = dim("visual.conv1.weight", 0)?;
    let patch_size = dim("visual.conv1.weight", 3)?;
    let grid = ((dim("visual.positional_embedding", 0)?.saturating_sub(1)) as f64).sqrt().round() as usize;
    let vision_layers = count_layers("visual.transformer.resblocks.");
    let embed_dim = dim("text_projection", 1)?;
    let text_width = dim("ln_final.weight", 0)?;
    let text_layers = count_layers("transformer.resblocks.");
    if vision_layers == 0 || text_layers == 0 {
        let key = if vision_layers == 0 { "visual.transformer.resblocks.0.ln_1.weight" } else { "transformer.resblocks.0.ln_1.weight" };
        return Err(Error::checkpoint_key(state.path(), key, "missing"));
    }
    Ok(ClipConfig {
        embed_dim,
        vision: VisionConfig::new(
            patch_size * grid,
            patch_size,
            tower(vision_width, vision_layers, "visual.transformer.resblocks.0.mlp.c_fc.weight")?,
            dim("visual.proj", 1)?,
        ),
        text: TextConfig::new(
            dim("positional_embedding", 0)?,
            dim("token_embedding.weight", 0)?,
            tower(text_width, text_layers, "transformer.resblocks.0.mlp.c_fc.weight")?,
            TextPooling::Argmax,
        )
        .with_embed_dim(Some(embed_dim)),
    })
}

/// An open_clip model-config JSON (`model_configs/ViT-B-32.json` style) as our config.
pub fn open_clip_config(json: &Value) -> Result<ClipConfig> {
    let embed_dim = usize_field(json, "embed_dim", None)?;
    let act = if json.get("quick_gelu").and_then(Value::as_bool).unwrap_or(false) { Activation::QuickGelu } else { Activation::Gelu };
    let vision = json.get("vision_cfg").ok_or_else(|| Error::Config("open_clip config: no `vision_cfg`".into()))?;
    let text = json.get("text_cfg").ok_or_else(|| Error::Config("open_clip config: no `text_cfg`".into()))?;
    let mlp = |cfg: &Value, width: usize| (width as f64 * cfg.get("mlp_ratio").and_then(Value::as_f64).unwrap_or(4.0)) as usize;
    let vision_width = usize_field(vision, "width", Some(768))?;
    let head_width = usize_field(vision, "head_width", Some(64))?;
    let text_width = usize_field(text, "width", Some(512))?;
    Ok(ClipConfig {
        embed_dim,
        vision: VisionConfig::new(
            usize_field(vision, "image_size", Some(224))?,
            usize_field(vision, "patch_size", Some(16))?,
            TransformerConfig::new(vision_width, usize_field(vision, "layers", Some(12))?, vision_width / head_width, mlp(vision, vision_width), act),
            embed_dim,
        ),
        text: TextConfig::new(
            usize_field(text, "context_length", Some(77))?,
            usize_field(text, "vocab_size", Some(49408))?,
            TransformerConfig::new(text_width, usize_field(text, "layers", Some(12))?, usize_field(text, "heads", Some(8))?, mlp(text, text_width), act),
            TextPooling::Argmax,
        )
        .with_embed_dim(Some(embed_dim)),
    })
}

/// A transformers `CLIPConfig` (`config.json` of a `CLIPModel`) as our config.
pub fn hf_clip_config(json: &Value) -> Result<ClipConfig> {
    let embed_dim = usize_field(json, "projection_dim", Some(512))?;
    let empty = Value::Object(Default::default());
    // Configs written by old transformers versions name the towers `*_config_dict`.
    let tower = |name: &str| json.get(name).or_else(|| json.get(format!("{name}_dict").as_str())).filter(|v| v.is_object()).unwrap_or(&empty);
    let vision = tower("vision_config");
    let mut text = hf_text_config(tower("text_config"))?;
    text.embed_dim = Some(embed_dim);
    let width = usize_field(vision, "hidden_size", Some(768))?;
    Ok(ClipConfig {
        embed_dim,
        vision: VisionConfig::new(
            usize_field(vision, "image_size", Some(224))?,
            usize_field(vision, "patch_size", Some(32))?,
            TransformerConfig::new(
                width,
                usize_field(vision, "num_hidden_layers", Some(12))?,
                usize_field(vision, "num_attention_heads", Some(12))?,
                usize_field(vision, "intermediate_size", Some(3072))?,
                hf_activation(vision)?,
            )
            .with_layer_norm_eps(vision.get("layer_norm_eps").and_then(Value::as_f64).unwrap_or(1e-5)),
            embed_dim,
        ),
        text,
    })
}

/// A transformers `CLIPTextConfig` as our text config (no projection; `hf_clip_config` adds it).
/// Pooling follows transformers: the legacy `eos_token_id` 2 means "argmax of the ids",
/// any other id "its first position".
pub fn hf_text_config(json: &Value) -> Result<TextConfig> {
    let eos = json.get("eos_token_id").and_then(Value::as_i64).unwrap_or(49407);
    let pooling = if eos == 2 { TextPooling::Argmax } else { TextPooling::FirstEos(eos) };
    Ok(TextConfig::new(
        usize_field(json, "max_position_embeddings", Some(77))?,
        usize_field(json, "vocab_size", Some(49408))?,
        TransformerConfig::new(
            usize_field(json, "hidden_size", Some(512))?,
            usize_field(json, "num_hidden_layers", Some(12))?,
            usize_field(json, "num_attention_heads", Some(8))?,
            usize_field(json, "intermediate_size", Some(2048))?,
            hf_activation(json)?,
        )
        .with_layer_norm_eps(json.get("layer_norm_eps").and_then(Value::as_f64).unwrap_or(1e-5)),
        pooling,
    ))
}

fn hf_activation(json: &Value) -> Result<Activation> {
    match json.get("hidden_act").and_then(Value::as_str).unwrap_or("quick_gelu") {
        "quick_gelu" => Ok(Activation::QuickGelu),
        "gelu" => Ok(Activation::Gelu),
        other => Err(Error::Config(format!("CLIP hidden_act `{other}` is not supported (quick_gelu, gelu)"))),
    }
}

fn usize_field(json: &Value, name: &str, default: Option<usize>) -> Result<usize> {
    match json.get(name) {
        Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| Error::Config(format!("`{name}` must be a non-negative integer, got {v}"))),
        None => default.ok_or_else(|| Error::Config(format!("`{name}` is missing"))),
    }
}

/// `config.json` beside a transformers checkpoint.
fn read_config_json(checkpoint: &Path) -> Result<Value> {
    let path = checkpoint.with_file_name("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::checkpoint(checkpoint, format!("transformers layout needs its config.json beside it ({}: {e})", path.display()))
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model written by [`save_clip`] loads back (config inferred from the shapes) and computes
    /// the same features, up to f16 rounding.
    #[test]
    fn saved_clip_loads_back_with_the_same_outputs() {
        let device = Device::flex();
        let tower = |width| TransformerConfig::new(width, 2, width / 64, 2 * width, Activation::QuickGelu);
        let config = ClipConfig {
            embed_dim: 32,
            vision: VisionConfig::new(16, 8, tower(64), 32),
            text: TextConfig::new(8, 60, tower(128), TextPooling::Argmax).with_embed_dim(Some(32)),
        };
        let model = config.init(&device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.safetensors");
        save_clip(&model, &path, &[("note", "test".into())]).unwrap();
        let (loaded, inferred) = load_clip(&path, None, &device).unwrap();
        assert_eq!(inferred, config);

        let pixels = Tensor::<4>::random([2, 3, 16, 16], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let tokens = Tensor::<2, Int>::from_data([[58i64, 3, 9, 59, 0, 0, 0, 0], [58, 7, 12, 40, 59, 0, 0, 0]], &device);
        let close = |a: Tensor<2>, b: Tensor<2>| {
            let scale = a.clone().abs().max().into_scalar::<f32>();
            let diff = (a - b).abs().max().into_scalar::<f32>();
            assert!(diff <= 1e-2 * scale, "max difference {diff} (scale {scale})");
        };
        close(model.encode_image(pixels.clone()), loaded.encode_image(pixels));
        close(model.encode_text(tokens.clone()), loaded.encode_text(tokens));
        assert!((model.logit_scale() - loaded.logit_scale()).abs() < 0.05);
    }

    #[test]
    fn hf_keys_map_onto_open_clip_modules() {
        assert_eq!(
            hf_clip_source("visual.transformer.resblocks.3.attn.in_proj.weight"),
            Source::Stacked(["q", "k", "v"].map(|p| format!("vision_model.encoder.layers.3.self_attn.{p}_proj.weight")))
        );
        assert_eq!(hf_clip_source("text.transformer.resblocks.0.mlp.c_proj.bias"), Source::Key("text_model.encoder.layers.0.mlp.fc2.bias".into()));
        assert_eq!(hf_clip_source("visual.ln_pre.weight"), Source::Key("vision_model.pre_layrnorm.weight".into()));
        assert_eq!(hf_clip_source("text.ln_final.bias"), Source::Key("text_model.final_layer_norm.bias".into()));
        assert_eq!(hf_clip_source("visual.proj"), Source::Transposed("visual_projection.weight".into()));
        assert_eq!(open_clip_source("text.transformer.resblocks.1.attn.in_proj.bias"), Source::Key("transformer.resblocks.1.attn.in_proj_bias".into()));
        assert_eq!(open_clip_source("visual.proj"), Source::Key("visual.proj".into()));
    }
}
