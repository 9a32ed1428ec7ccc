//! The arrays of parity fixtures: `.npy` files (little-endian, C order, f32 or i64) and the tensors
//! they become.
use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    F32 { shape: Vec<usize>, data: Vec<f32> },
    I64 { shape: Vec<usize>, data: Vec<i64> },
}

impl Array {
    pub fn read_npy(path: &Path) -> Result<Array> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let bad = |e: std::io::Error| Error::Invalid(format!("{}: {e}", path.display()));
        match npy.dtype() {
            npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
                Ok(Array::F32 { shape, data: npy.into_vec::<f32>().map_err(bad)? })
            }
            npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Int && t.size_field() == 8 => {
                Ok(Array::I64 { shape, data: npy.into_vec::<i64>().map_err(bad)? })
            }
            other => Err(Error::Invalid(format!("{}: unsupported dtype {other:?} (want f32 or i64)", path.display()))),
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Array::F32 { shape, .. } | Array::I64 { shape, .. } => shape,
        }
    }

    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Array::F32 { data, .. } => data.iter().map(|&v| v as f64).collect(),
            Array::I64 { data, .. } => data.iter().map(|&v| v as f64).collect(),
        }
    }

    pub fn float<const D: usize>(&self, device: &Device) -> Result<Tensor<D>> {
        match self {
            Array::F32 { shape, data } if shape.len() == D => {
                Ok(Tensor::from_data(TensorData::new(data.clone(), shape.clone()), device))
            }
            _ => Err(Error::Invalid(format!("expected a {D}-d f32 array, got {:?}", self.shape()))),
        }
    }

    pub fn int<const D: usize>(&self, device: &Device) -> Result<Tensor<D, Int>> {
        match self {
            Array::I64 { shape, data } if shape.len() == D => {
                Ok(Tensor::from_data(TensorData::new(data.clone(), shape.clone()), device))
            }
            _ => Err(Error::Invalid(format!("expected a {D}-d i64 array, got {:?}", self.shape()))),
        }
    }

    pub fn from_float<const D: usize>(tensor: Tensor<D>) -> Array {
        let shape = tensor.dims().to_vec();
        let data = tensor.into_data().try_into_vec_as::<f32>().expect("f32 data");
        Array::F32 { shape, data }
    }

    pub fn from_int<const D: usize>(tensor: Tensor<D, Int>) -> Array {
        let shape = tensor.dims().to_vec();
        let data = tensor.into_data().try_into_vec_as::<i64>().expect("i64 data");
        Array::I64 { shape, data }
    }
}
