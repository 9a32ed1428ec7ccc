//! Checkpoint files (`.safetensors`, and `torch.save` state dicts, zip or legacy pre-1.6 pickle)
//! read key by key into burn modules.
//!
//! Loaders build a module from its config, then replace each parameter with the checkpoint tensor
//! of the same name, checking the shape against the module's. Every failure names the file and the
//! first offending key; [`Checkpoint::check_all_used`] rejects leftover keys like PyTorch's
//! `load_state_dict(strict=True)`.
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PRelu};
use burn::prelude::*;
use burn::store::burn_pack::Tensor as StoredTensor;
use burn::store::pytorch_reader::PytorchReader;
use burn::store::{ModuleStore, SafetensorsStore, bridge};
use burn::tensor::TensorData;

use crate::models::layers::EqualLinear;
use crate::{Error, Result};

/// The tensors of one checkpoint file, keyed by their dotted path through the file's
/// dictionaries (`g_ema.conv1.conv.weight`, `state_dict.encoder.input_layer.0.weight`,
/// `latent_avg`). Tensor data is read on demand; the keys read so far are remembered for
/// [`Checkpoint::check_all_used`].
pub struct Checkpoint {
    path: PathBuf,
    tensors: BTreeMap<String, StoredTensor>,
    used: RefCell<BTreeSet<String>>,
}

impl Checkpoint {
    /// Opens a checkpoint and reads its tensor index. The format is told by the content
    /// (safetensors, a torch zip archive, or a legacy pickle); TorchScript archives, which need
    /// PyTorch itself, are rejected with the command that converts them.
    pub fn open(path: &Path) -> Result<Checkpoint> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = [0u8; 9];
        file.read_exact(&mut head)
            .map_err(|_| Error::checkpoint(path, "the file is empty or truncated (fewer than 9 bytes)"))?;
        let is_zip = head.starts_with(b"PK\x03\x04");
        if is_zip && zip_entry_names(&mut file).is_some_and(|names| names.iter().any(|n| is_torchscript_entry(n))) {
            return Err(Error::checkpoint(path, torchscript_message(path)));
        }
        // safetensors: a little-endian u64 header length, then the JSON header.
        let safetensors = !is_zip && (head[8] == b'{' || path.extension().is_some_and(|e| e == "safetensors"));
        let tensors = if safetensors {
            SafetensorsStore::from_file(path).get_all_tensors().map(|t| t.clone()).map_err(|e| e.to_string())
        } else {
            PytorchReader::new(path)
                .map(|reader| reader.into_tensors().into_iter().map(|(k, t)| (k, bridge::from_pytorch(t))).collect())
                .map_err(|e| e.to_string())
        }
        .map_err(|e| {
            let format = if safetensors { "safetensors" } else { "PyTorch" };
            Error::checkpoint(path, format!("not a readable {format} checkpoint (truncated or damaged?): {e}"))
        })?;
        Ok(Checkpoint { path: path.to_path_buf(), tensors, used: RefCell::default() })
    }

    /// The same checkpoint with `prefix` removed from the keys that start with it (a
    /// `state_dict.` wrapper, DataParallel's `module.`); other keys stay as they are.
    pub fn strip_prefix(mut self, prefix: &str) -> Checkpoint {
        self.tensors = self
            .tensors
            .into_iter()
            .map(|(key, tensor)| (key.strip_prefix(prefix).map(str::to_owned).unwrap_or(key), tensor))
            .collect();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// Every tensor's key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Whether any tensor lies under `prefix` (e.g. `g_ema.`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.tensors.keys().any(|k| k.starts_with(prefix))
    }

    /// The stored shape of `key`, or a "missing" error naming it.
    pub fn shape(&self, key: &str) -> Result<&[usize]> {
        Ok(&self.stored(key)?.shape)
    }

    /// The values of `key` as f32 (from f16, bf16, f32 or f64) in row-major order, unchecked
    /// shape; marks the key used.
    pub fn values(&self, key: &str) -> Result<Vec<f32>> {
        let tensor = self.stored(key)?;
        if !tensor.dtype.is_float() {
            return Err(self.key_error(key, format!("dtype {:?}, expected a float tensor", tensor.dtype)));
        }
        let unreadable = |e: String| self.key_error(key, format!("unreadable (truncated file?): {e}"));
        let data = bridge::to_data(tensor).map_err(|e| unreadable(e.to_string()))?;
        let values = data.convert::<f32>().try_into_vec::<f32>().map_err(|e| unreadable(format!("{e:?}")))?;
        self.ignore(key);
        Ok(values)
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
        let got = self.shape(key)?;
        if got != stored {
            return Err(self.key_error(key, format!("shape {got:?}, expected {stored:?}")));
        }
        Ok(Tensor::from_data(TensorData::new(self.values(key)?, shape), device))
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
}

// ---- TorchScript detection ---------------------------------------------------------------------

fn is_torchscript_entry(name: &str) -> bool {
    name.ends_with("/constants.pkl") || name.contains("/code/")
}

fn torchscript_message(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ViT-B-32.pt".into());
    let out = Path::new(&name).with_extension("safetensors").to_string_lossy().into_owned();
    format!(
        "this is a TorchScript archive (such as OpenAI's original CLIP download), which cannot be read without \
         PyTorch. Convert it once to safetensors (in its folder, with torch and safetensors installed):\n  \
         python -c \"import torch,safetensors.torch as st; st.save_file({{k:v.float().contiguous() for k,v in \
         torch.jit.load('{name}',map_location='cpu').state_dict().items()}}, '{out}')\"\n\
         then use {out}"
    )
}

/// The entry names of a zip archive, from its central directory; `None` if it cannot be parsed
/// (then the regular reader reports the problem).
fn zip_entry_names(file: &mut std::fs::File) -> Option<Vec<String>> {
    let len = file.seek(SeekFrom::End(0)).ok()?;
    let tail_len = len.min(22 + 65535);
    file.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail).ok()?;
    // End-of-central-directory record: signature PK\5\6, directory size at +12, offset at +16.
    let eocd = tail.windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let u32_at = |b: &[u8], i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let u16_at = |b: &[u8], i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as usize);
    let dir_size = u32_at(&tail, eocd + 12)? as u64;
    let dir_offset = u32_at(&tail, eocd + 16)? as u64;
    if dir_offset == u32::MAX as u64 || dir_offset + dir_size > len || dir_size > 64 << 20 {
        return None; // zip64 or damaged
    }
    file.seek(SeekFrom::Start(dir_offset)).ok()?;
    let mut dir = vec![0u8; dir_size as usize];
    file.read_exact(&mut dir).ok()?;
    let mut names = Vec::new();
    let mut at = 0;
    while dir.get(at..at + 4) == Some(b"PK\x01\x02") {
        let (name_len, extra_len, comment_len) = (u16_at(&dir, at + 28)?, u16_at(&dir, at + 30)?, u16_at(&dir, at + 32)?);
        names.push(String::from_utf8_lossy(dir.get(at + 46..at + 46 + name_len)?).into_owned());
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(names)
}

/// The key and reason of a [`Error::CheckpointKey`], for the loaders' tests.
#[cfg(test)]
pub(crate) fn expect_key_error<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
    match result {
        Err(Error::CheckpointKey { key, reason, .. }) => (key, reason),
        other => panic!("expected a key error, got {other:?}"),
    }
}
