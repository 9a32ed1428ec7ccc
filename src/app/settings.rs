//! Settings that persist between runs, as JSON in the platform's config directory.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::DevicePreference;
use crate::engine::delta_space::Domain;
use crate::engine::session::InversionSteps;

/// How many recent files the File menu keeps.
const RECENT_LIMIT: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Takes effect at the next start: models are bound to the device they were loaded on.
    pub device: DevicePreference,
    /// Searched before the standard weights folders.
    pub weights_dir: Option<PathBuf>,
    pub domain: Domain,
    pub last_open_dir: Option<PathBuf>,
    pub last_export_dir: Option<PathBuf>,
    pub recent_files: Vec<PathBuf>,
    pub compare: CompareMode,
    /// Per-image latent refinement and pivotal tuning steps after the encoder (none: encoder only).
    #[serde(flatten)]
    pub inversion: InversionSteps,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            device: DevicePreference::Auto,
            weights_dir: None,
            domain: Domain::Builtin,
            last_open_dir: None,
            last_export_dir: None,
            recent_files: Vec::new(),
            compare: CompareMode::SideBySide,
            inversion: InversionSteps::default(),
        }
    }
}

/// How the canvas shows the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum CompareMode {
    /// Every result slot in a row: input | reconstruction | edit.
    SideBySide,
    /// One view, a draggable divider between before and after.
    Split,
    /// Per-pixel difference between before and after as a heatmap.
    Difference,
}

impl CompareMode {
    pub const ALL: [CompareMode; 3] = [CompareMode::SideBySide, CompareMode::Split, CompareMode::Difference];

    pub fn label(self) -> &'static str {
        match self {
            CompareMode::SideBySide => "Side by side",
            CompareMode::Split => "Split",
            CompareMode::Difference => "Difference",
        }
    }
}

impl Settings {
    /// The settings file, or `None` when the platform has no config directory.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "deltastudio").map(|d| d.config_dir().join("settings.json"))
    }

    /// Reads `path`; a missing or unreadable file gives the defaults (with a warning for the latter).
    pub fn load(path: &Path) -> Settings {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                log::warn!("ignoring unreadable settings {}: {e}", path.display());
                Settings::default()
            }),
            Err(_) => Settings::default(),
        }
    }

    /// Writes atomically, so a crash never leaves half a settings file.
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
        }
        crate::engine::export::write_atomic(path, |out| {
            serde_json::to_writer_pretty(out, self).map_err(|e| crate::Error::Invalid(format!("settings: {e}")))
        })
    }

    pub fn add_recent(&mut self, file: &Path) {
        self.recent_files.retain(|f| f != file);
        self.recent_files.insert(0, file.to_path_buf());
        self.recent_files.truncate(RECENT_LIMIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_tolerate_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/settings.json");
        assert_eq!(Settings::load(&path), Settings::default());

        let mut settings = Settings { compare: CompareMode::Difference, inversion: InversionSteps { refine_steps: 20, tune_steps: 30 }, ..Settings::default() };
        for i in 0..12 {
            settings.add_recent(Path::new(&format!("/photos/{i}.png")));
        }
        settings.add_recent(Path::new("/photos/5.png"));
        assert_eq!(settings.recent_files.len(), RECENT_LIMIT);
        assert_eq!(settings.recent_files[0], Path::new("/photos/5.png"));
        settings.save(&path).unwrap();
        assert_eq!(Settings::load(&path), settings);

        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
        // Unknown or missing fields keep the rest.
        std::fs::write(&path, r#"{"refine_steps": 7, "from_the_future": 1}"#).unwrap();
        assert_eq!(Settings::load(&path).inversion, InversionSteps { refine_steps: 7, tune_steps: 0 });
    }
}
