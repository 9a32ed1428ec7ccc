//! Samples of the domain for training and evaluation, the degradations the judge must survive,
//! and the on-disk dataset (PNG + JSON Lines) for external tools.
use std::io::Write;
use std::path::Path;

use image::RgbImage;
use serde::Serialize;

use super::captions::{TemplateSet, caption};
use super::factors::{Attributes, sample_attributes};
use super::render::{PartMask, render};
use super::rng::{Rng, mix};
use crate::{Error, Result};

/// Seeds at or above this are held out: no training run draws them.
pub const HELD_OUT_SEED_BASE: u64 = 1 << 40;

/// The `index`-th training seed of a run seeded with `run_seed` (always below the held-out base).
pub fn training_seed(run_seed: u64, index: u64) -> u64 {
    mix(mix(run_seed) ^ index) % HELD_OUT_SEED_BASE
}

/// The `index`-th held-out seed.
pub fn held_out_seed(index: u64) -> u64 {
    HELD_OUT_SEED_BASE + index
}

/// One labelled image.
#[derive(Clone, Debug)]
pub struct Sample {
    pub seed: u64,
    pub attributes: Attributes,
    pub image: RgbImage,
}

/// The portrait of `seed` with its sampled attributes at `size`. With `supersample`, it is
/// rendered at twice the size and downscaled, like a display-size render handed to a 64² model.
pub fn sample(seed: u64, size: u32, supersample: bool) -> Sample {
    sample_with_mask(seed, size, supersample).0
}

/// [`sample`] and the part mask of its render (at twice `size` when supersampled).
pub fn sample_with_mask(seed: u64, size: u32, supersample: bool) -> (Sample, PartMask) {
    let attributes = sample_attributes(seed);
    let (image, mask) = render_sampled(seed, &attributes, size, supersample);
    (Sample { seed, attributes, image }, mask)
}

/// The portrait of `seed` with `attributes` rendered as [`sample`] renders it, and its part mask
/// (at twice `size` when supersampled).
pub fn render_sampled(seed: u64, attributes: &Attributes, size: u32, supersample: bool) -> (RgbImage, PartMask) {
    if supersample {
        let big = render(seed, attributes, size * 2);
        (image::imageops::resize(&big.image, size, size, image::imageops::FilterType::Triangle), big.mask)
    } else {
        let portrait = render(seed, attributes, size);
        (portrait.image, portrait.mask)
    }
}

/// The image degradations of training and of the degraded evaluation: blur, noise, colour
/// jitter and JPEG at a random quality, each applied with some probability.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Degradations {
    pub blur_sigma: (f32, f32),
    pub noise_sigma: (f32, f32),
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub jpeg_quality: (u8, u8),
    /// The chance of each degradation.
    pub p: f32,
}

impl Default for Degradations {
    fn default() -> Self {
        Degradations {
            blur_sigma: (0.3, 1.1),
            noise_sigma: (2.0, 10.0),
            brightness: 0.08,
            contrast: 0.10,
            saturation: 0.12,
            jpeg_quality: (20, 85),
            p: 0.6,
        }
    }
}

impl Degradations {
    /// A degraded copy of `image`; which degradations and how strong is drawn from `rng`.
    pub fn apply(&self, image: &RgbImage, rng: &mut Rng) -> RgbImage {
        let mut img = image.clone();
        if rng.chance(self.p) {
            img = blur(&img, rng.range(self.blur_sigma.0, self.blur_sigma.1));
        }
        if rng.chance(self.p) {
            let b = 1.0 + rng.range(-self.brightness, self.brightness);
            let c = 1.0 + rng.range(-self.contrast, self.contrast);
            let s = 1.0 + rng.range(-self.saturation, self.saturation);
            colour_jitter(&mut img, b, c, s);
        }
        if rng.chance(self.p) {
            let sigma = rng.range(self.noise_sigma.0, self.noise_sigma.1);
            for px in img.pixels_mut() {
                for v in px.0.iter_mut() {
                    *v = (*v as f32 + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        if rng.chance(self.p) {
            let q = self.jpeg_quality.0 + rng.below((self.jpeg_quality.1 - self.jpeg_quality.0) as usize + 1) as u8;
            img = jpeg(&img, q);
        }
        img
    }
}

/// Separable Gaussian blur (edges clamped).
pub fn blur(image: &RgbImage, sigma: f32) -> RgbImage {
    let radius = (sigma * 2.5).ceil() as i32;
    let weights: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = weights.iter().sum();
    let (w, h) = image.dimensions();
    let pass = |src: &RgbImage, horizontal: bool| {
        RgbImage::from_fn(w, h, |x, y| {
            let mut acc = [0f32; 3];
            for (k, wt) in weights.iter().enumerate() {
                let d = k as i32 - radius;
                let (sx, sy) = if horizontal {
                    ((x as i32 + d).clamp(0, w as i32 - 1) as u32, y)
                } else {
                    (x, (y as i32 + d).clamp(0, h as i32 - 1) as u32)
                };
                let p = src.get_pixel(sx, sy).0;
                for c in 0..3 {
                    acc[c] += wt * p[c] as f32;
                }
            }
            image::Rgb(acc.map(|v| (v / total).round().clamp(0.0, 255.0) as u8))
        })
    };
    pass(&pass(image, true), false)
}

/// Brightness and contrast (around mid-grey) gains, and saturation around each pixel's luma.
pub fn colour_jitter(image: &mut RgbImage, brightness: f32, contrast: f32, saturation: f32) {
    for px in image.pixels_mut() {
        let [r, g, b] = px.0.map(|v| v as f32);
        let luma = 0.299 * r + 0.587 * g + 0.114 * b;
        px.0 = [r, g, b].map(|v| {
            let v = luma + (v - luma) * saturation;
            let v = (v - 128.0) * contrast + 128.0;
            (v * brightness).round().clamp(0.0, 255.0) as u8
        });
    }
}

/// A JPEG round trip at `quality` (1–100).
pub fn jpeg(image: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .expect("JPEG encoding into memory cannot fail");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("our own JPEG decodes").to_rgb8()
}

/// One line of a dataset's `index.jsonl`.
#[derive(Serialize)]
struct Record<'a> {
    image: String,
    mask: String,
    seed: u64,
    attributes: &'a Attributes,
    captions: Vec<String>,
    held_out_captions: Vec<String>,
}

/// Writes `n` portraits of `size` to `dir`: `NNNNNN.png`, `NNNNNN_mask.png` (part labels 0–9 as
/// grey levels) and `index.jsonl` (attributes, three training captions and one held-out-template
/// caption per image). Seeds are `first_seed..first_seed + n`. Calls `progress` per image.
pub fn write_dataset(dir: &Path, n: u64, size: u32, first_seed: u64, mut progress: impl FnMut()) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let index_path = dir.join("index.jsonl");
    let file = std::fs::File::create(&index_path).map_err(|e| Error::io(&index_path, e))?;
    let mut index = std::io::BufWriter::new(file);
    for i in 0..n {
        let seed = first_seed + i;
        let attributes = sample_attributes(seed);
        let portrait = render(seed, &attributes, size);
        let image = format!("{i:06}.png");
        let mask = format!("{i:06}_mask.png");
        let save_err = |p: &Path, e: image::ImageError| Error::Image { path: p.to_path_buf(), reason: e.to_string() };
        portrait.image.save(dir.join(&image)).map_err(|e| save_err(&dir.join(&image), e))?;
        portrait.mask.to_label_image().save(dir.join(&mask)).map_err(|e| save_err(&dir.join(&mask), e))?;
        let record = Record {
            image,
            mask,
            seed,
            attributes: &attributes,
            captions: (0..3).map(|k| caption(&attributes, mix(seed) ^ k, TemplateSet::Train)).collect(),
            held_out_captions: vec![caption(&attributes, mix(seed), TemplateSet::HeldOut)],
        };
        let line = serde_json::to_string(&record).map_err(|e| Error::Invalid(e.to_string()))?;
        writeln!(index, "{line}").map_err(|e| Error::io(&index_path, e))?;
        progress();
    }
    index.flush().map_err(|e| Error::io(&index_path, e))
}
