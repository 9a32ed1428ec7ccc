//! Pipelines, independent of any UI: the same code serves `deltastudio edit`, `deltastudio eval`
//! and the editor.
pub mod delta_space;
pub mod models;
pub mod gan;
pub mod session;
pub mod composite;
pub mod recipe;
pub mod export;
pub mod benchmark;
pub mod image_input;
pub mod align;
