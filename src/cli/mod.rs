//! One module per subcommand. Errors become context-rich messages here, at the edge.
pub mod clip;
pub mod edit;
pub mod eval;
pub mod models;
pub mod train;
pub mod train_alignment;
pub mod train_clip;
pub mod train_gan;
pub mod train_mapper;
pub mod train_relevance;
pub mod world;

use std::path::Path;

use anyhow::Context;

/// The command line as a reproducible command (`deltastudio …`, whatever the binary's path).
pub fn command_line() -> String {
    std::iter::once("deltastudio".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ")
}

/// Writes `manifest` as pretty JSON to `path`.
pub fn write_manifest(path: &Path, manifest: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(manifest).expect("JSON value");
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
