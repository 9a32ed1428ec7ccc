//! Model files: where they are looked for, which official files are known, and how their keys map
//! onto our modules.
pub mod checkpoint;
pub mod clip;
pub mod delta_alignment;
pub mod delta_mapper;
pub mod e4e;
pub mod registry;
pub mod stylegan2;
pub mod writer;
