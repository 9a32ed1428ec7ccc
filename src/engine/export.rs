//! Exported pictures: PNGs that carry their recipe, written atomically, and the layouts an export
//! can have (one result, a strip of frames side by side).
//!
//! A PNG gets two text chunks: `parameters` (tEXt, Latin-1: the A1111-style summary that image
//! viewers and other tools show) and `deltastudio_recipe` (iTXt, UTF-8: the recipe's JSON, which
//! `read_recipe` reads back).
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::RgbImage;

use super::recipe::Recipe;
use crate::{Error, Result};

/// The tEXt keyword A1111 and the tools that read its files use.
pub const PARAMETERS_KEYWORD: &str = "parameters";
/// The iTXt keyword of the JSON recipe.
pub const RECIPE_KEYWORD: &str = "deltastudio_recipe";

/// Writes `image` as an 8-bit RGB PNG with `recipe`'s chunks, atomically (see [`write_atomic`]).
pub fn write_png(path: &Path, image: &RgbImage, recipe: Option<&Recipe>) -> Result<()> {
    write_atomic(path, |out| {
        let mut encoder = png::Encoder::new(out, image.width(), image.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some(recipe) = recipe {
            let encoding = |e| png_error(path, e);
            encoder.add_text_chunk(PARAMETERS_KEYWORD.into(), to_latin1(&recipe.parameters_text())).map_err(encoding)?;
            encoder.add_itxt_chunk(RECIPE_KEYWORD.into(), recipe.to_json()).map_err(encoding)?;
        }
        let mut writer = encoder.write_header().map_err(|e| png_error(path, e))?;
        writer.write_image_data(image.as_raw()).map_err(|e| png_error(path, e))?;
        writer.finish().map_err(|e| png_error(path, e))
    })
}

/// The recipe embedded in a PNG written by [`write_png`]. The whole file is read, so a
/// truncated or corrupt PNG is an error even when its recipe chunk survived.
pub fn read_recipe(path: &Path) -> Result<Recipe> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let not_png = |e: png::DecodingError| Error::Image { path: path.to_path_buf(), reason: format!("not a readable PNG: {e}") };
    let mut reader = png::Decoder::new(BufReader::new(file)).read_info().map_err(not_png)?;
    reader.finish().map_err(not_png)?;
    let chunk = reader.info().utf8_text.iter().find(|c| c.keyword == RECIPE_KEYWORD);
    let chunk = chunk.ok_or_else(|| Error::NoRecipe { path: path.to_path_buf() })?;
    let json = chunk.get_text().map_err(not_png)?;
    Recipe::from_json(&json).map_err(|e| match e {
        Error::Recipe(reason) => Error::Recipe(format!("{}: {reason}", path.display())),
        other => other,
    })
}

/// `images` side by side, each scaled to the tallest one's height (an input photo is usually
/// larger than the generator's output).
pub fn side_by_side_scaled(images: &[&RgbImage]) -> RgbImage {
    let height = images.iter().map(|i| i.height()).max().unwrap_or(1);
    let scaled: Vec<RgbImage> = images
        .iter()
        .map(|i| {
            let width = (i.width() as u64 * height as u64).div_ceil(i.height().max(1) as u64) as u32;
            image::imageops::resize(*i, width, height, image::imageops::FilterType::Lanczos3)
        })
        .collect();
    strip(&scaled)
}

/// `frames` side by side, top-aligned, on black where heights differ.
pub fn strip(frames: &[RgbImage]) -> RgbImage {
    let width = frames.iter().map(|f| f.width()).sum();
    let height = frames.iter().map(|f| f.height()).max().unwrap_or(0);
    let mut out = RgbImage::new(width, height);
    let mut x = 0;
    for frame in frames {
        image::imageops::replace(&mut out, frame, x as i64, 0);
        x += frame.width();
    }
    out
}

/// Writes a file so that `path` either keeps its old content or gets the complete new one:
/// `write` fills a temporary file in the same directory, which is synced and renamed over `path`.
/// On failure the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let scratch = scratch_path(path)?;
    let file = OpenOptions::new().write(true).create_new(true).open(&scratch).map_err(|e| Error::io(path, e))?;
    let written = fill_and_sync(file, write, path).and_then(|()| std::fs::rename(&scratch, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = std::fs::remove_file(&scratch);
        return written;
    }
    // Make the rename itself durable; some file systems cannot sync a directory, which is fine.
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn fill_and_sync(file: File, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>, path: &Path) -> Result<()> {
    let mut out = BufWriter::new(file);
    write(&mut out)?;
    out.flush().map_err(|e| Error::io(path, e))?;
    let file = out.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A hidden name beside `path`, unique within this process and across processes.
fn scratch_path(path: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| Error::Invalid(format!("{} is not a file path", path.display())))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(parent_dir(path).join(format!(".{}.{}-{n}.tmp", name.to_string_lossy(), std::process::id())))
}

fn png_error(path: &Path, e: png::EncodingError) -> Error {
    match e {
        png::EncodingError::IoError(io) => Error::io(path, io),
        other => Error::Image { path: path.to_path_buf(), reason: other.to_string() },
    }
}

/// tEXt holds Latin-1 only: other characters become '?'.
fn to_latin1(text: &str) -> String {
    text.chars().map(|c| if (c as u32) < 256 { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::recipe::tests::example;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, (x + y) as u8]))
    }

    fn text_chunk(path: &Path, keyword: &str) -> Option<String> {
        let reader = png::Decoder::new(BufReader::new(File::open(path).unwrap())).read_info().unwrap();
        reader.info().uncompressed_latin1_text.iter().find(|c| c.keyword == keyword).map(|c| c.text.clone())
    }

    #[test]
    fn the_recipe_and_the_pixels_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edit.png");
        let mut recipe = example();
        recipe.stack.edits[0].edit.target = "a face with red hair — très rouge".into();
        let image = gradient(40, 30);
        write_png(&path, &image, Some(&recipe)).unwrap();
        assert_eq!(read_recipe(&path).unwrap(), recipe, "the JSON keeps every character");
        assert_eq!(image::open(&path).unwrap().to_rgb8(), image);
        let parameters = text_chunk(&path, PARAMETERS_KEYWORD).unwrap();
        assert!(parameters.starts_with("a face with red hair ? très rouge AND"), "{parameters}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no scratch file is left");
    }

    #[test]
    fn a_png_without_recipe_garbage_and_a_truncated_png_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.png");
        write_png(&plain, &gradient(8, 8), None).unwrap();
        assert!(matches!(read_recipe(&plain), Err(Error::NoRecipe { .. })));

        let garbage = dir.path().join("garbage.png");
        std::fs::write(&garbage, "not a picture").unwrap();
        assert!(matches!(read_recipe(&garbage), Err(Error::Image { .. })));

        let full = dir.path().join("full.png");
        write_png(&full, &gradient(64, 64), Some(&example())).unwrap();
        let bytes = std::fs::read(&full).unwrap();
        let truncated = dir.path().join("truncated.png");
        std::fs::write(&truncated, &bytes[..bytes.len() - 20]).unwrap();
        assert!(matches!(read_recipe(&truncated), Err(Error::Image { .. })), "{:?}", read_recipe(&truncated));

        assert!(matches!(read_recipe(&dir.path().join("missing.png")), Err(Error::Io { .. })));
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_the_folder_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no such folder").join("edit.png");
        assert!(matches!(write_png(&missing, &gradient(4, 4), None), Err(Error::Io { .. })));

        let target = dir.path().join("edit.png");
        std::fs::write(&target, "old content").unwrap();
        let failed = write_atomic(&target, |out| {
            out.write_all(b"half of the new").unwrap();
            Err(Error::Invalid("the encoder failed".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old content");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the scratch file is removed");

        write_png(&target, &gradient(4, 4), None).unwrap();
        assert_eq!(image::open(&target).unwrap().to_rgb8(), gradient(4, 4), "a successful write replaces the file");
    }

    #[test]
    fn an_exported_edit_replays_to_the_same_pixels() {
        use std::sync::Arc;

        use crate::engine::models::tiny_models;
        use crate::engine::session::EditSession;
        let device = burn::prelude::Device::flex();
        let models = Arc::new(tiny_models(crate::engine::gan::Method::DeltaEdit, &device));
        let recipe = example();
        let input = recipe.load_input().unwrap();
        let edited = EditSession::new(models.clone(), &input, &device).unwrap().render(&recipe.stack).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edit.png");
        write_png(&path, &edited, Some(&recipe)).unwrap();

        let reopened = read_recipe(&path).unwrap();
        let mut session = EditSession::new(models, &reopened.load_input().unwrap(), &device).unwrap();
        assert_eq!(session.render(&reopened.stack).unwrap(), image::open(&path).unwrap().to_rgb8());
    }

    #[test]
    fn a_strip_puts_frames_side_by_side() {
        let (a, b) = (gradient(5, 4), gradient(3, 6));
        let s = strip(&[a.clone(), b.clone(), a.clone()]);
        assert_eq!(s.dimensions(), (13, 6));
        assert_eq!(s.get_pixel(4, 3), a.get_pixel(4, 3));
        assert_eq!(s.get_pixel(5 + 2, 5), b.get_pixel(2, 5));
        assert_eq!(s.get_pixel(8 + 1, 2), a.get_pixel(1, 2));
        assert_eq!(*s.get_pixel(9, 5), image::Rgb([0, 0, 0]), "below a shorter frame");
    }
}
