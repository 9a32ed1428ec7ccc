//! Parity runners for `clip` (encode_image, encode_text), `clip_text` (hidden_states) and
//! `clip_tokenizer` (tokenize) fixtures.
use burn::prelude::*;

use super::{Array, Fixture, Inputs, ModelRunner, Outputs};
use crate::models::clip::tokenizer::{CONTEXT_LENGTH, ClipTokenizer};
use crate::models::clip::{Clip, TextTransformer};
use crate::weights::clip::{hf_clip_config, hf_text_config, load_clip, load_clip_text, open_clip_config};
use crate::{Error, Result};

pub fn runner(fixture: &Fixture, device: &Device) -> Result<Box<dyn ModelRunner>> {
    let manifest = &fixture.manifest;
    let config = &manifest.config;
    let unknown = || Error::Invalid(format!("fixture {}: model `{}` has no layout `{}`", fixture.name(), manifest.model, manifest.layout));
    match (manifest.model.as_str(), manifest.layout.as_str()) {
        ("clip", layout) => {
            let config = match layout {
                "open_clip" => open_clip_config(config)?,
                "hf" => hf_clip_config(config)?,
                _ => return Err(unknown()),
            };
            let (model, _) = load_clip(&fixture.checkpoint_path()?, Some(config), device)?;
            Ok(Box::new(ClipRunner { model, device: device.clone() }))
        }
        ("clip_text", "hf") => {
            let (model, _) = load_clip_text(&fixture.checkpoint_path()?, Some(hf_text_config(config)?), device)?;
            Ok(Box::new(TextRunner { model, device: device.clone() }))
        }
        ("clip_tokenizer", "openai_bpe") => Ok(Box::new(TokenizerRunner { tokenizer: ClipTokenizer::new()? })),
        _ => Err(unknown()),
    }
}

struct ClipRunner {
    model: Clip,
    device: Device,
}

impl ModelRunner for ClipRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        let features = match op {
            "encode_image" => self.model.encode_image(inputs.array("pixels")?.float::<4>(&self.device)?),
            "encode_text" => self.model.encode_text(inputs.array("tokens")?.int::<2>(&self.device)?),
            other => return Err(Error::Invalid(format!("clip: unknown op `{other}`"))),
        };
        Ok(Outputs::from([("features".to_string(), Array::from_float(features))]))
    }
}

struct TextRunner {
    model: TextTransformer,
    device: Device,
}

impl ModelRunner for TextRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        if op != "hidden_states" {
            return Err(Error::Invalid(format!("clip_text: unknown op `{op}`")));
        }
        let hidden = self.model.hidden_states(inputs.array("tokens")?.int::<2>(&self.device)?);
        Ok(Outputs::from([("last_hidden_state".to_string(), Array::from_float(hidden))]))
    }
}

struct TokenizerRunner {
    tokenizer: ClipTokenizer,
}

impl ModelRunner for TokenizerRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        if op != "tokenize" {
            return Err(Error::Invalid(format!("clip_tokenizer: unknown op `{op}`")));
        }
        let texts = inputs.get("texts")?.texts("texts")?;
        let ids = self.tokenizer.tokenize_batch(texts, CONTEXT_LENGTH)?;
        Ok(Outputs::from([("tokens".to_string(), Array::I64 { shape: vec![texts.len(), CONTEXT_LENGTH], data: ids })]))
    }
}
