//! Reading user images (files, dropped bytes, clipboard pixels) into the 8-bit sRGB `RgbImage` every
//! pipeline takes.
//!
//! What users throw at an editor is not always an 8-bit RGB JPEG, so decoding here:
//! - guesses the format from the content (a `.png` that is really a JPEG still opens);
//! - refuses absurd sizes before allocating: at most [`MAX_SIDE`] px per side and
//!   [`MAX_DECODED_BYTES`] for the decoded pixels (and the file itself);
//! - applies the EXIF orientation (JPEG, PNG eXIf, TIFF, WebP), so phone photos come out upright;
//! - flattens transparency onto [`ALPHA_BACKGROUND`] (white, as a flattened layer in a paint program
//!   or a transparent PNG on a page looks);
//! - converts grey, 16-bit and float pixels to 8-bit RGB; float HDR/OpenEXR pixels hold linear
//!   light and are sRGB-encoded (clipped to [0, 1], no tone mapping);
//! - decodes CMYK/YCCK JPEGs through zune-jpeg, which assumes Adobe's inverted CMYK (what Photoshop
//!   and Pillow write) and converts without the embedded ICC profile, so colours are close but not
//!   colour-managed.
//!
//! Failures are [`Error::ImageInput`] with an [`ImageProblem`] saying why, never a panic.
use std::io::{Cursor, Read};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage};

use crate::{Error, Result};

/// The largest width or height accepted (16384 px: a 268-megapixel image, beyond any camera).
pub const MAX_SIDE: u32 = 16384;
/// The most bytes the decoded pixels (in their native depth) or the encoded file may take: 1 GiB.
pub const MAX_DECODED_BYTES: u64 = 1 << 30;
/// What transparent pixels are composited over.
pub const ALPHA_BACKGROUND: [u8; 3] = [255, 255, 255];

/// Why an input image cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageProblem {
    #[error("not an image format DeltaStudio can read")]
    UnknownFormat,
    #[error("too large ({0})")]
    TooLarge(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("damaged or truncated: {0}")]
    Corrupt(String),
}

/// Reads and decodes an image file (see the module documentation for what is handled).
pub fn load_image(path: &Path) -> Result<RgbImage> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let origin = path.display().to_string();
    if size > MAX_DECODED_BYTES {
        let problem = ImageProblem::TooLarge(format!("a {} MiB file; the limit is {} MiB", size >> 20, MAX_DECODED_BYTES >> 20));
        return Err(Error::ImageInput { origin, problem });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_DECODED_BYTES).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    decode(&bytes).map_err(|problem| Error::ImageInput { origin, problem })
}

/// Decodes an encoded image held in memory (a dropped or pasted file's bytes).
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage> {
    decode(bytes).map_err(|problem| Error::ImageInput { origin: "image data".into(), problem })
}

/// Converts straight-alpha RGBA pixels, row-major (what the clipboard hands over), to RGB over
/// [`ALPHA_BACKGROUND`].
pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<RgbImage> {
    let fail = |problem| Error::ImageInput { origin: "clipboard image".into(), problem };
    check_dimensions(width, height).map_err(fail)?;
    let expected = width as usize * height as usize * 4;
    if rgba.len() != expected {
        return Err(fail(ImageProblem::Corrupt(format!(
            "{width}×{height} RGBA needs {expected} bytes, got {}",
            rgba.len()
        ))));
    }
    let image = RgbaImage::from_raw(width, height, rgba.to_vec()).expect("length checked above");
    Ok(composite_over_background(&image))
}

/// Scales `image` down (never up) so that neither side exceeds `max_side`, keeping the aspect ratio:
/// display previews of large photos. Returns a copy when it already fits.
pub fn fit_within(image: &RgbImage, max_side: u32) -> RgbImage {
    let (width, height) = image.dimensions();
    let longest = width.max(height);
    if longest <= max_side || max_side == 0 {
        return image.clone();
    }
    let scale = max_side as f64 / longest as f64;
    let scaled = |side: u32| ((side as f64 * scale).round() as u32).clamp(1, max_side);
    image::imageops::resize(image, scaled(width), scaled(height), image::imageops::FilterType::Triangle)
}

fn decode(bytes: &[u8]) -> std::result::Result<RgbImage, ImageProblem> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageProblem::Corrupt(e.to_string()))?;
    let format = reader.format().ok_or(ImageProblem::UnknownFormat)?;
    // The header is read under the allocation limit only, so that oversized sides are reported
    // with their numbers by `check_dimensions`; the decoders get the side limits before decoding.
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(problem_of)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    decoder.set_limits(limits.clone()).map_err(problem_of)?;
    // `set_limits` checks the sides; the pixel buffer is checked here, before it is allocated.
    limits.reserve(decoder.total_bytes()).map_err(|_| {
        ImageProblem::TooLarge(format!(
            "{width}×{height} px would take {} MiB decoded; the limit is {} MiB",
            decoder.total_bytes() >> 20,
            MAX_DECODED_BYTES >> 20
        ))
    })?;
    let orientation = decoder.orientation().map_err(problem_of)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(problem_of)?;
    image.apply_orientation(orientation);

    let linear_light = matches!(format, ImageFormat::Hdr | ImageFormat::OpenExr);
    Ok(to_display_rgb(image, linear_light))
}

fn check_dimensions(width: u32, height: u32) -> std::result::Result<(), ImageProblem> {
    if width == 0 || height == 0 {
        return Err(ImageProblem::Corrupt(format!("the image is {width}×{height} px: no pixels")));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageProblem::TooLarge(format!("{width}×{height} px; the limit is {MAX_SIDE} px per side")));
    }
    Ok(())
}

fn problem_of(error: ImageError) -> ImageProblem {
    match error {
        ImageError::Limits(e) => ImageProblem::TooLarge(format!(
            "{e}; the limits are {MAX_SIDE} px per side and {} MiB decoded",
            MAX_DECODED_BYTES >> 20
        )),
        ImageError::Unsupported(e) => match e.kind() {
            image::error::UnsupportedErrorKind::Format(_) => ImageProblem::UnknownFormat,
            _ => ImageProblem::Unsupported(e.to_string()),
        },
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageProblem::Corrupt("the data ends early".into())
        }
        other => ImageProblem::Corrupt(other.to_string().trim_end().to_owned()),
    }
}

/// 8-bit sRGB, transparency flattened; `linear_light` marks float pixels that are linear radiance.
fn to_display_rgb(image: DynamicImage, linear_light: bool) -> RgbImage {
    match image {
        DynamicImage::ImageRgb32F(float) if linear_light => {
            let (width, height) = float.dimensions();
            let pixels = float.pixels().flat_map(|p| p.0.map(encode_srgb)).collect();
            RgbImage::from_raw(width, height, pixels).expect("one RGB triple per pixel")
        }
        DynamicImage::ImageRgba32F(float) if linear_light => {
            let (width, height) = float.dimensions();
            let background = ALPHA_BACKGROUND.map(decode_srgb);
            let pixels = float
                .pixels()
                .flat_map(|p| {
                    let alpha = p[3].clamp(0.0, 1.0);
                    [0, 1, 2].map(|c| encode_srgb(p[c] * alpha + background[c] * (1.0 - alpha)))
                })
                .collect();
            RgbImage::from_raw(width, height, pixels).expect("one RGB triple per pixel")
        }
        image if image.color().has_alpha() => composite_over_background(&image.into_rgba8()),
        image => image.into_rgb8(),
    }
}

/// Straight alpha over [`ALPHA_BACKGROUND`], blended in sRGB values as paint programs flatten.
fn composite_over_background(image: &RgbaImage) -> RgbImage {
    let (width, height) = image.dimensions();
    let pixels = image
        .pixels()
        .flat_map(|p| {
            let alpha = p[3] as u32;
            [0, 1, 2].map(|c| ((p[c] as u32 * alpha + ALPHA_BACKGROUND[c] as u32 * (255 - alpha) + 127) / 255) as u8)
        })
        .collect();
    RgbImage::from_raw(width, height, pixels).expect("one RGB triple per pixel")
}

/// Linear light in [0, 1] (clipped; NaN → 0) to an 8-bit sRGB value.
fn encode_srgb(linear: f32) -> u8 {
    let v = if linear.is_nan() { 0.0 } else { linear.clamp(0.0, 1.0) };
    let encoded = if v <= 0.003_130_8 { 12.92 * v } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 };
    (encoded * 255.0).round() as u8
}

fn decode_srgb(value: u8) -> f32 {
    let v = value as f32 / 255.0;
    if v <= 0.040_45 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, Rgba};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images");

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    }

    fn problem(result: Result<RgbImage>) -> ImageProblem {
        match result {
            Err(Error::ImageInput { problem, .. }) => problem,
            Err(other) => panic!("expected an ImageInput error, got {other}"),
            Ok(image) => panic!("expected an error, decoded a {:?} image", image.dimensions()),
        }
    }

    /// A 16-bit gradient keeps its values (to 8-bit rounding) through PNG and TIFF.
    #[test]
    fn sixteen_bit_png_and_tiff_become_8_bit_rgb() {
        let wide: ImageBuffer<Rgb<u16>, Vec<u16>> =
            ImageBuffer::from_fn(32, 4, |x, y| Rgb([x as u16 * 2000, 65535 - x as u16 * 2000, y as u16 * 20000]));
        for format in [ImageFormat::Png, ImageFormat::Tiff] {
            let decoded = decode_image(&encode(&DynamicImage::ImageRgb16(wide.clone()), format)).unwrap();
            assert_eq!(decoded.dimensions(), (32, 4), "{format:?}");
            for (x, y, pixel) in decoded.enumerate_pixels() {
                let source = wide.get_pixel(x, y);
                for c in 0..3 {
                    let expected = (source[c] as f32 / 257.0).round() as i32;
                    assert!((pixel[c] as i32 - expected).abs() <= 1, "{format:?} ({x},{y}) channel {c}: {pixel:?} vs {source:?}");
                }
            }
        }
    }

    #[test]
    fn alpha_is_composited_over_white() {
        let rgba = RgbaImage::from_fn(4, 1, |x, _| Rgba([200, 0, 40, [255, 128, 0, 64][x as usize]]));
        let decoded = decode_image(&encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png)).unwrap();
        assert_eq!(decoded.get_pixel(0, 0).0, [200, 0, 40], "opaque stays as is");
        assert_eq!(decoded.get_pixel(2, 0).0, ALPHA_BACKGROUND, "fully transparent is the background");
        // 128/255 of (200, 0, 40) over white.
        assert_eq!(decoded.get_pixel(1, 0).0, [227, 127, 147]);
        assert_eq!(from_rgba(4, 1, rgba.as_raw()).unwrap(), decoded, "clipboard pixels flatten the same way");
        // Grey + alpha in 16 bits goes through the same path.
        let grey_alpha: ImageBuffer<image::LumaA<u16>, Vec<u16>> = ImageBuffer::from_pixel(2, 2, image::LumaA([0, 0]));
        let decoded = decode_image(&encode(&DynamicImage::ImageLumaA16(grey_alpha), ImageFormat::Png)).unwrap();
        assert!(decoded.pixels().all(|p| p.0 == ALPHA_BACKGROUND));
    }

    #[test]
    fn from_rgba_checks_its_buffer() {
        assert!(matches!(problem(from_rgba(3, 3, &[0; 35])), ImageProblem::Corrupt(_)));
        assert!(matches!(problem(from_rgba(0, 3, &[])), ImageProblem::Corrupt(_)));
        assert!(matches!(problem(from_rgba(MAX_SIDE + 1, 1, &[0; 4 * (MAX_SIDE as usize + 1)])), ImageProblem::TooLarge(_)));
    }

    /// Pillow-made fixture: stored 16×8 (left red, right blue) with EXIF orientation 6.
    #[test]
    fn exif_orientation_is_applied() {
        let image = load_image(&Path::new(FIXTURES).join("exif_rotate90.jpg")).unwrap();
        assert_eq!(image.dimensions(), (8, 16), "rotated to portrait");
        let top = image.get_pixel(4, 3);
        let bottom = image.get_pixel(4, 12);
        assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
        assert!(bottom[2] > 200 && bottom[0] < 60, "bottom is blue: {bottom:?}");
    }

    /// Pillow-made Adobe CMYK JPEG: left half red ink, right half 50 % black.
    #[test]
    fn cmyk_jpeg_decodes_to_the_ink_colours() {
        let image = load_image(&Path::new(FIXTURES).join("cmyk.jpg")).unwrap();
        assert_eq!(image.dimensions(), (16, 8));
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(&x, y)| (x as i32 - y as i32).abs() <= 8);
        assert!(close(image.get_pixel(3, 4).0, [255, 0, 0]), "{:?}", image.get_pixel(3, 4));
        assert!(close(image.get_pixel(12, 4).0, [127, 127, 127]), "{:?}", image.get_pixel(12, 4));
    }

    #[test]
    fn float_hdr_is_srgb_encoded() {
        // Linear 0.2140 is sRGB 0.5 (Radiance's shared exponent rounds it slightly); above 1 clips.
        let hdr: ImageBuffer<Rgb<f32>, Vec<f32>> =
            ImageBuffer::from_fn(2, 1, |x, _| if x == 0 { Rgb([0.2140; 3]) } else { Rgb([4.0, 0.0, 0.0]) });
        let decoded = decode_image(&encode(&DynamicImage::ImageRgb32F(hdr), ImageFormat::Hdr)).unwrap();
        let grey = decoded.get_pixel(0, 0).0;
        assert!(grey.iter().all(|&c| (c as i32 - 128).abs() <= 2), "{grey:?}");
        assert_eq!(decoded.get_pixel(1, 0).0, [255, 0, 0]);
    }

    #[test]
    fn format_comes_from_the_content_not_the_name() {
        let dir = std::env::temp_dir().join(format!("deltastudio-image-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let misnamed = dir.join("really_a_png.jpg");
        let rgb = RgbImage::from_fn(5, 3, |x, y| Rgb([x as u8 * 40, y as u8 * 80, 7]));
        std::fs::write(&misnamed, encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png)).unwrap();
        let loaded = load_image(&misnamed);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(loaded.unwrap(), rgb);
    }

    #[test]
    fn undecodable_input_gives_typed_errors() {
        let png = encode(&DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 64, Rgb([1, 2, 3]))), ImageFormat::Png);
        assert!(matches!(problem(decode_image(&png[..png.len() / 2])), ImageProblem::Corrupt(_)));
        let jpeg = std::fs::read(Path::new(FIXTURES).join("cmyk.jpg")).unwrap();
        assert!(matches!(problem(decode_image(&jpeg[..40])), ImageProblem::Corrupt(_)));

        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        assert_eq!(problem(decode_image(&noise)), ImageProblem::UnknownFormat);
        assert_eq!(problem(decode_image(&[])), ImageProblem::UnknownFormat);
        assert!(matches!(load_image(Path::new("/nonexistent/photo.jpg")), Err(Error::Io { .. })));
    }

    /// A valid 1×1 PNG of `color` whose header then claims `side`×`side` px (CRC fixed up).
    fn png_claiming(side: u32, color: image::ExtendedColorType) -> Vec<u8> {
        let mut png = Vec::new();
        let pixel = vec![0u8; color.bits_per_pixel() as usize / 8];
        image::ImageEncoder::write_image(image::codecs::png::PngEncoder::new(&mut png), &pixel, 1, 1, color).unwrap();
        // After the 8-byte signature: IHDR length (4), "IHDR" (4), width (4), height (4), 5 more
        // bytes, then the CRC of type and data.
        assert_eq!(&png[12..16], b"IHDR");
        png[16..20].copy_from_slice(&side.to_be_bytes());
        png[20..24].copy_from_slice(&side.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        png
    }

    /// A header claiming 100000×100000 px is refused from the header alone.
    #[test]
    fn absurd_dimensions_are_refused_before_decoding() {
        let png = png_claiming(100_000, image::ExtendedColorType::Rgb8);
        let error = decode_image(&png).unwrap_err().to_string();
        assert_eq!(error, "image data: too large (100000×100000 px; the limit is 16384 px per side)");
    }

    /// Within the side limit but over the decoded-bytes budget: 16384² RGBA16 would be 2 GiB.
    #[test]
    fn decoded_size_budget_is_enforced() {
        let png = png_claiming(MAX_SIDE, image::ExtendedColorType::Rgba16);
        let error = decode_image(&png).unwrap_err().to_string();
        assert_eq!(error, "image data: too large (16384×16384 px would take 2048 MiB decoded; the limit is 1024 MiB)");
    }

    #[test]
    fn fit_within_scales_down_only() {
        let image = RgbImage::from_pixel(400, 100, Rgb([10, 20, 30]));
        let preview = fit_within(&image, 200);
        assert_eq!(preview.dimensions(), (200, 50));
        assert!(preview.pixels().all(|p| p.0 == [10, 20, 30]));
        assert_eq!(fit_within(&image, 1000).dimensions(), (400, 100));
        assert_eq!(fit_within(&RgbImage::new(1000, 3), 100).dimensions(), (100, 1));
    }
}
