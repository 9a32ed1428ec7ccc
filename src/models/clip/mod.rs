//! OpenAI CLIP (Radford et al. 2021): a ViT image encoder and a causal text transformer whose
//! pooled outputs are projected into one embedding space. Module and field names follow the
//! OpenAI/open_clip state dict (`visual.conv1`, `transformer.resblocks.N.ln_1`, …).
pub mod preprocess;
pub mod text;
pub mod tokenizer;
pub mod transformer;
pub mod vision;

use burn::module::Param;
use burn::prelude::*;

pub use text::{TextConfig, TextPooling, TextTransformer};
pub use transformer::{Activation, TransformerConfig};
pub use vision::{VisionConfig, VisionTransformer};

#[derive(Config, Debug, PartialEq)]
pub struct ClipConfig {
    pub embed_dim: usize,
    pub vision: VisionConfig,
    pub text: TextConfig,
}

impl ClipConfig {
    /// OpenAI's ViT-B/32 (QuickGELU, 224 px, 77 tokens, 512-d embeddings).
    pub fn vit_b_32() -> Self {
        let tower = |width: usize| TransformerConfig::new(width, 12, width / 64, 4 * width, Activation::QuickGelu);
        ClipConfig {
            embed_dim: 512,
            vision: VisionConfig::new(224, 32, tower(768), 512),
            text: TextConfig::new(77, 49408, tower(512), TextPooling::Argmax).with_embed_dim(Some(512)),
        }
    }

    /// A random CLIP small enough for unit tests: 16² images, 8-d features, 12 tokens, the real
    /// vocabulary.
    #[cfg(test)]
    pub(crate) fn tiny() -> Self {
        let tower = |act| TransformerConfig::new(16, 1, 2, 32, act);
        ClipConfig {
            embed_dim: 8,
            vision: VisionConfig::new(16, 8, tower(Activation::QuickGelu), 8),
            text: TextConfig::new(12, 49408, tower(Activation::Gelu), TextPooling::Argmax).with_embed_dim(Some(8)),
        }
    }

    pub fn init(&self, device: &Device) -> Clip {
        Clip {
            visual: self.vision.init(device),
            text: self.text.init(device),
            // ln(1/0.07), CLIP's initial temperature
            logit_scale: Param::from_tensor(Tensor::from_floats([(1.0f32 / 0.07).ln()], device)),
        }
    }
}

#[derive(Module, Debug)]
pub struct Clip {
    pub visual: VisionTransformer,
    pub text: TextTransformer,
    /// ln of the softmax temperature's inverse: logits = exp(logit_scale) · cos.
    pub logit_scale: Param<Tensor<1>>,
}

impl Clip {
    /// `pixels` [B, 3, R, R], normalized → [B, E] (not L2-normalized).
    pub fn encode_image(&self, pixels: Tensor<4>) -> Tensor<2> {
        self.visual.forward(pixels)
    }

    /// `tokens` [B, L] → [B, E] (not L2-normalized).
    pub fn encode_text(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        self.text.forward(tokens)
    }

    pub fn encode_image_normalized(&self, pixels: Tensor<4>) -> Tensor<2> {
        l2_normalize(self.encode_image(pixels))
    }

    pub fn encode_text_normalized(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        l2_normalize(self.encode_text(tokens))
    }

    /// exp(logit_scale), the factor between cosine similarities and logits.
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale.val().exp().into_scalar::<f32>()
    }
}

/// A trainable parameter drawn from N(0, std²) (CLIP's initialisation of embeddings and projections).
pub(crate) fn normal_param<const D: usize>(shape: [usize; D], std: f64, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::random(shape, burn::tensor::Distribution::Normal(0.0, std), device))
}

/// Rows scaled to unit L2 norm (as `F.normalize(x, dim=-1)`, eps 1e-12).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model is built from differentiable modules, so it can be trained from scratch.
    #[test]
    fn gradients_reach_both_towers() {
        let device = Device::flex().autodiff();
        let model = ClipConfig::tiny().init(&device);
        let pixels = Tensor::<4>::random([2, 3, 16, 16], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let tokens = Tensor::<2, Int>::from_data([[48i64, 3, 9, 49, 0, 0, 0, 0, 0, 0, 0, 0], [48, 7, 49, 0, 0, 0, 0, 0, 0, 0, 0, 0]], &device);
        let similarity = model.encode_image_normalized(pixels).matmul(model.encode_text_normalized(tokens).transpose());
        let grads = (similarity * model.logit_scale.val().exp().unsqueeze()).sum().backward();
        let norm = |g: Option<Tensor<2>>| g.map(|g| g.abs().sum().into_scalar::<f32>()).unwrap_or(0.0);
        assert!(norm(model.visual.transformer.resblocks[0].attn.in_proj.weight.grad(&grads)) > 0.0);
        assert!(norm(model.text.transformer.resblocks[0].mlp.c_fc.weight.grad(&grads)) > 0.0);
        assert!(norm(model.text.token_embedding.weight.grad(&grads)) > 0.0);
        assert!(model.logit_scale.grad(&grads).is_some());
    }
}
