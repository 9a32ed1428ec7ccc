//! StyleGAN2 (rosinality layout) and its style space S.
