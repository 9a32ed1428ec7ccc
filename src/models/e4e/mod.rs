//! e4e: Encoder4Editing (IR-SE backbone, GradualStyleBlocks).
