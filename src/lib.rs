//! DeltaStudio: text-guided image editing (DeltaEdit, BARET) on burn, with an egui editor.
//!
//! Dependencies point one way: `app` → `engine` → `models`, `weights`; `train` → `engine` (the
//! mapper learns from DeltaSpace features of inverted images), `models`, `world`.
//! `models` know nothing of files, the UI or pipelines.
pub mod app;
pub mod device;
pub mod engine;
pub mod error;
pub mod models;
pub mod parity;
pub mod train;
pub mod weights;
pub mod world;

pub use error::{Error, Result};
