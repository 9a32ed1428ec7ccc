//! The attribute judge: a small CNN that tells, for every factor, which value an image shows.
//! It is the independent referee of edit quality, trained on renders with degradations
//! (`deltastudio world train-judge`); its weights ship as `weights/builtin/judge.safetensors`.
//!
//! Architecture: four 3×3 stride-2 convolutions with batch norm and ReLU (64² → 4²), a hidden
//! linear layer, and one logit block per factor (all factors' logits side by side).
use std::path::Path;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::TensorData;
use burn::tensor::activation::{log_softmax, relu, softmax};
use image::RgbImage;

use super::factors::{Attributes, Factor};
use crate::Error;

#[derive(Config, Debug)]
pub struct JudgeConfig {
    /// Images are resized to this square size first.
    #[config(default = 64)]
    pub input_size: usize,
    /// Output channels of the four stride-2 convolutions.
    #[config(default = "[24, 48, 80, 112]")]
    pub channels: [usize; 4],
    #[config(default = 192)]
    pub hidden: usize,
}

impl JudgeConfig {
    pub fn init(&self, device: &Device) -> JudgeNet {
        let mut cin = 3;
        let blocks = self
            .channels
            .iter()
            .map(|&cout| {
                let block = ConvBlock {
                    conv: Conv2dConfig::new([cin, cout], [3, 3])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(false)
                        .init(device),
                    norm: BatchNormConfig::new(cout).init(device),
                };
                cin = cout;
                block
            })
            .collect();
        let side = self.input_size / 16;
        JudgeNet {
            blocks,
            hidden: LinearConfig::new(cin * side * side, self.hidden).init(device),
            logits: LinearConfig::new(self.hidden, total_classes()).init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.norm.forward(self.conv.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct JudgeNet {
    blocks: Vec<ConvBlock>,
    hidden: Linear,
    logits: Linear,
}

impl JudgeNet {
    /// Images in [-1, 1], `[batch, 3, input_size, input_size]` → logits `[batch, Σ classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x: Tensor<2> = x.flatten(1, 3);
        self.logits.forward(relu(self.hidden.forward(x)))
    }
}

/// The number of logits: every value of every factor.
pub fn total_classes() -> usize {
    Factor::ALL.iter().map(|f| f.count()).sum()
}

/// (factor, first logit, number of values) for each factor.
pub fn logit_blocks() -> Vec<(Factor, usize, usize)> {
    let mut offset = 0;
    Factor::ALL
        .iter()
        .map(|&f| {
            let block = (f, offset, f.count());
            offset += f.count();
            block
        })
        .collect()
}

/// Mean over the batch of the summed per-factor cross-entropies; `targets` holds the one-hot
/// values of all factors side by side (`[batch, Σ classes]`).
pub fn loss(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let batch = logits.dims()[0] as f32;
    let mut total: Option<Tensor<1>> = None;
    for (_, offset, count) in logit_blocks() {
        let log_p = log_softmax(logits.clone().narrow(1, offset, count), 1);
        let t = targets.clone().narrow(1, offset, count);
        let l = (log_p * t).sum().neg().div_scalar(batch);
        total = Some(match total {
            Some(acc) => acc + l,
            None => l,
        });
    }
    total.expect("at least one factor")
}

/// One-hot targets for `attributes`, `[len, Σ classes]`.
pub fn targets(attributes: &[Attributes], device: &Device) -> Tensor<2> {
    let n = total_classes();
    let mut data = vec![0f32; attributes.len() * n];
    for (row, a) in attributes.iter().enumerate() {
        for (f, offset, _) in logit_blocks() {
            data[row * n + offset + a.get(f)] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [attributes.len(), n]), device)
}

/// Images as a `[batch, 3, size, size]` tensor in [-1, 1], resized to `size` where needed.
pub fn images_to_tensor(images: &[RgbImage], size: u32, device: &Device) -> Tensor<4> {
    let plane = (size * size) as usize;
    let mut data = vec![0f32; images.len() * 3 * plane];
    for (i, img) in images.iter().enumerate() {
        let resized;
        let img = if img.width() == size && img.height() == size {
            img
        } else {
            resized = image::imageops::resize(img, size, size, image::imageops::FilterType::Triangle);
            &resized
        };
        let base = i * 3 * plane;
        for (p, px) in img.pixels().enumerate() {
            for c in 0..3 {
                data[base + c * plane + p] = px.0[c] as f32 / 127.5 - 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [images.len(), 3, size as usize, size as usize]), device)
}

/// The judge's verdict on one image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verdict {
    /// The most likely value of every factor.
    pub attributes: Attributes,
    /// The probability of that value, per factor in [`Factor::ALL`] order.
    pub confidence: [f32; 12],
    /// Every value's probability, per factor.
    pub probabilities: Vec<Vec<f32>>,
}

/// A loaded judge, ready for inference.
pub struct Judge {
    net: JudgeNet,
    config: JudgeConfig,
    device: Device,
}

impl Judge {
    pub fn new(net: JudgeNet, config: JudgeConfig, device: Device) -> Judge {
        Judge { net, config, device }
    }

    /// Loads weights written by [`Judge::save`] (or by training).
    pub fn load(path: &Path, device: &Device) -> crate::Result<Judge> {
        if !path.is_file() {
            return Err(Error::checkpoint(path, "no such file (train one with `deltastudio world train-judge`)"));
        }
        let config = JudgeConfig::new();
        let mut net = config.init(device);
        let mut store = SafetensorsStore::from_file(path);
        let result = net.load_from(&mut store).map_err(|e| Error::checkpoint(path, e.to_string()))?;
        if let Some(key) = result.missing.first() {
            return Err(Error::checkpoint_key(path, key.0.clone(), "missing"));
        }
        if let Some(e) = result.errors.first() {
            return Err(Error::checkpoint(path, e.to_string()));
        }
        Ok(Judge { net, config, device: device.clone() })
    }

    pub fn save(&self, path: &Path) -> crate::Result<()> {
        save_net(&self.net, path)
    }

    pub fn net(&self) -> &JudgeNet {
        &self.net
    }

    /// Logits for a batch of images of any size.
    pub fn logits(&self, images: &[RgbImage]) -> Tensor<2> {
        let x = images_to_tensor(images, self.config.input_size as u32, &self.device);
        self.net.forward(x)
    }

    /// The verdict on every image (batched internally).
    pub fn judge(&self, images: &[RgbImage]) -> Vec<Verdict> {
        let mut verdicts = Vec::with_capacity(images.len());
        for chunk in images.chunks(256) {
            let logits = self.logits(chunk);
            let mut probs_per_factor = Vec::new();
            for (_, offset, count) in logit_blocks() {
                let p = softmax(logits.clone().narrow(1, offset, count), 1);
                let v: Vec<f32> = p.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
                probs_per_factor.push((count, v));
            }
            for row in 0..chunk.len() {
                let mut indices = [0usize; 12];
                let mut confidence = [0f32; 12];
                let mut probabilities = Vec::with_capacity(12);
                for (f, (count, v)) in probs_per_factor.iter().enumerate() {
                    let p = &v[row * count..(row + 1) * count];
                    let (best, &conf) =
                        p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("at least one value");
                    indices[f] = best;
                    confidence[f] = conf;
                    probabilities.push(p.to_vec());
                }
                verdicts.push(Verdict { attributes: Attributes::from_indices(&indices), confidence, probabilities });
            }
        }
        verdicts
    }
}

/// Writes the judge's weights as safetensors.
pub fn save_net(net: &JudgeNet, path: &Path) -> crate::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut store = SafetensorsStore::from_file(path).overwrite(true).metadata("model", "deltastudio attribute judge");
    net.save_into(&mut store).map_err(|e| Error::checkpoint(path, e.to_string()))
}

/// Accuracy per factor of `verdicts` against the true `attributes`.
pub fn accuracy(verdicts: &[Verdict], attributes: &[Attributes]) -> [f32; 12] {
    let mut correct = [0usize; 12];
    for (v, a) in verdicts.iter().zip(attributes) {
        for (i, f) in Factor::ALL.iter().enumerate() {
            correct[i] += (v.attributes.get(*f) == a.get(*f)) as usize;
        }
    }
    correct.map(|c| c as f32 / verdicts.len().max(1) as f32)
}
