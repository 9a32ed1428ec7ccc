//! The library's typed errors. Every variant names the file or input it is about, so the CLI and
//! the UI can show it as is.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// The file is not a checkpoint we can read (truncated, wrong format, TorchScript archive …).
    #[error("{}: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },

    /// The checkpoint is readable but one tensor is missing or has the wrong shape.
    #[error("{}: tensor `{key}`: {reason}", path.display())]
    CheckpointKey { path: PathBuf, key: String, reason: String },

    #[error("invalid model config: {0}")]
    Config(String),

    #[error("image {}: {reason}", path.display())]
    Image { path: PathBuf, reason: String },

    /// An input image we cannot use (undecodable, or over the size limits); `origin` is its path
    /// or where it came from ("clipboard image").
    #[error("{origin}: {problem}")]
    ImageInput { origin: String, problem: crate::engine::image_input::ImageProblem },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// A session recipe that cannot be used (malformed JSON, unknown format version).
    #[error("recipe: {0}")]
    Recipe(String),

    /// A readable PNG that carries no DeltaStudio recipe.
    #[error("{}: no DeltaStudio recipe in this PNG (it was not exported by DeltaStudio)", path.display())]
    NoRecipe { path: PathBuf },

    #[error("{0}")]
    Invalid(String),

    /// The user stopped a long computation.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Checkpoint { path: path.into(), reason: reason.into() }
    }
    pub fn checkpoint_key(path: impl Into<PathBuf>, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::CheckpointKey { path: path.into(), key: key.into(), reason: reason.into() }
    }
}
