//! The pre-LN transformer shared by both CLIP towers (OpenAI's `ResidualAttentionBlock`):
//! `x = x + attn(ln_1(x))`, `x = x + mlp(ln_2(x))`.
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use serde::{Deserialize, Serialize};

/// The MLP non-linearity. OpenAI trained CLIP with QuickGELU; later models use exact GELU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x · σ(1.702 x)`
    QuickGelu,
    /// `x · Φ(x)` (erf form, as `nn.GELU()`)
    Gelu,
}

impl Activation {
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::QuickGelu => x.clone() * sigmoid(x * 1.702),
            Activation::Gelu => gelu(x),
        }
    }
}

/// The sizes of one transformer stack.
#[derive(Config, Debug, PartialEq)]
pub struct TransformerConfig {
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub mlp_width: usize,
    pub act: Activation,
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

impl TransformerConfig {
    pub fn init(&self, device: &Device) -> Transformer {
        Transformer { resblocks: (0..self.layers).map(|_| self.init_block(device)).collect() }
    }

    pub fn layer_norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.width).with_epsilon(self.layer_norm_eps).init(device)
    }

    fn init_block(&self, device: &Device) -> ResidualAttentionBlock {
        ResidualAttentionBlock {
            ln_1: self.layer_norm(device),
            attn: MultiheadAttention {
                in_proj: LinearConfig::new(self.width, 3 * self.width).init(device),
                out_proj: LinearConfig::new(self.width, self.width).init(device),
                heads: self.heads,
            },
            ln_2: self.layer_norm(device),
            mlp: Mlp {
                c_fc: LinearConfig::new(self.width, self.mlp_width).init(device),
                c_proj: LinearConfig::new(self.mlp_width, self.width).init(device),
                act: self.act,
            },
        }
    }
}

/// `nn.MultiheadAttention` with its packed `in_proj` (rows: q, k, v).
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    pub in_proj: Linear,
    pub out_proj: Linear,
    #[module(skip)]
    pub heads: usize,
}

impl MultiheadAttention {
    /// `x` [B, L, D] → [B, L, D]; `causal` lets position i see only positions ≤ i.
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let [batch, len, width] = x.dims();
        let head_dim = width / self.heads;
        // [B, L, 3, H, hd] → three [B, H, L, hd]
        let qkv = self.in_proj.forward(x).reshape([batch, len, 3, self.heads, head_dim]);
        let part = |i: usize| qkv.clone().narrow(2, i, 1).reshape([batch, len, self.heads, head_dim]).swap_dims(1, 2);
        let options = AttentionModuleOptions { is_causal: causal, ..Default::default() };
        // softmax(q kᵀ / √hd) v
        let context = attention(part(0), part(1), part(2), None, None, options);
        self.out_proj.forward(context.swap_dims(1, 2).reshape([batch, len, width]))
    }
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub c_fc: Linear,
    pub c_proj: Linear,
    #[module(skip)]
    pub act: Activation,
}

impl Mlp {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.c_proj.forward(self.act.forward(self.c_fc.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    pub ln_1: LayerNorm,
    pub attn: MultiheadAttention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
}

impl ResidualAttentionBlock {
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), causal);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct Transformer {
    pub resblocks: Vec<ResidualAttentionBlock>,
}

impl Transformer {
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        self.resblocks.iter().fold(x, |x, block| block.forward(x, causal))
    }
}
