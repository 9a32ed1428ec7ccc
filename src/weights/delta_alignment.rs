//! The built-in domain's delta alignment file: one tensor, `text_to_image` [E, E].
use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;

use super::checkpoint::Checkpoint;
use super::writer::{Precision, TensorWriter};
use crate::Result;
use crate::models::delta_alignment::DeltaAlignment;

pub const TEXT_TO_IMAGE_KEY: &str = "text_to_image";

/// Loads an alignment for a CLIP of width `clip_dim`; a file of another width is refused with
/// the shape it has.
pub fn load_delta_alignment(path: &Path, clip_dim: usize, device: &Device) -> Result<DeltaAlignment> {
    let sd = Checkpoint::open(path)?;
    let text_to_image = sd.tensor(TEXT_TO_IMAGE_KEY, [clip_dim, clip_dim], device)?;
    sd.check_all_used("")?;
    Ok(DeltaAlignment { text_to_image })
}

/// Writes `alignment` in f32 (64 KB at E = 128; f16 would round a map whose rows are applied to
/// every prompt).
pub fn save_delta_alignment(alignment: &DeltaAlignment, path: &Path, metadata: HashMap<String, String>) -> Result<()> {
    let mut writer = TensorWriter::new();
    writer.tensor(TEXT_TO_IMAGE_KEY, alignment.text_to_image.clone());
    writer.write(path, Precision::F32, metadata)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    #[test]
    fn an_alignment_round_trips_and_a_file_of_another_width_is_refused() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delta_alignment.safetensors");
        let alignment = DeltaAlignment { text_to_image: Tensor::random([8, 8], Distribution::Normal(0.0, 1.0), &device) };
        save_delta_alignment(&alignment, &path, HashMap::new()).unwrap();
        let loaded = load_delta_alignment(&path, 8, &device).unwrap();
        loaded.text_to_image.into_data().assert_eq(&alignment.text_to_image.into_data(), true);
        let refused = load_delta_alignment(&path, 16, &device).unwrap_err().to_string();
        assert!(refused.contains(TEXT_TO_IMAGE_KEY), "{refused}");
    }
}
