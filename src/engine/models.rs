//! The models of the GAN path (DeltaEdit-G) for one domain, found on the weights path and
//! loaded with the loaders in `weights`: generator, encoder, CLIP, Delta Mapper, relevance matrix.
use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::delta_space::{DeltaSpace, Domain};
use super::gan::{DirectionModel, Method};
use crate::models::delta_mapper::{DeltaMapper, DeltaMapperConfig, MapperSubspaces};
use crate::models::e4e::Encoder4Editing;
use crate::models::stylegan2::{Generator, SLayers};
use crate::weights::registry::{
    BUILTIN_CLIP_FILE, BUILTIN_DELTA_ALIGNMENT_FILE, BUILTIN_ENCODER_FILE, BUILTIN_GENERATOR_FILE, BUILTIN_MAPPER_FILE, BUILTIN_RELEVANCE_FILE,
    BUILTIN_STRAIGHTFORWARD_MAPPER_FILE, WeightsPath,
};
use crate::weights::{self};
use crate::world::rng::Rng;
use crate::{Error, Result};

/// The files of one domain's GAN path, in the order they are needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GanFiles {
    pub generator: &'static str,
    pub encoder: &'static str,
    pub clip: &'static [&'static str],
    /// Our text-to-image delta alignment (the built-in CLIP's; official files have none).
    pub delta_alignment: Option<&'static str>,
    pub mapper: &'static str,
    pub straightforward_mapper: Option<&'static str>,
    pub relevance: &'static str,
}

impl GanFiles {
    pub fn of(domain: Domain) -> GanFiles {
        match domain {
            Domain::Builtin => GanFiles {
                generator: BUILTIN_GENERATOR_FILE,
                encoder: BUILTIN_ENCODER_FILE,
                clip: &[BUILTIN_CLIP_FILE],
                delta_alignment: Some(BUILTIN_DELTA_ALIGNMENT_FILE),
                mapper: BUILTIN_MAPPER_FILE,
                straightforward_mapper: Some(BUILTIN_STRAIGHTFORWARD_MAPPER_FILE),
                relevance: BUILTIN_RELEVANCE_FILE,
            },
            Domain::Ffhq => GanFiles {
                generator: "stylegan2-ffhq-config-f.pt",
                encoder: "e4e_ffhq_encode.pt",
                clip: &["ViT-B-32.safetensors", "clip-vit-base-patch32/model.safetensors"],
                delta_alignment: None,
                mapper: "net_face.pth",
                straightforward_mapper: None,
                relevance: "fs3.npy",
            },
        }
    }
}

/// Finds `file` on the weights path or says where it looked.
pub fn find(weights: &WeightsPath, file: &str) -> Result<PathBuf> {
    weights.find(file).ok_or_else(|| {
        let looked: Vec<String> = weights.dirs.iter().map(|(origin, dir)| format!("{} ({origin})", dir.display())).collect();
        Error::Invalid(format!("model file `{file}` not found; looked in {}; `deltastudio models` says where to get it", looked.join(", ")))
    })
}

fn find_any(weights: &WeightsPath, files: &[&str]) -> Result<PathBuf> {
    files.iter().find_map(|f| weights.find(f)).map_or_else(|| find(weights, files[0]), Ok)
}

/// Generator, encoder and CLIP: enough to invert images and to train a mapper.
pub struct GanBase {
    pub domain: Domain,
    pub generator: Generator,
    pub encoder: Encoder4Editing,
    pub delta_space: DeltaSpace,
    /// The files they came from.
    pub paths: Vec<PathBuf>,
}

impl GanBase {
    pub fn load(weights: &WeightsPath, domain: Domain, device: &Device) -> Result<GanBase> {
        let files = GanFiles::of(domain);
        let generator_path = find(weights, files.generator)?;
        let encoder_path = find(weights, files.encoder)?;
        let clip_path = find_any(weights, files.clip)?;
        let generator = weights::stylegan2::load(&generator_path, None, None, device)?.generator;
        let encoder = weights::e4e::load_encoder(&encoder_path, None, device)?;
        if encoder.n_styles() != generator.n_latent() {
            return Err(Error::checkpoint(
                &encoder_path,
                format!("the encoder gives {} w+ rows, the generator needs {}", encoder.n_styles(), generator.n_latent()),
            ));
        }
        let (clip, clip_config) = weights::clip::load_clip(&clip_path, None, device)?;
        let delta_space = DeltaSpace::new(clip, clip_config, domain, device)?;
        Ok(GanBase { domain, generator, encoder, delta_space, paths: vec![generator_path, encoder_path, clip_path] })
    }

    /// The Delta Mapper layout that fits this generator and CLIP (the official one for FFHQ).
    pub fn mapper_config(&self) -> Result<DeltaMapperConfig> {
        mapper_config(&self.generator, self.domain.s_layers(), self.delta_space.config.embed_dim)
    }

    /// Width of S (see [`Domain::s_layers`]).
    pub fn s_dim(&self) -> usize {
        self.generator.style_space().s_dim(self.domain.s_layers())
    }
}

/// The Delta Mapper layout for `generator`'s S over `which` layers and a CLIP of width `clip_dim`.
pub fn mapper_config(generator: &Generator, which: SLayers, clip_dim: usize) -> Result<DeltaMapperConfig> {
    let space = generator.style_space();
    let layers: Vec<(usize, usize)> = space.s_layers(which).iter().map(|l| (l.resolution, l.channels)).collect();
    DeltaMapperConfig::for_generator(&layers, 2 * clip_dim)
}

/// Everything DeltaEdit-G needs.
pub struct GanModels {
    pub base: GanBase,
    pub direction: DirectionModel,
    /// [S dims, CLIP dims], fs3.npy's orientation.
    pub relevance: Tensor<2>,
}

/// Samples of z used to estimate the standard deviation of each S channel (global directions).
const S_STD_SAMPLES: usize = 2000;

impl GanModels {
    pub fn load(weights: &WeightsPath, domain: Domain, method: Method, device: &Device) -> Result<GanModels> {
        let mut base = GanBase::load(weights, domain, device)?;
        let files = GanFiles::of(domain);
        // Edits read text deltas; codes and training (GanBase alone) read images only.
        if let Some(file) = files.delta_alignment {
            let path = find(weights, file)?;
            let alignment = weights::delta_alignment::load_delta_alignment(&path, base.delta_space.config.embed_dim, device)?;
            base.delta_space.set_alignment(alignment)?;
            base.paths.push(path);
        }
        let relevance_path = find(weights, files.relevance)?;
        let s_dim = base.s_dim();
        let relevance =
            weights::delta_mapper::load_relevance_matrix(&relevance_path, s_dim, base.delta_space.config.embed_dim, device)?;
        let direction = match method {
            Method::DeltaEdit | Method::Straightforward => {
                let file = if method == Method::DeltaEdit {
                    files.mapper
                } else {
                    files.straightforward_mapper.ok_or_else(|| {
                        Error::Invalid(format!("no straightforward baseline mapper exists for the {domain:?} domain"))
                    })?
                };
                let path = find(weights, file)?;
                let (mapper, subspaces) = load_mapper(&path, &base, device)?;
                base.paths.push(path);
                if method == Method::DeltaEdit {
                    DirectionModel::DeltaEdit { mapper, subspaces }
                } else {
                    DirectionModel::Straightforward { mapper, subspaces }
                }
            }
            Method::Global => DirectionModel::Global { s_std: s_std(&base.generator, base.domain.s_layers(), device) },
        };
        base.paths.push(relevance_path);
        Ok(GanModels { base, direction, relevance })
    }
}

/// Standard deviation of each S channel over `S_STD_SAMPLES` samples from z ([1, S dims]). The
/// samples are the same on every load, so a global edit gives the same image every time.
fn s_std(generator: &Generator, which: SLayers, device: &Device) -> Tensor<2> {
    let dim = generator.config.style_dim;
    let mut rng = Rng::new(0);
    let z: Vec<f32> = (0..S_STD_SAMPLES * dim).map(|_| rng.normal()).collect();
    let z = Tensor::<2>::from_data(TensorData::new(z, [S_STD_SAMPLES, dim]), device);
    let s = generator.s(generator.broadcast(generator.mapping(z)), which);
    s.var(0).sqrt()
}

/// Loads a Delta Mapper file (and the subspaces it has) whose layout must fit `base`'s generator
/// and CLIP.
pub fn load_mapper(path: &Path, base: &GanBase, device: &Device) -> Result<(DeltaMapper, MapperSubspaces)> {
    weights::delta_mapper::load_delta_mapper(path, &base.mapper_config()?, "", device)
}

/// A tiny random 64² generator (coarse/medium rows 4 wide, fine 6), a tiny encoder reading 64²
/// images and a tiny CLIP (8-d features): the whole GAN path in milliseconds, for tests.
#[cfg(test)]
pub(crate) fn tiny_base(device: &Device) -> GanBase {
    use std::collections::BTreeMap;

    use crate::models::clip::ClipConfig;
    use crate::models::e4e::{BackboneMode, E4eConfig};
    use crate::models::stylegan2::StyleGan2Config;

    let channels = BTreeMap::from([(4, 4), (8, 4), (16, 4), (32, 4), (64, 2)]);
    let generator = StyleGan2Config::new(64).with_style_dim(8).with_n_mlp(1).with_channels(Some(channels)).init(device).unwrap();
    let encoder = E4eConfig {
        mode: BackboneMode::Ir,
        stylegan_size: 64,
        input_size: 64,
        stage_units: Some([1; 4]),
        stage_channels: Some([4, 4, 8, 8]),
        ..E4eConfig::default()
    }
    .init(device)
    .unwrap();
    let clip_config = ClipConfig::tiny();
    let delta_space = DeltaSpace::new(clip_config.init(device), clip_config, Domain::Builtin, device).unwrap();
    GanBase { domain: Domain::Builtin, generator, encoder, delta_space, paths: vec![] }
}

/// [`tiny_base`] with a random direction model and relevance matrix.
#[cfg(test)]
pub(crate) fn tiny_models(method: Method, device: &Device) -> GanModels {
    let base = tiny_base(device);
    let mapper_config = base.mapper_config().unwrap();
    let direction = match method {
        Method::DeltaEdit => DirectionModel::DeltaEdit { mapper: mapper_config.init(device), subspaces: MapperSubspaces::default() },
        Method::Straightforward => DirectionModel::Straightforward { mapper: mapper_config.init(device), subspaces: MapperSubspaces::default() },
        Method::Global => DirectionModel::Global { s_std: s_std(&base.generator, base.domain.s_layers(), device) },
    };
    let s_dim = base.s_dim();
    let relevance = crate::models::clip::l2_normalize(Tensor::random([s_dim, 8], burn::tensor::Distribution::Normal(0.0, 1.0), device));
    GanModels { base, direction, relevance }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_spread_of_global_directions_is_the_same_on_every_load() {
        let device = Device::flex();
        let base = tiny_base(&device);
        let spread = || s_std(&base.generator, base.domain.s_layers(), &device).into_data().try_to_vec::<f32>().unwrap();
        let first = spread();
        assert_eq!(first, spread());
        assert!(first.iter().all(|&v| v.is_finite() && v > 0.0), "{first:?}");
    }
}
