//! One module per subcommand. Errors become context-rich messages here, at the edge.
pub mod clip;
pub mod edit;
pub mod eval;
pub mod models;
pub mod train;
pub mod train_clip;
pub mod train_gan;
pub mod train_mapper;
pub mod train_relevance;
pub mod world;
