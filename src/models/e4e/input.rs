//! e4e's input transform: `Resize((256, 256))` → `ToTensor` → `Normalize(0.5, 0.5)`, i.e. an RGB
//! image as [1, 3, 256, 256] in [−1, 1] (another side for encoders with another `input_size`).
//! Faces are assumed to be FFHQ-aligned already.
use burn::prelude::*;
use image::RgbImage;
use image::imageops::FilterType;

/// The official encoder's input side.
pub const INPUT_SIZE: u32 = 256;

/// Resizes (bilinear, like PIL) to `size`² when needed and maps [0, 255] to [−1, 1].
pub fn image_to_input(image: &RgbImage, size: u32, device: &Device) -> Tensor<4> {
    let resized;
    let image = if image.dimensions() == (size, size) {
        image
    } else {
        resized = image::imageops::resize(image, size, size, FilterType::Triangle);
        &resized
    };
    let side = size as usize;
    let plane = side * side;
    let mut data = vec![0f32; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + i] = pixel[c] as f32 / 127.5 - 1.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [1, 3, side, side]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_to_256_and_maps_to_minus_one_one() {
        let device = Device::flex();
        let image = RgbImage::from_fn(512, 300, |x, _| image::Rgb([255, 0, if x < 256 { 0 } else { 255 }]));
        let input = image_to_input(&image, INPUT_SIZE, &device);
        assert_eq!(input.dims(), [1, 3, 256, 256]);
        let data = input.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let plane = 256 * 256;
        assert!(data[..plane].iter().all(|&v| (v - 1.0).abs() < 1e-6), "red = 255 → 1");
        assert!(data[plane..2 * plane].iter().all(|&v| (v + 1.0).abs() < 1e-6), "green = 0 → −1");
        assert!((data[2 * plane] + 1.0).abs() < 1e-6 && (data[3 * plane - 1] - 1.0).abs() < 1e-6, "blue edges");
    }
}
