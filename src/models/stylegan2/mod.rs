//! StyleGAN2 (rosinality/stylegan2-pytorch layout) and its style space S.
//!
//! One module per concept: [`mapping`] (z → w, with the shared
//! [`EqualLinear`](crate::models::layers::EqualLinear)), [`modulated_conv`],
//! [`upfirdn`] (blur / FIR up-sampling), [`noise`], [`styled_conv`], [`to_rgb`], [`generator`]
//! (synthesis from w+, from S, with per-layer features) and [`style_space`] (S layout).
//! Parameters are stored raw with run-time scales, as in the official code, so the same modules
//! can be trained.
use std::collections::BTreeMap;

use burn::prelude::*;

pub mod generator;
pub mod mapping;
pub mod modulated_conv;
pub mod noise;
pub mod style_space;
pub mod styled_conv;
pub mod to_rgb;
pub mod upfirdn;

pub use generator::{Generator, Noise, Synthesis};
pub use style_space::{SLayers, ScaleGroup, ScaleGroups, StyleLayer, StyleLayerKind, StyleSpace, Styles};

use crate::Error;

/// rosinality `Generator(size, style_dim, n_mlp, channel_multiplier, lr_mlp)`, plus an optional
/// channel table for small models.
#[derive(Config, Debug, PartialEq)]
pub struct StyleGan2Config {
    /// Output side in pixels (a power of two ≥ 4).
    pub size: usize,
    #[config(default = 512)]
    pub style_dim: usize,
    #[config(default = 8)]
    pub n_mlp: usize,
    #[config(default = 2)]
    pub channel_multiplier: usize,
    #[config(default = 0.01)]
    pub lr_mlp: f64,
    /// Resolution → channels; overrides rosinality's table for the resolutions it lists.
    pub channels: Option<BTreeMap<usize, usize>>,
}

impl StyleGan2Config {
    /// The official FFHQ config-f generator: 1024², style 512, 8 mapping layers, multiplier 2.
    pub fn ffhq_1024() -> Self {
        StyleGan2Config::new(1024)
    }

    /// rosinality's fixed channel table.
    pub fn rosinality_channels(resolution: usize, channel_multiplier: usize) -> Option<usize> {
        let cm = channel_multiplier;
        Some(match resolution {
            4..=32 => 512,
            64 => 256 * cm,
            128 => 128 * cm,
            256 => 64 * cm,
            512 => 32 * cm,
            1024 => 16 * cm,
            _ => return None,
        })
    }

    /// `log2(size)`.
    pub fn log_size(&self) -> usize {
        self.size.trailing_zeros() as usize
    }

    /// Rows of w+ (18 at 1024²).
    pub fn n_latent(&self) -> usize {
        self.log_size() * 2 - 2
    }

    /// Number of styled convs (= noise maps; 17 at 1024²).
    pub fn num_conv_layers(&self) -> usize {
        (self.log_size() - 2) * 2 + 1
    }

    /// Channels of the feature maps at `resolution`.
    pub fn channels_at(&self, resolution: usize) -> crate::Result<usize> {
        self.channels
            .as_ref()
            .and_then(|table| table.get(&resolution).copied())
            .or_else(|| Self::rosinality_channels(resolution, self.channel_multiplier))
            .ok_or_else(|| Error::Config(format!("stylegan2: no channel count for resolution {resolution}")))
    }

    /// Checks the size and that every resolution has a channel count.
    pub fn validate(&self) -> crate::Result<()> {
        if !self.size.is_power_of_two() || self.size < 4 {
            return Err(Error::Config(format!("stylegan2: size {} is not a power of two ≥ 4", self.size)));
        }
        if self.style_dim == 0 || self.n_mlp == 0 {
            return Err(Error::Config("stylegan2: style_dim and n_mlp must be positive".into()));
        }
        for log_res in 2..=self.log_size() {
            self.channels_at(1 << log_res)?;
        }
        Ok(())
    }

    /// A generator with rosinality's random initialisation (for training from scratch).
    pub fn init(&self, device: &Device) -> crate::Result<Generator> {
        Generator::init(self, device)
    }
}
