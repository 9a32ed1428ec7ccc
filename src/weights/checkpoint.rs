//! Reading PyTorch checkpoints (`torch.save` zip format and the legacy pre-1.6 pickle format)
//! tensor by tensor, with errors that name the file and the offending key.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::pytorch_reader::{DType, PytorchReader, Tensor as StoredTensor};
use burn::tensor::TensorData;

use crate::{Error, Result};

/// The tensors of one checkpoint file, keyed by their dotted path through the file's
/// dictionaries (`g_ema.conv1.conv.weight`, `latent_avg`, …). Tensor data is read on demand.
pub struct Checkpoint {
    path: PathBuf,
    tensors: HashMap<String, StoredTensor>,
}

impl Checkpoint {
    pub fn open(path: &Path) -> Result<Checkpoint> {
        if !path.is_file() {
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")));
        }
        let reader = PytorchReader::new(path)
            .map_err(|e| Error::checkpoint(path, format!("not a readable PyTorch checkpoint: {e}")))?;
        Ok(Checkpoint { path: path.to_path_buf(), tensors: reader.into_tensors() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// Every tensor's key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Whether any tensor lies under `prefix` (e.g. `g_ema.`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.tensors.keys().any(|k| k.starts_with(prefix))
    }

    /// The stored shape of `key`, or a "missing" error naming it.
    pub fn shape(&self, key: &str) -> Result<&[usize]> {
        Ok(self.stored(key)?.shape())
    }

    /// The tensor `key`, which must have exactly `shape`.
    pub fn tensor<const D: usize>(&self, key: &str, shape: [usize; D], device: &Device) -> Result<Tensor<D>> {
        self.tensor_as(key, &shape, shape, device)
    }

    /// The tensor `key` stored with shape `stored` (checked), reshaped to `shape`; e.g. rosinality's
    /// `[1, out, in, k, k]` conv weights read as `[out, in, k, k]`.
    pub fn tensor_as<const D: usize>(
        &self,
        key: &str,
        stored: &[usize],
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        let tensor = self.stored(key)?;
        if tensor.shape() != stored {
            return Err(Error::checkpoint_key(
                &self.path,
                key,
                format!("shape {:?}, expected {stored:?}", tensor.shape()),
            ));
        }
        let values = self.read_f32(key, tensor)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// The raw values of `key` as f32 (f16, bf16 and f64 are converted).
    pub fn values(&self, key: &str) -> Result<Vec<f32>> {
        self.read_f32(key, self.stored(key)?)
    }

    fn stored(&self, key: &str) -> Result<&StoredTensor> {
        self.tensors.get(key).ok_or_else(|| Error::checkpoint_key(&self.path, key, "missing"))
    }

    fn read_f32(&self, key: &str, tensor: &StoredTensor) -> Result<Vec<f32>> {
        let bytes =
            tensor.read().map_err(|e| Error::checkpoint_key(&self.path, key, format!("unreadable data: {e}")))?;
        let values = match tensor.dtype() {
            DType::F32 => bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect(),
            DType::F64 => {
                bytes.chunks_exact(8).map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32).collect()
            }
            DType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_ne_bytes([b[0], b[1]]).to_f32()).collect(),
            DType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_ne_bytes([b[0], b[1]]).to_f32()).collect(),
            other => {
                return Err(Error::checkpoint_key(
                    &self.path,
                    key,
                    format!("dtype {other:?}, expected a float tensor"),
                ));
            }
        };
        Ok(values)
    }
}
