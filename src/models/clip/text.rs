//! CLIP's text encoder: token + position embeddings, a causal transformer, `ln_final`, then the
//! end-of-text token's state, projected. Usable alone (Stable Diffusion reads `hidden_states`).
use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::normal_param;
use super::transformer::{Transformer, TransformerConfig};

/// Which position's state represents the whole text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextPooling {
    /// The position of the largest token id (OpenAI/open_clip: `<|endoftext|>` = 49407 is the
    /// largest id; transformers with the legacy `eos_token_id: 2`). First one on ties.
    Argmax,
    /// The first position holding this id (transformers with a real `eos_token_id`).
    FirstEos(i64),
}

#[derive(Config, Debug, PartialEq)]
pub struct TextConfig {
    pub context_length: usize,
    pub vocab_size: usize,
    pub transformer: TransformerConfig,
    pub pooling: TextPooling,
    /// The joint embedding size; `None` for a bare text model (no `text_projection`).
    pub embed_dim: Option<usize>,
}

impl TextConfig {
    pub fn init(&self, device: &Device) -> TextTransformer {
        let width = self.transformer.width;
        TextTransformer {
            // CLIP's N(0, 0.02²), not burn's N(0, 1): unit-scale embeddings would swamp the positions.
            token_embedding: EmbeddingConfig::new(self.vocab_size, width)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 })
                .init(device),
            positional_embedding: normal_param([self.context_length, width], 0.01, device),
            transformer: self.transformer.init(device),
            ln_final: self.transformer.layer_norm(device),
            text_projection: self.embed_dim.map(|e| normal_param([width, e], (width as f64).powf(-0.5), device)),
            pooling: self.pooling,
        }
    }
}

#[derive(Module, Debug)]
pub struct TextTransformer {
    pub token_embedding: Embedding,
    pub positional_embedding: Param<Tensor<2>>,
    pub transformer: Transformer,
    pub ln_final: LayerNorm,
    pub text_projection: Option<Param<Tensor<2>>>,
    #[module(skip)]
    pub pooling: TextPooling,
}

impl TextTransformer {
    /// `tokens` [B, L] (L ≤ context length) → the states after `ln_final`, [B, L, width].
    pub fn hidden_states(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [_, len] = tokens.dims();
        let positions = self.positional_embedding.val().narrow(0, 0, len).unsqueeze();
        let x = self.token_embedding.forward(tokens) + positions;
        self.ln_final.forward(self.transformer.forward(x, true))
    }

    /// `tokens` [B, L] → the pooled state, projected when there is a projection: [B, E].
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [batch, _] = tokens.dims();
        let hidden = self.hidden_states(tokens.clone());
        let width = hidden.dims()[2];
        let index = self.pooled_position(tokens).reshape([batch, 1, 1]).expand([batch, 1, width]);
        let pooled = hidden.gather(1, index).reshape([batch, width]);
        match &self.text_projection {
            Some(projection) => pooled.matmul(projection.val()),
            None => pooled,
        }
    }

    /// [B] positions. Scores are made unique (earlier positions win ties) so that the result does
    /// not depend on how a backend breaks ties in `argmax`.
    fn pooled_position(&self, tokens: Tensor<2, Int>) -> Tensor<1, Int> {
        let [batch, len] = tokens.dims();
        let earlier_first = Tensor::<1, Int>::arange(0..len as i64, &tokens.device()).neg().add_scalar(len as i64);
        let key = match self.pooling {
            TextPooling::Argmax => tokens,
            TextPooling::FirstEos(id) => tokens.equal_elem(id).int(),
        };
        let score = key.mul_scalar(len as i64 + 1) + earlier_first.unsqueeze::<2>().expand([batch, len]);
        score.argmax(1).reshape([batch])
    }
}
