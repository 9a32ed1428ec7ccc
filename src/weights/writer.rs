//! Writing model files as safetensors in the official key layouts: the mirror of
//! [`Checkpoint`](super::checkpoint::Checkpoint)'s module loaders (same keys, same shapes), so a
//! written file loads back with the loader of its format.
use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PRelu};
use burn::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use crate::models::layers::EqualLinear;
use crate::{Error, Result};

/// How the values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Precision {
    F32,
    F16,
}

/// Tensors collected under their checkpoint keys, then written in one go.
#[derive(Default)]
pub struct TensorWriter {
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl TensorWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// `tensor` under `key`, stored with `shape` (same number of values, e.g. rosinality's
    /// `[1, out, in, k, k]` for a `[out, in, k, k]` conv weight).
    pub fn tensor_as<const D: usize>(&mut self, key: impl Into<String>, tensor: Tensor<D>, shape: &[usize]) {
        let values = tensor.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor data");
        assert_eq!(values.len(), shape.iter().product::<usize>(), "stored shape must hold the tensor's values");
        self.tensors.push((key.into(), shape.to_vec(), values));
    }

    pub fn tensor<const D: usize>(&mut self, key: impl Into<String>, tensor: Tensor<D>) {
        let shape = tensor.dims();
        self.tensor_as(key, tensor, &shape);
    }

    pub fn param<const D: usize>(&mut self, key: impl Into<String>, param: &Param<Tensor<D>>) {
        self.tensor(key, param.val());
    }

    /// `nn.Conv2d`: `weight`, and `bias` when the layer has one.
    pub fn conv2d(&mut self, prefix: &str, conv: &Conv2d) {
        self.param(format!("{prefix}.weight"), &conv.weight);
        if let Some(bias) = &conv.bias {
            self.param(format!("{prefix}.bias"), bias);
        }
    }

    /// `nn.BatchNorm2d`: `weight`, `bias`, `running_mean`, `running_var`.
    pub fn batch_norm(&mut self, prefix: &str, bn: &BatchNorm) {
        self.param(format!("{prefix}.weight"), &bn.gamma);
        self.param(format!("{prefix}.bias"), &bn.beta);
        self.tensor(format!("{prefix}.running_mean"), bn.running_mean.value());
        self.tensor(format!("{prefix}.running_var"), bn.running_var.value());
    }

    /// `nn.PReLU`: `weight`.
    pub fn prelu(&mut self, prefix: &str, prelu: &PRelu) {
        self.param(format!("{prefix}.weight"), &prelu.alpha);
    }

    /// rosinality's `EqualLinear`: raw `weight` [out, in] and `bias` [out].
    pub fn equal_linear(&mut self, prefix: &str, linear: &EqualLinear) {
        self.param(format!("{prefix}.weight"), &linear.weight);
        self.param(format!("{prefix}.bias"), &linear.bias);
    }

    /// Writes every tensor to `path` (creating its folder) with `metadata` in the header.
    pub fn write(self, path: &Path, precision: Precision, metadata: HashMap<String, String>) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .into_iter()
            .map(|(key, shape, values)| {
                let bytes = match precision {
                    Precision::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    Precision::F16 => values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
                };
                (key, shape, bytes)
            })
            .collect();
        let dtype = match precision {
            Precision::F32 => Dtype::F32,
            Precision::F16 => Dtype::F16,
        };
        let views = encoded
            .iter()
            .map(|(key, shape, bytes)| {
                let view = TensorView::new(dtype, shape.clone(), bytes).map_err(|e| Error::checkpoint(path, format!("`{key}`: {e}")))?;
                Ok((key.clone(), view))
            })
            .collect::<Result<Vec<_>>>()?;
        safetensors::tensor::serialize_to_file(views, Some(metadata), path).map_err(|e| Error::checkpoint(path, e.to_string()))
    }
}
