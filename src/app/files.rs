//! Files in and out: native dialogs, drag-and-drop, paste, decoding, export.
//!
//! Dialogs and decoding run on short-lived threads (a native dialog or a 50-megapixel JPEG would
//! otherwise stall the frame); their results come back through one channel polled every frame.
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use eframe::egui;
use image::RgbImage;

use super::{EditorApp, InputSource};

/// The side of built-in portraits opened in the editor (the models see them at their own size).
pub const PORTRAIT_SIZE: u32 = 256;

/// Image files the open dialog offers.
const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif", "tga", "qoi"];

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The edited image.
    Result,
    /// Input | reconstruction | edit in one image.
    CompareView,
    /// Frames from edit A to edit B.
    InterpolationStrip { frames: usize },
}

/// Why a dialog was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    OpenImage,
    Export(ExportKind),
    WeightsFolder,
}

enum FileEvent {
    Picked { purpose: Purpose, path: PathBuf },
    Decoded { path: PathBuf, result: Result<RgbImage, String> },
}

pub struct Dialogs {
    sender: Sender<FileEvent>,
    events: Receiver<FileEvent>,
}

impl Default for Dialogs {
    fn default() -> Self {
        let (sender, events) = channel();
        Dialogs { sender, events }
    }
}

impl Dialogs {
    fn spawn(&self, purpose: Purpose, dialog: impl FnOnce() -> Option<PathBuf> + Send + 'static) {
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            if let Some(path) = dialog() {
                let _ = sender.send(FileEvent::Picked { purpose, path });
            }
        });
    }

    pub fn open_image(&self, dir: Option<PathBuf>) {
        self.spawn(Purpose::OpenImage, move || {
            let mut dialog = rfd::FileDialog::new().set_title("Open an image").add_filter("Images", IMAGE_EXTENSIONS);
            if let Some(dir) = dir {
                dialog = dialog.set_directory(dir);
            }
            dialog.pick_file()
        });
    }

    pub fn export(&self, kind: ExportKind, dir: Option<PathBuf>, file_name: String) {
        self.spawn(Purpose::Export(kind), move || {
            let mut dialog = rfd::FileDialog::new().set_title("Export PNG").add_filter("PNG", &["png"]).set_file_name(file_name);
            if let Some(dir) = dir {
                dialog = dialog.set_directory(dir);
            }
            dialog.save_file().map(|p| if p.extension().is_none() { p.with_extension("png") } else { p })
        });
    }

    pub fn weights_folder(&self) {
        self.spawn(Purpose::WeightsFolder, || rfd::FileDialog::new().set_title("Weights folder").pick_folder());
    }

    /// Decodes `path` off the UI thread.
    fn decode(&self, path: PathBuf) {
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let result = decode_file(&path);
            let _ = sender.send(FileEvent::Decoded { path, result });
        });
    }
}

fn decode_file(path: &Path) -> Result<RgbImage, String> {
    image::open(path).map(|i| i.to_rgb8()).map_err(|e| format!("{}: {e}", path.display()))
}

fn from_color_image(image: &egui::ColorImage) -> RgbImage {
    let [w, h] = image.size;
    let rgb = image.pixels.iter().flat_map(|c| [c.r(), c.g(), c.b()]).collect();
    RgbImage::from_raw(w as u32, h as u32, rgb).expect("ColorImage holds w × h pixels")
}

impl EditorApp {
    /// Opens an image file (decoded in the background; the canvas changes when it is ready).
    pub fn open_path(&mut self, path: &Path) {
        self.info(format!("Opening {}", path.display()));
        self.dialogs.decode(path.to_path_buf());
    }

    pub(super) fn poll_dialogs(&mut self, ctx: &egui::Context) {
        while let Ok(event) = self.dialogs.events.try_recv() {
            match event {
                FileEvent::Picked { purpose: Purpose::OpenImage, path } => self.open_path(&path),
                FileEvent::Picked { purpose: Purpose::Export(kind), path } => self.export_to(kind, &path, false),
                FileEvent::Picked { purpose: Purpose::WeightsFolder, path } => {
                    self.settings.weights_dir = Some(path);
                    self.save_settings();
                    self.load_models(self.settings.domain);
                }
                FileEvent::Decoded { path, result } => match result {
                    Ok(image) => {
                        self.settings.last_open_dir = path.parent().map(Path::to_path_buf);
                        self.settings.add_recent(&path);
                        self.save_settings();
                        self.set_input(ctx, InputSource::File { path: path.clone() }, image);
                        self.info(format!("Opened {}", path.display()));
                    }
                    // The current image and edits stay as they were.
                    Err(message) => self.error(format!("Cannot open the image: {message}")),
                },
            }
        }
    }

    /// Files dropped on the window and images pasted from the clipboard.
    pub(super) fn take_dropped_and_pasted(&mut self, ctx: &egui::Context) {
        let (dropped, pasted) = ctx.input(|i| {
            let pasted = i.events.iter().find_map(|e| match e {
                egui::Event::PasteImage(image) => Some(image.clone()),
                _ => None,
            });
            (i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect::<Vec<_>>(), pasted)
        });
        if let Some(path) = dropped.first() {
            self.open_path(path);
        }
        if let Some(image) = pasted {
            self.set_input(ctx, InputSource::Clipboard, from_color_image(&image));
            self.info("Pasted an image from the clipboard");
        }
    }

    pub(super) fn default_export_name(&self) -> String {
        let stem = match self.input.as_ref().map(|i| &i.source) {
            Some(InputSource::Builtin { seed }) => format!("portrait-{seed}"),
            Some(InputSource::File { path }) => path.file_stem().map_or("image".into(), |s| s.to_string_lossy().into_owned()),
            Some(InputSource::Clipboard) | None => "image".into(),
        };
        format!("{stem}-edited.png")
    }
}

/// Images side by side at the height of the tallest (the input is usually larger than the edit).
fn side_by_side(images: &[&RgbImage]) -> RgbImage {
    let height = images.iter().map(|i| i.height()).max().unwrap_or(1);
    let scaled: Vec<RgbImage> = images
        .iter()
        .map(|i| {
            let width = (i.width() as u64 * height as u64 / i.height() as u64) as u32;
            image::imageops::resize(*i, width, height, image::imageops::FilterType::Lanczos3)
        })
        .collect();
    let mut out = RgbImage::new(scaled.iter().map(|i| i.width()).sum(), height);
    let mut x = 0;
    for image in &scaled {
        image::imageops::replace(&mut out, image, x, 0);
        x += image.width() as i64;
    }
    out
}

impl EditorApp {
    fn is_input_path(&self, path: &Path) -> bool {
        let Some(InputSource::File { path: input }) = self.input.as_ref().map(|i| &i.source) else { return false };
        match (input.canonicalize(), path.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => input == path,
        }
    }

    /// Ctrl+S: the last export path again, or a dialog the first time.
    pub(super) fn quick_export(&mut self) {
        match self.export_path.clone() {
            Some(path) => self.export_to(ExportKind::Result, &path, false),
            None => self.dialogs.export(ExportKind::Result, self.settings.last_export_dir.clone(), self.default_export_name()),
        }
    }

    /// Writes `kind` to `path`. Overwriting the input photo needs `confirmed`.
    pub fn export_to(&mut self, kind: ExportKind, path: &Path, confirmed: bool) {
        if !confirmed && self.is_input_path(path) {
            self.confirm_overwrite = Some((kind, path.to_path_buf()));
            return;
        }
        let image = match kind {
            ExportKind::Result => match &self.result {
                Some(result) => RgbImage::clone(&result.image),
                None => return self.error("Nothing to export yet: open an image and wait for the edit"),
            },
            ExportKind::CompareView => match (&self.input, &self.reconstruction, &self.result) {
                (Some(input), Some(reconstruction), Some(result)) => {
                    side_by_side(&[&input.shown.image, &reconstruction.image, &result.image])
                }
                _ => return self.error("Nothing to compare yet: open an image and wait for the edit"),
            },
            ExportKind::InterpolationStrip { frames } => {
                let stack = self.document.stack();
                if stack.blend.is_none() || !self.inverted {
                    return self.error("An interpolation strip needs an image and both edits A and B");
                }
                self.pending_strip = Some(path.to_path_buf());
                self.worker.send(super::worker::Request::Frames { stack, count: frames.max(2) });
                return;
            }
        };
        self.write_export(kind, path, &image);
    }

    pub(super) fn finish_strip_export(&mut self, frames: Vec<RgbImage>) {
        let Some(path) = self.pending_strip.take() else { return };
        let refs: Vec<&RgbImage> = frames.iter().collect();
        self.write_export(ExportKind::InterpolationStrip { frames: frames.len() }, &path, &side_by_side(&refs));
    }

    fn write_export(&mut self, kind: ExportKind, path: &Path, image: &RgbImage) {
        match image.save(path) {
            Ok(()) => {
                if kind == ExportKind::Result {
                    self.export_path = Some(path.to_path_buf());
                }
                self.settings.last_export_dir = path.parent().map(Path::to_path_buf);
                self.save_settings();
                self.info(format!("Exported {}", path.display()));
            }
            Err(e) => self.error(format!("Export failed, nothing was written to {}: {e}", path.display())),
        }
    }
}
