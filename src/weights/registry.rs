//! The model files DeltaStudio knows, and where it looks for them.
//!
//! Search order (first hit wins): `--weights DIR`, `$DELTASTUDIO_WEIGHTS`, the platform data
//! directory (e.g. `~/.local/share/deltastudio/weights`), the repository's `weights/`.
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One file a model can be loaded from.
#[derive(Debug, Clone, Copy)]
pub struct KnownFile {
    /// Path relative to a weights directory.
    pub file: &'static str,
    /// Which model it is and what it is for.
    pub purpose: &'static str,
    /// Where users get it.
    pub source: &'static str,
    /// The canonical file's sha256, where known. Another hash still loads (with a warning) if its
    /// keys and shapes fit.
    pub sha256: Option<&'static str>,
    pub size: Option<u64>,
    /// Built-in weights ship with DeltaStudio; official ones are downloaded by the user.
    pub builtin: bool,
    pub kind: FileKind,
}

/// Which loader reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Clip,
    StyleGan2,
    E4e,
    DeltaMapper,
    RelevanceMatrix,
    DeltaAlignment,
    Judge,
}

/// The built-in attribute judge, relative to a weights directory.
pub const JUDGE_FILE: &str = "builtin/judge.safetensors";
/// The built-in domain's models (64² portraits), each in its official counterpart's key layout so
/// that one loader reads both; their manifests (`*.json` beside them) record how they were made.
pub const BUILTIN_CLIP_FILE: &str = "builtin/clip.safetensors";
pub const BUILTIN_GENERATOR_FILE: &str = "builtin/stylegan2.safetensors";
pub const BUILTIN_ENCODER_FILE: &str = "builtin/e4e.safetensors";
pub const BUILTIN_MAPPER_FILE: &str = "builtin/delta_mapper.safetensors";
pub const BUILTIN_STRAIGHTFORWARD_MAPPER_FILE: &str = "builtin/delta_mapper_straightforward.safetensors";
pub const BUILTIN_RELEVANCE_FILE: &str = "builtin/relevance.npy";
pub const BUILTIN_DELTA_ALIGNMENT_FILE: &str = "builtin/delta_alignment.safetensors";

pub const KNOWN_FILES: &[KnownFile] = &[
    KnownFile {
        file: JUDGE_FILE,
        purpose: "attribute judge of the built-in domain: the referee of edit quality",
        source: "ships with DeltaStudio; reproduce with the command in weights/builtin/judge.json",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::Judge,
    },
    KnownFile {
        file: BUILTIN_CLIP_FILE,
        purpose: "CLIP of the built-in domain (open_clip layout): text and image features for DeltaEdit",
        source: "ships with DeltaStudio; reproduce with `deltastudio train clip` (weights/builtin/clip.json)",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::Clip,
    },
    KnownFile {
        file: BUILTIN_GENERATOR_FILE,
        purpose: "StyleGAN2 generator of the built-in domain (rosinality layout, 64²)",
        source: "ships with DeltaStudio; reproduce with `deltastudio train gan` (weights/builtin/stylegan2.json)",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::StyleGan2,
    },
    KnownFile {
        file: BUILTIN_ENCODER_FILE,
        purpose: "e4e-style encoder of the built-in domain: inverts portraits into w+",
        source: "ships with DeltaStudio; reproduce with `deltastudio train gan` (weights/builtin/stylegan2.json)",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::E4e,
    },
    KnownFile {
        file: BUILTIN_MAPPER_FILE,
        purpose: "Delta Mapper of the built-in domain (net_face.pth layout)",
        source: "ships with DeltaStudio; reproduce with `deltastudio train mapper` (weights/builtin/delta_mapper.json)",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::DeltaMapper,
    },
    KnownFile {
        file: BUILTIN_STRAIGHTFORWARD_MAPPER_FILE,
        purpose: "baseline: the paper's straightforward mapper (trained on target image features)",
        source: "ships with DeltaStudio; reproduce with `deltastudio train mapper --straightforward`",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::DeltaMapper,
    },
    KnownFile {
        file: BUILTIN_RELEVANCE_FILE,
        purpose: "relevance matrix of the built-in domain (fs3.npy orientation) for the β threshold",
        source: "ships with DeltaStudio; reproduce with `deltastudio train relevance` (weights/builtin/relevance.json)",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::RelevanceMatrix,
    },
    KnownFile {
        file: BUILTIN_DELTA_ALIGNMENT_FILE,
        purpose: "delta alignment of the built-in CLIP: carries text deltas to where image deltas point",
        source: "ships with DeltaStudio; reproduce with `deltastudio train alignment` (weights/builtin/delta_alignment.json)",
        sha256: None,
        size: None,
        builtin: true,
        kind: FileKind::DeltaAlignment,
    },
    KnownFile {
        file: "ViT-B-32.safetensors",
        purpose: "CLIP ViT-B/32 (OpenAI weights, open_clip state-dict names): text and image features for DeltaEdit",
        source: "open_clip: hf-hub timm/vit_base_patch32_clip_224.openai (open_clip_model.safetensors), renamed; \
                 or convert OpenAI's ViT-B-32.pt (see weights/README.md)",
        sha256: None,
        size: None,
        builtin: false,
        kind: FileKind::Clip,
    },
    KnownFile {
        file: "clip-vit-base-patch32/model.safetensors",
        purpose: "CLIP ViT-B/32 in the transformers CLIPModel layout (alternative to ViT-B-32.safetensors)",
        source: "https://huggingface.co/openai/clip-vit-base-patch32 (model.safetensors + config.json)",
        sha256: None,
        size: None,
        builtin: false,
        kind: FileKind::Clip,
    },
    KnownFile {
        file: "stylegan2-ffhq-config-f.pt",
        purpose: "StyleGAN2 FFHQ 1024² generator (rosinality layout): the GAN path's synthesis",
        source: "rosinality/stylegan2-pytorch README (converted official FFHQ config-f)",
        sha256: Some("bae494ef77e32a9cd1792a81a3c167692a0e64f6bcd8b06592ff42917e2ed46e"),
        size: Some(381_462_551),
        builtin: false,
        kind: FileKind::StyleGan2,
    },
    KnownFile {
        file: "e4e_ffhq_encode.pt",
        purpose: "e4e encoder for FFHQ: inverts real face photos into w+",
        source: "omertov/encoder4editing README (e4e_ffhq_encode.pt)",
        sha256: Some("2ace1d9a8c05c10a399bcd500b8dda118f759ff1aac89dbdab7435f2136a0999"),
        size: Some(1_201_649_680),
        builtin: false,
        kind: FileKind::E4e,
    },
    KnownFile {
        file: "net_face.pth",
        purpose: "DeltaEdit Delta Mapper for faces: turns the CLIP delta into an S-space direction",
        source: "Yueming6568/DeltaEdit README (pretrained models: net_face.pth)",
        sha256: None,
        size: None,
        builtin: false,
        kind: FileKind::DeltaMapper,
    },
    KnownFile {
        file: "fs3.npy",
        purpose: "DeltaEdit relevance matrix (6048×512) for the β threshold",
        source: "Yueming6568/DeltaEdit (models/stylegan2/npy_ffhq/fs3.npy, from StyleCLIP global directions)",
        sha256: None,
        size: None,
        builtin: false,
        kind: FileKind::RelevanceMatrix,
    },
];

/// Where a weights directory came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchOrigin {
    Flag,
    /// The editor's settings (a folder chosen on the models screen).
    Settings,
    Env,
    DataDir,
    Repo,
}

impl std::fmt::Display for SearchOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SearchOrigin::Flag => "--weights",
            SearchOrigin::Settings => "editor settings",
            SearchOrigin::Env => "$DELTASTUDIO_WEIGHTS",
            SearchOrigin::DataDir => "data dir",
            SearchOrigin::Repo => "repo weights/",
        })
    }
}

/// The directories searched for model files, in order.
#[derive(Debug, Clone)]
pub struct WeightsPath {
    pub dirs: Vec<(SearchOrigin, PathBuf)>,
}

impl WeightsPath {
    /// The documented search order; `flag` is the `--weights` value.
    pub fn new(flag: Option<&Path>) -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = flag {
            dirs.push((SearchOrigin::Flag, dir.to_path_buf()));
        }
        if let Some(dir) = std::env::var_os("DELTASTUDIO_WEIGHTS").filter(|v| !v.is_empty()) {
            dirs.push((SearchOrigin::Env, PathBuf::from(dir)));
        }
        if let Some(project) = directories::ProjectDirs::from("", "", "deltastudio") {
            dirs.push((SearchOrigin::DataDir, project.data_dir().join("weights")));
        }
        dirs.push((SearchOrigin::Repo, Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")));
        WeightsPath { dirs }
    }

    /// The first existing `file` along the search order.
    pub fn find(&self, file: &str) -> Option<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.join(file)).find(|p| p.is_file())
    }
}

/// What `deltastudio models` reports for one known file.
#[derive(Debug, Clone)]
pub struct FileStatus {
    pub known: KnownFile,
    pub found: Option<PathBuf>,
    pub sha256: Option<String>,
}

impl FileStatus {
    /// `Some(true)` when the hash is the canonical one, `Some(false)` when it differs.
    pub fn verified(&self) -> Option<bool> {
        Some(self.sha256.as_deref()? == self.known.sha256?)
    }
}

/// Looks up every known file; hashes the ones found when `hash` is set.
pub fn status(path: &WeightsPath, hash: bool) -> crate::Result<Vec<FileStatus>> {
    KNOWN_FILES
        .iter()
        .map(|known| {
            let found = path.find(known.file);
            let sha256 = match (&found, hash) {
                (Some(p), true) => Some(sha256_file(p)?),
                _ => None,
            };
            Ok(FileStatus { known: *known, found, sha256 })
        })
        .collect()
}

pub fn sha256_file(path: &Path) -> crate::Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| crate::Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| crate::Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_puts_the_flag_first_and_the_repo_last() {
        let path = WeightsPath::new(Some(Path::new("/nonexistent/flag-dir")));
        assert_eq!(path.dirs.first().map(|d| d.0.clone()), Some(SearchOrigin::Flag));
        assert_eq!(path.dirs.last().map(|d| d.0.clone()), Some(SearchOrigin::Repo));
        assert_eq!(path.find("no-such-file.bin"), None);
    }
}
