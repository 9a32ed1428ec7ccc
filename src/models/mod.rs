//! Networks only, each in its paper's words and driven by a config.
pub mod clip;
pub mod delta_alignment;
pub mod delta_mapper;
pub mod e4e;
pub mod layers;
pub mod stylegan2;
