//! The built-in domain: procedural portraits, captions, part masks and the attribute judge.
//!
//! Nothing here needs a download: the renderer draws portraits from a seed and a set of
//! [`Attributes`], the caption grammar describes them, and the [`judge::Judge`] (a small CNN whose
//! weights ship in `weights/builtin/`) tells which attributes an image shows.
pub mod captions;
pub mod dataset;
pub mod factors;
pub mod judge;
pub mod render;
pub mod rng;

pub use factors::{Attributes, Factor, sample_attributes};
pub use render::{Part, PartMask, Portrait, affected_parts, render};

/// `n` images side by side in a grid of `columns`, with a `gap`-pixel white border.
pub fn contact_sheet(images: &[image::RgbImage], columns: usize, gap: u32) -> image::RgbImage {
    let size = images.first().map_or(0, |i| i.width());
    let rows = images.len().div_ceil(columns.max(1)) as u32;
    let cols = columns.min(images.len()).max(1) as u32;
    let mut sheet = image::RgbImage::from_pixel(cols * (size + gap) + gap, rows * (size + gap) + gap, image::Rgb([255, 255, 255]));
    for (i, img) in images.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        image::imageops::overlay(&mut sheet, img, (gap + c * (size + gap)) as i64, (gap + r * (size + gap)) as i64);
    }
    sheet
}
