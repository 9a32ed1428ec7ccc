//! `deltastudio models`: every model file the app knows, where it looked, and what it found.
use std::path::Path;

use burn::prelude::Device;
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::models::{GanBase, find, load_mapper};
use deltastudio::models::delta_mapper::DeltaMapperConfig;
use deltastudio::weights;
use deltastudio::weights::registry::{self, FileKind, KnownFile, WeightsPath};
use deltastudio::world::judge::Judge;

#[derive(clap::Args)]
pub struct Args {
    /// Skip hashing the files that are found (hashing multi-GB checkpoints takes a while).
    #[arg(long)]
    no_hash: bool,
    /// Also load every file found with its model's loader (on the CPU), to verify keys and shapes.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args, weights: &WeightsPath) -> anyhow::Result<()> {
    println!("Search order:");
    for (i, (origin, dir)) in weights.dirs.iter().enumerate() {
        let exists = if dir.is_dir() { "" } else { "  (does not exist)" };
        println!("  {}. {:<22} {}{exists}", i + 1, origin.to_string(), dir.display());
    }
    println!();
    for status in registry::status(weights, !args.no_hash)? {
        let k = &status.known;
        let kind = if k.builtin { "built-in" } else { "official" };
        match &status.found {
            Some(path) => {
                println!("[found]   {} ({kind})", k.file);
                println!("          {}", k.purpose);
                println!("          at {}", path.display());
                if let Some(hash) = &status.sha256 {
                    let check = match status.verified() {
                        Some(true) => " (matches the canonical file)",
                        Some(false) => " (WARNING: differs from the canonical file; it still loads if its keys and shapes fit)",
                        None => "",
                    };
                    println!("          sha256 {hash}{check}");
                }
                if args.check {
                    match check_loads(k, path, weights, &Device::flex()) {
                        Ok(summary) => println!("          loads: {summary}"),
                        Err(e) => println!("          DOES NOT LOAD: {e}"),
                    }
                }
            }
            None => {
                println!("[missing] {} ({kind})", k.file);
                println!("          {}", k.purpose);
                println!("          get it from: {}", k.source);
                if let Some(sha) = k.sha256 {
                    println!("          expected sha256 {sha}");
                }
            }
        }
    }
    Ok(())
}

/// Loads `path` with the loader of its kind (on `device`) and describes what it holds; the error
/// names the first tensor that does not fit.
fn check_loads(known: &KnownFile, path: &Path, search: &WeightsPath, device: &Device) -> deltastudio::Result<String> {
    Ok(match known.kind {
        FileKind::Clip => {
            let (_, config) = weights::clip::load_clip(path, None, device)?;
            format!(
                "CLIP: {} px images, {}-d embeddings, {} vision / {} text layers",
                config.vision.image_size, config.embed_dim, config.vision.transformer.layers, config.text.transformer.layers
            )
        }
        FileKind::StyleGan2 => {
            let loaded = weights::stylegan2::load(path, None, None, device)?;
            let config = &loaded.generator.config;
            let space = loaded.generator.style_space();
            format!("StyleGAN2 {}², {} latents, S = {} conv + {} ToRGB dims", config.size, config.n_latent(), space.conv_dim(), space.rgb_dim())
        }
        FileKind::E4e if weights::e4e::has_decoder(path)? => {
            let model = weights::e4e::load(path, None, device)?;
            format!("e4e encoder + StyleGAN2 {}² generator", model.decoder.config.size)
        }
        FileKind::E4e => {
            let encoder = weights::e4e::load_encoder(path, None, device)?;
            format!("e4e encoder, {}² input, {} w+ rows", encoder.input_size, encoder.n_styles())
        }
        // Built-in mappers and relevance matrices take their layout from the built-in generator
        // and CLIP.
        FileKind::DeltaMapper if known.builtin => {
            let base = GanBase::load(search, Domain::Builtin, device)?;
            let (_, subspaces) = load_mapper(path, &base, device)?;
            let config = base.mapper_config()?;
            let delta = subspaces.delta.map(|s| format!(", text deltas projected onto {} directions", s.dims()[0]));
            let edit = subspaces.edit.map(|s| format!(", Δs projected onto {} directions", s.dims()[0]));
            let projection = delta.unwrap_or_default() + &edit.unwrap_or_default();
            format!("Delta Mapper for S = {} dims and {}-d conditions{projection}", config.s_dim(), config.cond_dim)
        }
        FileKind::RelevanceMatrix if known.builtin => {
            let base = GanBase::load(search, Domain::Builtin, device)?;
            let s_dim = base.s_dim();
            let matrix = weights::delta_mapper::load_relevance_matrix(path, s_dim, base.delta_space.config.embed_dim, device)?;
            format!("relevance matrix {:?}", matrix.dims())
        }
        FileKind::DeltaAlignment => {
            let (_, config) = weights::clip::load_clip(&find(search, registry::BUILTIN_CLIP_FILE)?, None, device)?;
            let alignment = weights::delta_alignment::load_delta_alignment(path, config.embed_dim, device)?;
            format!("delta alignment {0}×{0}", alignment.width())
        }
        FileKind::DeltaMapper => {
            weights::delta_mapper::load_delta_mapper(path, &DeltaMapperConfig::default(), "", device)?;
            "Delta Mapper, official 1024² layout".to_string()
        }
        FileKind::RelevanceMatrix => {
            let matrix = weights::delta_mapper::load_relevance_matrix(path, FFHQ_S_DIM, CLIP_DIM, device)?;
            format!("relevance matrix {:?}", matrix.dims())
        }
        FileKind::Judge => {
            Judge::load(path, device)?;
            "attribute judge".to_string()
        }
    })
}

/// S-space size of the FFHQ 1024² generator and CLIP ViT-B/32's embedding size: the shape fs3.npy
/// must have.
const FFHQ_S_DIM: usize = 6048;
const CLIP_DIM: usize = 512;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use deltastudio::weights::registry::KNOWN_FILES;

    fn known(file: &str) -> &'static KnownFile {
        KNOWN_FILES.iter().find(|k| k.file == file).expect("known file")
    }

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity").join(path)
    }

    #[test]
    fn check_loads_describes_a_generator_that_fits() {
        let summary = check_loads(known("stylegan2-ffhq-config-f.pt"), &fixture("stylegan2_zip_32/generator.pt"), &WeightsPath::new(None), &Device::flex())
            .expect("the fixture generator loads");
        assert!(summary.starts_with("StyleGAN2 32²"), "{summary}");
    }

    #[test]
    fn check_loads_names_the_first_tensor_that_does_not_fit() {
        // A reduced Delta Mapper is not the official 1024² layout that net_face.pth must have.
        let err = check_loads(known("net_face.pth"), &fixture("delta_mapper_small/net.pth"), &WeightsPath::new(None), &Device::flex())
            .expect_err("a reduced mapper is not the official layout");
        let message = err.to_string();
        assert!(message.contains("net.pth") && message.contains("tensor `"), "{message}");
    }
}
