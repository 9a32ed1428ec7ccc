//! CLIP's image encoder (ViT): patchify with a strided conv, prepend the class embedding, add
//! positions, `ln_pre`, transformer, `ln_post` on the class token, project.
use burn::module::Param;
use burn::nn::LayerNorm;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

use super::normal_param;
use super::transformer::{Transformer, TransformerConfig};

#[derive(Config, Debug, PartialEq)]
pub struct VisionConfig {
    pub image_size: usize,
    pub patch_size: usize,
    pub transformer: TransformerConfig,
    /// The joint embedding size (`proj` is [width, embed_dim]).
    pub embed_dim: usize,
}

impl VisionConfig {
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    pub fn init(&self, device: &Device) -> VisionTransformer {
        let width = self.transformer.width;
        let scale = (width as f64).powf(-0.5);
        VisionTransformer {
            conv1: Conv2dConfig::new([3, width], [self.patch_size, self.patch_size])
                .with_stride([self.patch_size, self.patch_size])
                .with_bias(false)
                .init(device),
            class_embedding: normal_param([width], scale, device),
            positional_embedding: normal_param([self.grid() * self.grid() + 1, width], scale, device),
            ln_pre: self.transformer.layer_norm(device),
            transformer: self.transformer.init(device),
            ln_post: self.transformer.layer_norm(device),
            proj: normal_param([width, self.embed_dim], scale, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct VisionTransformer {
    pub conv1: Conv2d,
    pub class_embedding: Param<Tensor<1>>,
    pub positional_embedding: Param<Tensor<2>>,
    pub ln_pre: LayerNorm,
    pub transformer: Transformer,
    pub ln_post: LayerNorm,
    pub proj: Param<Tensor<2>>,
}

impl VisionTransformer {
    /// `pixels` [B, 3, R, R], already normalized → [B, embed_dim].
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        let patches = self.conv1.forward(pixels); // [B, W, g, g]
        let [batch, width, gh, gw] = patches.dims();
        let patches = patches.reshape([batch, width, gh * gw]).swap_dims(1, 2);
        let class = self.class_embedding.val().reshape([1, 1, width]).expand([batch, 1, width]);
        let x = Tensor::cat(vec![class, patches], 1) + self.positional_embedding.val().unsqueeze();
        let x = self.transformer.forward(self.ln_pre.forward(x), false);
        let class_token = x.narrow(1, 0, 1).reshape([batch, width]);
        self.ln_post.forward(class_token).matmul(self.proj.val())
    }
}
