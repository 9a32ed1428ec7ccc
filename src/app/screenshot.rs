//! Saves a screenshot of the window and closes it: how tools/screenshot.sh captures the real app
//! (under Xvfb) for the README, and how a test captures a harness.
//!
//! The app keeps an `Option<ScreenshotRequest>` (from a command-line flag) and calls [`drive`]
//! once per frame.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eframe::egui;

use crate::{Error, Result};

/// Save the window to `path` as a PNG after `after_frames` frames, then close the window.
pub struct ScreenshotRequest {
    path: PathBuf,
    stage: Stage,
}

enum Stage {
    /// Frames still to draw before asking for the screenshot (the app keeps repainting meanwhile,
    /// so the frames come without input).
    Waiting { frames_left: u32 },
    /// Asked; the renderer puts the image here once it has read the frame back.
    Asked(Arc<Mutex<Option<Arc<egui::ColorImage>>>>),
}

impl ScreenshotRequest {
    pub fn new(path: impl Into<PathBuf>, after_frames: u32) -> Self {
        ScreenshotRequest {
            path: path.into(),
            stage: Stage::Waiting {
                frames_left: after_frames,
            },
        }
    }
}

/// Advances `request` by one frame: counts frames down, asks the renderer for the screenshot,
/// and once the image has arrived saves it, closes the window and clears `request`.
/// Returns the outcome in the frame that saved (or failed to save) it, `None` before and after.
pub fn drive(
    ctx: &egui::Context,
    request: &mut Option<ScreenshotRequest>,
) -> Option<Result<PathBuf>> {
    let pending = request.as_mut()?;
    // Keep frames coming until the screenshot is saved: an idle app would not repaint.
    ctx.request_repaint();
    match &mut pending.stage {
        Stage::Waiting { frames_left: 0 } => {
            let slot = Arc::new(Mutex::new(None));
            let delivery = Arc::clone(&slot);
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                *delivery.lock().expect("screenshot slot") = Some(image);
                repaint.request_repaint();
            });
            pending.stage = Stage::Asked(slot);
            None
        }
        Stage::Waiting { frames_left } => {
            *frames_left -= 1;
            None
        }
        Stage::Asked(slot) => {
            let image = slot.lock().expect("screenshot slot").take()?;
            let path = request.take().expect("a pending request").path;
            let saved = save_png(&path, &image).map(|()| path);
            match &saved {
                Ok(path) => log::info!("screenshot saved to {}", path.display()),
                Err(error) => log::error!("screenshot not saved: {error}"),
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            Some(saved)
        }
    }
}

/// Writes `image` as a PNG through a temporary file and a rename, so `path` is never half written.
fn save_png(path: &Path, image: &egui::ColorImage) -> Result<()> {
    let [width, height] = image.size.map(|side| side as u32);
    let bytes = image
        .pixels
        .iter()
        .flat_map(|pixel| pixel.to_srgba_unmultiplied())
        .collect();
    let rgba = image::RgbaImage::from_raw(width, height, bytes).expect("4 bytes per pixel");
    let mut scratch = path.as_os_str().to_owned();
    scratch.push(".part");
    let scratch = PathBuf::from(scratch);
    rgba.save_with_format(&scratch, image::ImageFormat::Png)
        .map_err(|error| Error::Image {
            path: scratch.clone(),
            reason: error.to_string(),
        })?;
    std::fs::rename(&scratch, path).map_err(|error| Error::io(path, error))
}
