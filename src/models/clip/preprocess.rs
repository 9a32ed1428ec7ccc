//! Image → CLIP input tensors.
//!
//! - [`clip_pixels`]: CLIP's own preprocessing (bicubic resize of the short side to R, centre
//!   crop, per-channel mean/std).
//! - [`deltaedit_resize`]: what DeltaEdit feeds CLIP: images in ≈[−1, 1] upsampled ×7 (nearest)
//!   then average-pooled with kernel H/32 to 224², with no mean/std. That pair is exactly a
//!   fractional box filter, applied here as two matrix products instead of materialising the
//!   7H × 7W image.
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use image::RgbImage;
use image::imageops::{self, FilterType};

use crate::{Error, Result};

pub const CLIP_MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
pub const CLIP_STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];
/// DeltaEdit's CLIP input size.
pub const DELTAEDIT_SIZE: usize = 224;

/// CLIP preprocessing: [3, R, R], normalized with [`CLIP_MEAN`]/[`CLIP_STD`].
pub fn clip_pixels(image: &RgbImage, size: usize, device: &Device) -> Tensor<3> {
    let (w, h) = image.dimensions();
    let size32 = size as u32;
    // torchvision `Resize(int)`: the short side becomes `size`, the long side floor(size·long/short).
    let (rw, rh) = if w <= h {
        (size32, (size as u64 * h as u64 / w.max(1) as u64) as u32)
    } else {
        ((size as u64 * w as u64 / h.max(1) as u64) as u32, size32)
    };
    let resized = imageops::resize(image, rw.max(size32), rh.max(size32), FilterType::CatmullRom);
    // torchvision `CenterCrop`: offsets round((dim − size) / 2).
    let left = ((resized.width() - size32) as f64 / 2.0).round() as u32;
    let top = ((resized.height() - size32) as f64 / 2.0).round() as u32;
    let cropped = imageops::crop_imm(&resized, left, top, size32, size32).to_image();
    Tensor::from_data(TensorData::new(clip_normalized(&cropped), [3, size, size]), device)
}

/// An image already at CLIP's input size as planar [3, H, W] values normalized with
/// [`CLIP_MEAN`]/[`CLIP_STD`] (what [`clip_pixels`] does after resizing), for building batches
/// without a tensor per image.
pub fn clip_normalized(image: &RgbImage) -> Vec<f32> {
    planar(image, |c, v| (v / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c])
}

/// Generator images [B, 3, H, W] in [−1, 1] → CLIP's input: resized bilinearly to `size`² (when
/// they are not already) and normalized with [`CLIP_MEAN`]/[`CLIP_STD`]. Differentiable, for
/// losses on synthesised images.
pub fn clip_input_from_signed(images: Tensor<4>, size: usize) -> Tensor<4> {
    let device = images.device();
    let [_, _, h, w] = images.dims();
    let images = if (h, w) == (size, size) {
        images
    } else {
        interpolate(images, InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([size, size]))
    };
    let mean = Tensor::<1>::from_floats(CLIP_MEAN, &device).reshape([1, 3, 1, 1]);
    let std = Tensor::<1>::from_floats(CLIP_STD, &device).reshape([1, 3, 1, 1]);
    ((images + 1.0) / 2.0 - mean) / std
}

/// An RGB image as [3, H, W] in [−1, 1] (`ToTensor` then `Normalize(0.5, 0.5)`), the range
/// StyleGAN images live in.
pub fn signed_pixels(image: &RgbImage, device: &Device) -> Tensor<3> {
    let (w, h) = image.dimensions();
    let chw = planar(image, |_, v| v / 127.5 - 1.0);
    Tensor::from_data(TensorData::new(chw, [3, h as usize, w as usize]), device)
}

fn planar(image: &RgbImage, f: impl Fn(usize, f32) -> f32) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let plane = (w * h) as usize;
    let mut chw = vec![0.0f32; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            chw[c * plane + i] = f(c, pixel[c] as f32);
        }
    }
    chw
}

/// DeltaEdit's `AvgPool2d(H/32)(Upsample(×7, nearest)(x))`: [B, C, H, W] → [B, C, 224, 224].
/// H and W must be multiples of 32 (as 256 and 1024 are).
pub fn deltaedit_resize(images: Tensor<4>) -> Result<Tensor<4>> {
    let [batch, channels, h, w] = images.dims();
    if h % 32 != 0 || w % 32 != 0 || h == 0 || w == 0 {
        return Err(Error::Invalid(format!("DeltaEdit's CLIP resize needs sides that are multiples of 32, got {h}×{w}")));
    }
    let device = images.device();
    let rows = box_filter(h, &device).unsqueeze::<4>().expand([batch, channels, DELTAEDIT_SIZE, h]);
    let cols = box_filter(w, &device).transpose().unsqueeze::<4>().expand([batch, channels, w, DELTAEDIT_SIZE]);
    Ok(rows.matmul(images).matmul(cols))
}

/// [224, n]: output i averages upsampled samples u ∈ [i·k, (i+1)·k) with k = 7n/224; upsampled
/// sample u is source pixel ⌊u/7⌋. So weight(i, j) = |[7j, 7j+7) ∩ [ik, ik+k)| / k.
fn box_filter(n: usize, device: &Device) -> Tensor<2> {
    let k = 7 * n / DELTAEDIT_SIZE;
    let mut weights = vec![0.0f32; DELTAEDIT_SIZE * n];
    for i in 0..DELTAEDIT_SIZE {
        for u in i * k..(i + 1) * k {
            weights[i * n + u / 7] += 1.0 / k as f32;
        }
    }
    Tensor::from_data(TensorData::new(weights, [DELTAEDIT_SIZE, n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest ×7 upsampling then k×k average pooling, written out literally.
    fn reference(x: &[f32], n: usize) -> Vec<f32> {
        let up = 7 * n;
        let k = up / DELTAEDIT_SIZE;
        let mut out = vec![0.0f32; DELTAEDIT_SIZE * DELTAEDIT_SIZE];
        for i in 0..DELTAEDIT_SIZE {
            for j in 0..DELTAEDIT_SIZE {
                let mut sum = 0.0f64;
                for u in i * k..(i + 1) * k {
                    for v in j * k..(j + 1) * k {
                        sum += x[(u / 7) * n + v / 7] as f64;
                    }
                }
                out[i * DELTAEDIT_SIZE + j] = (sum / (k * k) as f64) as f32;
            }
        }
        out
    }

    #[test]
    fn deltaedit_resize_is_upsample_then_avg_pool() {
        let device = Device::flex();
        for n in [64usize, 256] {
            let x: Vec<f32> = (0..n * n).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
            let t = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 1, n, n]), &device);
            let got = deltaedit_resize(t).unwrap().into_data().try_into_vec::<f32>().unwrap();
            let expected = reference(&x, n);
            let err = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-5, "n={n}: max error {err}");
        }
        assert!(deltaedit_resize(Tensor::zeros([1, 3, 100, 100], &device)).is_err());
    }

    #[test]
    fn signed_pixels_feed_deltaedit_resize() {
        let device = Device::flex();
        let image = RgbImage::from_fn(256, 256, |x, _| image::Rgb([0, 255, if x < 128 { 0 } else { 255 }]));
        let x = deltaedit_resize(signed_pixels(&image, &device).unsqueeze::<4>()).unwrap();
        assert_eq!(x.dims(), [1, 3, 224, 224]);
        let v = x.into_data().try_into_vec::<f32>().unwrap();
        let plane = 224 * 224;
        assert!(v[..plane].iter().all(|&p| (p + 1.0).abs() < 1e-6));
        assert!(v[plane..2 * plane].iter().all(|&p| (p - 1.0).abs() < 1e-6));
        // Blue: −1 on the left half, +1 on the right, the output column straddling x = 128 mixed.
        assert!((v[2 * plane] + 1.0).abs() < 1e-6 && (v[2 * plane + 223] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn clip_pixels_resizes_the_short_side_and_normalizes() {
        let device = Device::flex();
        let image = RgbImage::from_pixel(300, 200, image::Rgb([255, 0, 128]));
        let x = clip_pixels(&image, 32, &device);
        assert_eq!(x.dims(), [3, 32, 32]);
        let v = x.into_data().try_into_vec::<f32>().unwrap();
        let expected = [(1.0 - CLIP_MEAN[0]) / CLIP_STD[0], -CLIP_MEAN[1] / CLIP_STD[1], (128.0 / 255.0 - CLIP_MEAN[2]) / CLIP_STD[2]];
        for c in 0..3 {
            assert!(v[c * 1024..(c + 1) * 1024].iter().all(|p| (p - expected[c]).abs() < 1e-5));
        }
    }
}
