//! DeltaEdit files: the Delta Mapper checkpoint (`net_face.pth`, a plain `DeltaMapper`
//! state dict) and the relevance matrix `fs3.npy` (S channels × CLIP dims), read and written.
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::Path;

use burn::prelude::*;
use npyz::{Endianness, NpyHeader, Order, TypeChar, WriterBuilder};

use super::checkpoint::Checkpoint;
use super::writer::{Precision, TensorWriter};
use crate::models::delta_mapper::{DeltaMapper, DeltaMapperConfig, DeltaSubspace, MapperSubspaces};
use crate::{Error, Result};

/// Where a mapper file keeps the [`MapperSubspaces`] (ours; `net_face.pth` has none).
pub const DELTA_SUBSPACE_KEY: &str = "delta_subspace";
pub const EDIT_SUBSPACE_KEY: &str = "edit_subspace";

/// Loads a Delta Mapper and the subspaces it was trained with, those its file has.
/// `prefix` is where its keys sit (`""` for `net_face.pth`, `"state_dict."` for a state dict
/// wrapped in a dict). Keys: `{sm,cm,fm}_{coarse,medium,fine}.mapping.{i}.{weight,bias}` and
/// optionally [`DELTA_SUBSPACE_KEY`] ([k, CLIP width]) and [`EDIT_SUBSPACE_KEY`] ([k, S width]).
pub fn load_delta_mapper(
    path: &Path,
    config: &DeltaMapperConfig,
    prefix: &str,
    device: &Device,
) -> Result<(DeltaMapper, MapperSubspaces)> {
    let sd = Checkpoint::open(path)?;
    let mut mapper = config.init(device);
    for (name, m) in mapper.named_mappers() {
        for i in 0..m.mapping.len() {
            let key = format!("{prefix}{name}.mapping.{}", m.sequential_index(i));
            sd.load_equal_linear(&mut m.mapping[i], &key)?;
        }
    }
    let subspace = |name: &str, width: usize| -> Result<Option<DeltaSubspace>> {
        let key = format!("{prefix}{name}");
        if !sd.contains(&key) {
            return Ok(None);
        }
        let k = sd.shape(&key)?.first().copied().unwrap_or(0);
        Ok(Some(DeltaSubspace { basis: sd.tensor(&key, [k, width], device)? }))
    };
    let subspaces = MapperSubspaces { delta: subspace(DELTA_SUBSPACE_KEY, config.cond_dim / 2)?, edit: subspace(EDIT_SUBSPACE_KEY, config.s_dim())? };
    sd.check_all_used(prefix)?;
    Ok((mapper, subspaces))
}

/// Writes `mapper` (and its subspaces) as safetensors in `net_face.pth`'s key layout (raw
/// EqualLinear parameters), so that [`load_delta_mapper`] with prefix `""` reads it back.
pub fn save_delta_mapper(
    mapper: &DeltaMapper,
    subspaces: &MapperSubspaces,
    path: &Path,
    precision: Precision,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let mut writer = TensorWriter::new();
    let mut mapper = mapper.clone();
    for (name, m) in mapper.named_mappers() {
        for (i, linear) in m.mapping.iter().enumerate() {
            writer.equal_linear(&format!("{name}.mapping.{}", m.sequential_index(i)), linear);
        }
    }
    if let Some(delta) = &subspaces.delta {
        writer.tensor(DELTA_SUBSPACE_KEY, delta.basis.clone());
    }
    if let Some(edit) = &subspaces.edit {
        writer.tensor(EDIT_SUBSPACE_KEY, edit.basis.clone());
    }
    writer.write(path, precision, metadata)
}

/// Writes a relevance matrix `values` ([s_dim, clip_dim], row-major) as a C-order little-endian
/// f32 `.npy`, fs3.npy's orientation.
pub fn save_relevance_matrix(path: &Path, values: &[f32], s_dim: usize, clip_dim: usize) -> Result<()> {
    if values.len() != s_dim * clip_dim {
        return Err(Error::Invalid(format!("relevance matrix: {} values for [{s_dim}, {clip_dim}]", values.len())));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let write = || -> std::io::Result<()> {
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&[s_dim as u64, clip_dim as u64])
            .writer(BufWriter::new(file))
            .begin_nd()?;
        writer.extend(values.iter().copied())?;
        writer.finish()
    };
    write().map_err(|e| Error::io(path, e))
}

/// Loads the relevance matrix (`fs3.npy`: one unit CLIP-space row per S channel) as f32
/// [s_dim, clip_dim], from a little- or big-endian f16/f32/f64 `.npy`.
pub fn load_relevance_matrix(path: &Path, s_dim: usize, clip_dim: usize, device: &Device) -> Result<Tensor<2>> {
    let bad = |reason: String| Error::checkpoint(path, reason);
    let mut reader = BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
    let header = NpyHeader::from_reader(&mut reader).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    if shape != [s_dim, clip_dim] {
        return Err(bad(format!("shape {shape:?}, expected [{s_dim}, {clip_dim}] (the generator's S size × CLIP width)")));
    }
    if header.order() == Order::Fortran {
        return Err(bad("Fortran-ordered arrays are not supported; save it in C order".into()));
    }
    let npyz::DType::Plain(ty) = header.dtype() else {
        return Err(bad(format!("dtype {:?}, expected f16, f32 or f64", header.dtype())));
    };
    let width = ty.size_field() as usize;
    if ty.type_char() != TypeChar::Float || ![2, 4, 8].contains(&width) {
        return Err(bad(format!("dtype {ty}, expected f16, f32 or f64")));
    }
    let mut bytes = Vec::with_capacity(s_dim * clip_dim * width);
    reader.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() < s_dim * clip_dim * width {
        return Err(bad(format!("truncated: {} data bytes, expected {}", bytes.len(), s_dim * clip_dim * width)));
    }
    let big = ty.endianness() == Endianness::Big;
    let values: Vec<f32> = bytes[..s_dim * clip_dim * width]
        .chunks_exact(width)
        .map(|b| match (width, big) {
            (2, false) => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            (2, true) => half::f16::from_be_bytes([b[0], b[1]]).to_f32(),
            (4, false) => f32::from_le_bytes(b.try_into().unwrap()),
            (4, true) => f32::from_be_bytes(b.try_into().unwrap()),
            (_, false) => f64::from_le_bytes(b.try_into().unwrap()) as f32,
            (_, true) => f64::from_be_bytes(b.try_into().unwrap()) as f32,
        })
        .collect();
    Ok(Tensor::from_data(TensorData::new(values, [s_dim, clip_dim]), device))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::weights::checkpoint::expect_key_error;

    const SMALL: DeltaMapperConfig =
        DeltaMapperConfig { coarse_layers: 3, medium_layers: 4, fine_dim: 40, cond_dim: 24, style_width: 16 };

    fn checkpoint() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/delta_mapper_small/net.pth")
    }

    #[test]
    fn checkpoint_errors_name_the_first_offending_key() {
        let device = Device::flex();
        assert!(load_delta_mapper(&checkpoint(), &SMALL, "", &device).is_ok());
        let wider = DeltaMapperConfig { fine_dim: 41, ..SMALL };
        let (key, reason) = expect_key_error(load_delta_mapper(&checkpoint(), &wider, "", &device));
        assert_eq!((key.as_str(), reason.as_str()), ("sm_fine.mapping.1.weight", "shape [40, 40], expected [41, 41]"));
        let (key, reason) = expect_key_error(load_delta_mapper(&checkpoint(), &SMALL, "state_dict.", &device));
        assert_eq!((key.as_str(), reason.as_str()), ("state_dict.sm_coarse.mapping.1.weight", "missing"));
    }

    #[test]
    fn a_saved_mapper_loads_back_with_the_same_outputs() {
        let device = Device::flex();
        let (mapper, subspaces) = load_delta_mapper(&checkpoint(), &SMALL, "", &device).unwrap();
        assert!(subspaces.delta.is_none() && subspaces.edit.is_none(), "net_face.pth files have no subspaces");
        let fit = |width: usize, k: usize| {
            let deltas = Tensor::<2>::random([20, width], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
            DeltaSubspace::fit(deltas, k).unwrap()
        };
        let subspaces = MapperSubspaces { delta: Some(fit(SMALL.cond_dim / 2, 3)), edit: Some(fit(SMALL.s_dim(), 4)) };
        let s = Tensor::<2>::random([3, SMALL.s_dim()], burn::tensor::Distribution::Normal(0.0, 3.0), &device);
        let c = Tensor::<2>::random([3, SMALL.cond_dim], burn::tensor::Distribution::Normal(0.0, 0.2), &device);
        let expected = mapper.forward(s.clone(), c.clone()).into_data();
        let dir = tempfile::tempdir().unwrap();
        for (precision, tolerance) in [(Precision::F32, 1e-6), (Precision::F16, 2e-3)] {
            let path = dir.path().join("mapper.safetensors");
            let metadata = HashMap::from([("format".to_string(), "net_face.pth".to_string())]);
            save_delta_mapper(&mapper, &subspaces, &path, precision, metadata).unwrap();
            let (reloaded, reloaded_subspaces) = load_delta_mapper(&path, &SMALL, "", &device).unwrap();
            for (saved, reloaded) in [(&subspaces.delta, reloaded_subspaces.delta), (&subspaces.edit, reloaded_subspaces.edit)] {
                let basis = reloaded.expect("the subspace is saved").basis.into_data();
                basis.assert_approx_eq::<f32>(&saved.as_ref().unwrap().basis.clone().into_data(), burn::tensor::Tolerance::absolute(tolerance));
            }
            let got = reloaded.forward(s.clone(), c.clone()).into_data();
            let (e, g) = (expected.try_to_vec::<f32>().unwrap(), got.try_to_vec::<f32>().unwrap());
            let scale = e.iter().map(|v| v.abs()).fold(0.0, f32::max);
            let worst = e.iter().zip(&g).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst <= tolerance * scale, "{precision:?}: max error {worst} for outputs up to {scale}");
        }
    }

    #[test]
    fn a_saved_relevance_matrix_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relevance.npy");
        let values: Vec<f32> = (0..15).map(|i| i as f32 / 7.0 - 1.0).collect();
        save_relevance_matrix(&path, &values, 5, 3).unwrap();
        let m = load_relevance_matrix(&path, 5, 3, &Device::flex()).unwrap();
        assert_eq!(m.into_data().try_to_vec::<f32>().unwrap(), values);
        assert!(save_relevance_matrix(&path, &values, 4, 3).is_err());
    }

    #[test]
    fn truncated_checkpoint_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(checkpoint()).unwrap();
        let truncated = dir.path().join("net.pth");
        std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = load_delta_mapper(&truncated, &SMALL, "", &Device::flex()).unwrap_err();
        assert!(err.to_string().starts_with(&truncated.display().to_string()), "{err}");
    }

    /// A C-order `.npy` of `values` [rows, cols] with numpy dtype `descr`.
    fn npy(descr: &str, rows: usize, cols: usize, values: &[f64]) -> Vec<u8> {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        for &v in values {
            match descr {
                "<f2" => bytes.extend(half::f16::from_f64(v).to_le_bytes()),
                "<f4" => bytes.extend((v as f32).to_le_bytes()),
                ">f4" => bytes.extend((v as f32).to_be_bytes()),
                "<f8" => bytes.extend(v.to_le_bytes()),
                _ => bytes.extend((v as i32).to_le_bytes()),
            }
        }
        bytes
    }

    #[test]
    fn relevance_matrix_accepts_f16_f32_f64_and_checks_the_shape() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f64> = (0..12).map(|i| i as f64 * 0.25 - 1.0).collect();
        for descr in ["<f2", "<f4", ">f4", "<f8"] {
            let path = dir.path().join("fs3.npy");
            std::fs::write(&path, npy(descr, 4, 3, &values)).unwrap();
            let m = load_relevance_matrix(&path, 4, 3, &device).unwrap();
            let got = m.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
            assert_eq!(got, values.iter().map(|&v| v as f32).collect::<Vec<_>>(), "{descr}");
            let err = load_relevance_matrix(&path, 6, 3, &device).unwrap_err().to_string();
            assert!(err.contains("shape [4, 3], expected [6, 3]"), "{err}");
        }
        let path = dir.path().join("int.npy");
        std::fs::write(&path, npy("<i4", 4, 3, &values)).unwrap();
        assert!(load_relevance_matrix(&path, 4, 3, &device).unwrap_err().to_string().contains("dtype"));
        let bytes = npy("<f4", 4, 3, &values);
        std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
        assert!(load_relevance_matrix(&path, 4, 3, &device).unwrap_err().to_string().contains("truncated"));
    }
}
