//! Networks only, each in its paper's words and driven by a config.
pub mod clip;
pub mod delta_mapper;
pub mod e4e;
pub mod stylegan2;
