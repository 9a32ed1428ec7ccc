//! PyTorch checkpoints (`torch.save`, zip or legacy pre-1.6 pickle) read key by key into burn
//! modules.
//!
//! Loaders build a module from its config, then replace each parameter with the checkpoint tensor
//! of the same name, checking the shape against the module's. Every failure names the file and the
//! first offending key; [`Checkpoint::check_all_used`] rejects leftover keys like PyTorch's
//! `load_state_dict(strict=True)`.
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PRelu};
use burn::prelude::*;
use burn::store::pytorch_reader::{DType, PytorchReader, Tensor as StoredTensor};
use burn::tensor::TensorData;

use crate::models::layers::EqualLinear;
use crate::{Error, Result};

/// The tensors of one checkpoint file, keyed by their dotted path through the file's
/// dictionaries (`g_ema.conv1.conv.weight`, `state_dict.encoder.input_layer.0.weight`,
/// `latent_avg`). Tensor data is read on demand; the keys read so far are remembered for
/// [`Checkpoint::check_all_used`].
pub struct Checkpoint {
    path: PathBuf,
    tensors: HashMap<String, StoredTensor>,
    used: RefCell<BTreeSet<String>>,
}

impl Checkpoint {
    /// Opens a checkpoint and reads its tensor index.
    pub fn open(path: &Path) -> Result<Checkpoint> {
        std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let reader = PytorchReader::new(path)
            .map_err(|e| Error::checkpoint(path, format!("not a readable PyTorch checkpoint: {e}")))?;
        Ok(Checkpoint { path: path.to_path_buf(), tensors: reader.into_tensors(), used: RefCell::default() })
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

    /// The tensor `key` as f32 (from f16, bf16, f32 or f64), which must have exactly `shape`.
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
            return Err(self.key_error(key, format!("shape {:?}, expected {stored:?}", tensor.shape())));
        }
        let values = self.read_f32(key, tensor)?;
        self.ignore(key);
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Replaces `param` with the tensor `key`, which must have the parameter's shape.
    pub fn load_param<const D: usize>(&self, param: &mut Param<Tensor<D>>, key: &str) -> Result<()> {
        let shape: [usize; D] = param.lazy_shape().dims();
        let device = param.lazy_device();
        *param = Param::from_tensor(self.tensor(key, shape, &device)?);
        Ok(())
    }

    fn load_running<const D: usize>(&self, state: &mut RunningState<Tensor<D>>, key: &str) -> Result<()> {
        let current = state.value();
        let tensor = self.tensor(key, current.dims(), &current.device())?;
        *state = RunningState::new(tensor);
        Ok(())
    }

    /// `nn.Conv2d`: `weight`, and `bias` when the layer has one.
    pub fn load_conv2d(&self, conv: &mut Conv2d, prefix: &str) -> Result<()> {
        self.load_param(&mut conv.weight, &format!("{prefix}.weight"))?;
        if let Some(bias) = conv.bias.as_mut() {
            self.load_param(bias, &format!("{prefix}.bias"))?;
        }
        Ok(())
    }

    /// `nn.BatchNorm2d`: `weight`, `bias`, `running_mean`, `running_var` (`num_batches_tracked`
    /// only matters for training and is skipped).
    pub fn load_batch_norm(&self, bn: &mut BatchNorm, prefix: &str) -> Result<()> {
        self.load_param(&mut bn.gamma, &format!("{prefix}.weight"))?;
        self.load_param(&mut bn.beta, &format!("{prefix}.bias"))?;
        self.load_running(&mut bn.running_mean, &format!("{prefix}.running_mean"))?;
        self.load_running(&mut bn.running_var, &format!("{prefix}.running_var"))?;
        self.ignore(&format!("{prefix}.num_batches_tracked"));
        Ok(())
    }

    /// `nn.PReLU`: `weight` (burn calls it `alpha`).
    pub fn load_prelu(&self, prelu: &mut PRelu, prefix: &str) -> Result<()> {
        self.load_param(&mut prelu.alpha, &format!("{prefix}.weight"))
    }

    /// rosinality's `EqualLinear`: raw `weight` [out, in] and `bias` [out].
    pub fn load_equal_linear(&self, linear: &mut EqualLinear, prefix: &str) -> Result<()> {
        self.load_param(&mut linear.weight, &format!("{prefix}.weight"))?;
        self.load_param(&mut linear.bias, &format!("{prefix}.bias"))
    }

    /// Marks `key` as handled, so that [`Checkpoint::check_all_used`] does not report it.
    pub fn ignore(&self, key: &str) {
        self.used.borrow_mut().insert(key.to_owned());
    }

    /// Fails on the first (sorted) key under `prefix` that no loader asked for (a checkpoint for a
    /// bigger model, or a config that does not fit it).
    pub fn check_all_used(&self, prefix: &str) -> Result<()> {
        let used = self.used.borrow();
        match self.keys().filter(|k| k.starts_with(prefix) && !used.contains(*k)).min() {
            Some(key) => {
                Err(self.key_error(key, "unexpected: the model has no such tensor (the config does not fit the file)"))
            }
            None => Ok(()),
        }
    }

    fn key_error(&self, key: &str, reason: impl Into<String>) -> Error {
        Error::checkpoint_key(&self.path, key, reason)
    }

    fn stored(&self, key: &str) -> Result<&StoredTensor> {
        self.tensors.get(key).ok_or_else(|| self.key_error(key, "missing"))
    }

    fn read_f32(&self, key: &str, tensor: &StoredTensor) -> Result<Vec<f32>> {
        let bytes = tensor.read().map_err(|e| self.key_error(key, format!("unreadable (truncated file?): {e}")))?;
        let values = match tensor.dtype() {
            DType::F32 => bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect(),
            DType::F64 => {
                bytes.chunks_exact(8).map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32).collect()
            }
            DType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_ne_bytes([b[0], b[1]]).to_f32()).collect(),
            DType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_ne_bytes([b[0], b[1]]).to_f32()).collect(),
            other => return Err(self.key_error(key, format!("dtype {other:?}, expected a float tensor"))),
        };
        Ok(values)
    }
}

/// The key and reason of a [`Error::CheckpointKey`], for the loaders' tests.
#[cfg(test)]
pub(crate) fn expect_key_error<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
    match result {
        Err(Error::CheckpointKey { key, reason, .. }) => (key, reason),
        other => panic!("expected a key error, got {other:?}"),
    }
}
