//! Keeping the input's own pixels where an edit does not change the synthesis.
//!
//! An inversion never reproduces its image exactly (the built-in encoder blurs small parts; e4e
//! trades detail for editability), so showing the edited synthesis everywhere also loses what the
//! edit never meant to touch. The edit's region is where the edited synthesis differs from the
//! unedited one (the reconstruction): there the edited synthesis is shown, elsewhere the input,
//! with a soft mask in between. At strength 0 the result is the input itself.
use std::borrow::Cow;

use image::{ImageBuffer, Luma, RgbImage};

/// A soft mask in [0, 1], one value per pixel.
pub type Mask = ImageBuffer<Luma<f32>, Vec<f32>>;

/// Where an edit counts as changing the picture.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompositeOptions {
    /// Largest per-channel change (fraction of full scale) still taken as no change.
    pub below: f32,
    /// Change (fraction of full scale) from which the edited synthesis is shown alone.
    pub above: f32,
    /// Blur of the change map before thresholding, as a fraction of the image side: closes holes
    /// in flat parts of an edited region and softens the seam.
    pub blur: f32,
}

impl Default for CompositeOptions {
    fn default() -> Self {
        CompositeOptions { below: 0.03, above: 0.10, blur: 0.02 }
    }
}

/// The side the change map is measured at, at most: the mask is smooth, so a 1024² synthesis
/// need not be blurred at full size on every slider step.
const MASK_SIDE: u32 = 128;

/// The mask of pixels `edited` changes relative to `reconstruction` (same size), at their size
/// or, for a synthesis larger than [`MASK_SIDE`], at that side.
pub fn edit_mask(edited: &RgbImage, reconstruction: &RgbImage, options: &CompositeOptions) -> Mask {
    assert_eq!(edited.dimensions(), reconstruction.dimensions(), "the edit and its reconstruction come from one generator");
    let (width, height) = edited.dimensions();
    let scale = (MASK_SIDE as f32 / width.max(height) as f32).min(1.0);
    let (small_width, small_height) = (((width as f32 * scale).round() as u32).max(1), ((height as f32 * scale).round() as u32).max(1));
    let (a, b) = (resized(edited, small_width, small_height), resized(reconstruction, small_width, small_height));
    let change: Mask = ImageBuffer::from_fn(small_width, small_height, |x, y| {
        let (a, b) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
        let largest = (0..3).map(|c| (a[c] as f32 - b[c] as f32).abs()).fold(0.0, f32::max);
        Luma([largest / 255.0])
    });
    let sigma = options.blur * small_width.max(small_height) as f32;
    let change = if sigma > 0.0 { image::imageops::blur(&change, sigma) } else { change };
    let span = (options.above - options.below).max(f32::EPSILON);
    ImageBuffer::from_fn(small_width, small_height, |x, y| {
        let t = ((change.get_pixel(x, y).0[0] - options.below) / span).clamp(0.0, 1.0);
        Luma([t * t * (3.0 - 2.0 * t)])
    })
}

/// `image` at `width`×`height`, borrowed when it already is.
fn resized<P: image::Pixel + 'static>(image: &ImageBuffer<P, Vec<P::Subpixel>>, width: u32, height: u32) -> Cow<'_, ImageBuffer<P, Vec<P::Subpixel>>> {
    if image.dimensions() == (width, height) {
        Cow::Borrowed(image)
    } else {
        Cow::Owned(image::imageops::resize(image, width, height, image::imageops::FilterType::Triangle))
    }
}

/// `input` where the edit changes nothing, `edited` where it does, at the input's size: a
/// synthesis smaller than the input is upscaled with its mask, so untouched parts keep the
/// input's full resolution.
pub fn keep_unedited(input: &RgbImage, edited: &RgbImage, reconstruction: &RgbImage, options: &CompositeOptions) -> RgbImage {
    let mask = edit_mask(edited, reconstruction, options);
    let (width, height) = input.dimensions();
    let (edited, mask) = (resized(edited, width, height), resized(&mask, width, height));
    RgbImage::from_fn(width, height, |x, y| {
        let m = mask.get_pixel(x, y).0[0];
        let (a, b) = (input.get_pixel(x, y).0, edited.get_pixel(x, y).0);
        image::Rgb(std::array::from_fn(|c| (a[c] as f32 * (1.0 - m) + b[c] as f32 * m).round() as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(size: u32, value: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(size, size, image::Rgb(value))
    }

    #[test]
    fn unchanged_synthesis_gives_the_input_and_a_changed_square_the_edit() {
        let input = flat(32, [200, 10, 10]);
        let reconstruction = flat(32, [180, 30, 30]);
        let options = CompositeOptions::default();
        assert_eq!(keep_unedited(&input, &reconstruction, &reconstruction, &options), input, "no edit: the input itself");

        let mut edited = reconstruction.clone();
        for y in 8..24 {
            for x in 8..24 {
                edited.put_pixel(x, y, image::Rgb([0, 0, 255]));
            }
        }
        let out = keep_unedited(&input, &edited, &reconstruction, &options);
        assert_eq!(out.get_pixel(16, 16).0, [0, 0, 255], "inside the edit: the edited synthesis");
        assert_eq!(out.get_pixel(1, 1).0, [200, 10, 10], "far outside: the input");
        let seam = out.get_pixel(7, 16).0;
        assert!(seam != [0, 0, 255] && seam != [200, 10, 10], "a soft seam: {seam:?}");
    }

    #[test]
    fn small_drift_stays_below_the_threshold() {
        let reconstruction = flat(16, [100, 100, 100]);
        let drifted = flat(16, [104, 98, 100]);
        let mask = edit_mask(&drifted, &reconstruction, &CompositeOptions::default());
        assert!(mask.pixels().all(|p| p.0[0] == 0.0), "a 1.6 % drift is no edit");
    }

    #[test]
    fn a_large_synthesis_is_measured_small_and_blended_at_full_size() {
        let reconstruction = flat(512, [100, 100, 100]);
        let mut edited = reconstruction.clone();
        for y in 256..512 {
            for x in 256..512 {
                edited.put_pixel(x, y, image::Rgb([200, 100, 100]));
            }
        }
        let mask = edit_mask(&edited, &reconstruction, &CompositeOptions::default());
        assert_eq!(mask.dimensions(), (128, 128), "measured at 128²");
        assert_eq!(mask.get_pixel(100, 100).0[0], 1.0);
        assert_eq!(mask.get_pixel(25, 25).0[0], 0.0);
        let out = keep_unedited(&flat(512, [9, 9, 9]), &edited, &reconstruction, &CompositeOptions::default());
        assert_eq!((out.get_pixel(400, 400).0, out.get_pixel(100, 100).0), ([200, 100, 100], [9, 9, 9]));
    }

    #[test]
    fn a_larger_input_keeps_its_size_and_its_untouched_pixels() {
        let mut input = flat(64, [7, 8, 9]);
        input.put_pixel(1, 1, image::Rgb([250, 250, 250]));
        let reconstruction = flat(16, [100, 100, 100]);
        let mut edited = reconstruction.clone();
        for y in 8..16 {
            for x in 8..16 {
                edited.put_pixel(x, y, image::Rgb([0, 255, 0]));
            }
        }
        let out = keep_unedited(&input, &edited, &reconstruction, &CompositeOptions::default());
        assert_eq!(out.dimensions(), (64, 64));
        assert_eq!(out.get_pixel(1, 1).0, [250, 250, 250], "the input's own detail, at its resolution");
        assert_eq!(out.get_pixel(56, 56).0, [0, 255, 0], "the upscaled edit");
    }
}
