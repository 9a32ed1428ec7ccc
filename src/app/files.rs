//! Files in and out: native dialogs, drag-and-drop, paste, decoding, export.
//!
//! Dialogs and decoding run on short-lived threads (a native dialog or a 50-megapixel JPEG would
//! otherwise stall the frame); their results come back through one channel polled every frame.
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use eframe::egui;
use image::RgbImage;

use super::state::Document;
use super::{EditorApp, ModelsState};
use crate::engine::align::{DEFAULT_FEATHER, paste_back};
use crate::engine::export::{read_recipe, side_by_side_scaled, write_atomic, write_png};
use crate::engine::gan::Method;
use crate::engine::recipe::{InputSource, Layout, Recipe, image_sha256};

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

impl ExportKind {
    fn layout(self) -> Layout {
        match self {
            ExportKind::Result => Layout::Single,
            ExportKind::CompareView => Layout::CompareView,
            ExportKind::InterpolationStrip { frames } => Layout::InterpolationStrip { frames: frames as u32 },
        }
    }
}

/// Why a dialog was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    OpenImage,
    OpenRecipe,
    SaveSession,
    Export(ExportKind),
    WeightsFolder,
}

enum FileEvent {
    Picked { purpose: Purpose, path: PathBuf },
    Decoded { path: PathBuf, result: Result<RgbImage, String> },
    /// A recipe and its rebuilt input image.
    RecipeRead { path: PathBuf, result: Result<(Recipe, RgbImage), String> },
}

pub struct Dialogs {
    sender: Sender<FileEvent>,
    events: Receiver<FileEvent>,
    /// Files being decoded or recipes being read (not dialogs waiting for the user).
    pub reading: usize,
}

impl Default for Dialogs {
    fn default() -> Self {
        let (sender, events) = channel();
        Dialogs { sender, events, reading: 0 }
    }
}

impl Dialogs {
    /// Opens a native dialog now (on the UI thread, as macOS requires) and waits for the user on
    /// another thread.
    fn spawn(&self, purpose: Purpose, dialog: impl std::future::Future<Output = Option<PathBuf>> + Send + 'static) {
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            if let Some(path) = pollster::block_on(dialog) {
                let _ = sender.send(FileEvent::Picked { purpose, path });
            }
        });
    }

    fn dialog(title: &str, dir: Option<PathBuf>) -> rfd::AsyncFileDialog {
        let dialog = rfd::AsyncFileDialog::new().set_title(title);
        match dir {
            Some(dir) => dialog.set_directory(dir),
            None => dialog,
        }
    }

    pub fn open_image(&self, dir: Option<PathBuf>) {
        let picked = Self::dialog("Open an image", dir).add_filter("Images", IMAGE_EXTENSIONS).pick_file();
        self.spawn(Purpose::OpenImage, async { picked.await.map(|f| f.path().to_path_buf()) });
    }

    pub fn export(&self, kind: ExportKind, dir: Option<PathBuf>, file_name: String) {
        let picked = Self::dialog("Export PNG", dir).add_filter("PNG", &["png"]).set_file_name(file_name).save_file();
        self.spawn(Purpose::Export(kind), async {
            let path = picked.await?.path().to_path_buf();
            Some(if path.extension().is_none() { path.with_extension("png") } else { path })
        });
    }

    pub fn open_recipe(&self, dir: Option<PathBuf>) {
        let picked = Self::dialog("Open a recipe", dir).add_filter("Exported PNG or session", &["png", "json"]).pick_file();
        self.spawn(Purpose::OpenRecipe, async { picked.await.map(|f| f.path().to_path_buf()) });
    }

    pub fn save_session(&self, dir: Option<PathBuf>, file_name: String) {
        let picked = Self::dialog("Save session", dir).add_filter("DeltaStudio session", &["json"]).set_file_name(file_name).save_file();
        self.spawn(Purpose::SaveSession, async { picked.await.map(|f| f.path().to_path_buf()) });
    }

    pub fn weights_folder(&self) {
        let picked = Self::dialog("Weights folder", None).pick_folder();
        self.spawn(Purpose::WeightsFolder, async { picked.await.map(|f| f.path().to_path_buf()) });
    }

    /// Decodes `path` off the UI thread.
    fn decode(&mut self, path: PathBuf) {
        self.reading += 1;
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let result = decode_file(&path);
            let _ = sender.send(FileEvent::Decoded { path, result });
        });
    }

    /// Reads a recipe (an exported PNG or a saved session) and rebuilds its input, off the UI thread.
    fn read_recipe(&mut self, path: PathBuf) {
        self.reading += 1;
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let recipe = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
                std::fs::read_to_string(&path).map_err(|e| crate::Error::io(&path, e)).and_then(|text| Recipe::from_json(&text))
            } else {
                read_recipe(&path)
            };
            let result = recipe.and_then(|r| Ok((r.load_input()?, r))).map(|(image, r)| (r, image)).map_err(|e| e.to_string());
            let _ = sender.send(FileEvent::RecipeRead { path, result });
        });
    }
}

fn decode_file(path: &Path) -> Result<RgbImage, String> {
    crate::engine::image_input::load_image(path).map_err(|e| e.to_string())
}

impl EditorApp {
    /// Opens an image file (decoded in the background; the canvas changes when it is ready).
    pub fn open_path(&mut self, path: &Path) {
        self.info(format!("Opening {}", path.display()));
        self.dialogs.decode(path.to_path_buf());
    }

    pub(super) fn poll_dialogs(&mut self, ctx: &egui::Context) {
        while let Ok(event) = self.dialogs.events.try_recv() {
            if matches!(event, FileEvent::Decoded { .. } | FileEvent::RecipeRead { .. }) {
                self.dialogs.reading -= 1;
            }
            match event {
                FileEvent::Picked { purpose: Purpose::OpenImage, path } => self.open_path(&path),
                FileEvent::Picked { purpose: Purpose::OpenRecipe, path } => self.open_recipe(&path),
                FileEvent::Picked { purpose: Purpose::SaveSession, path } => self.save_session(&path),
                FileEvent::Picked { purpose: Purpose::Export(kind), path } => self.export_to(kind, &path, false),
                FileEvent::Picked { purpose: Purpose::WeightsFolder, path } => {
                    self.settings.weights_dir = Some(path);
                    self.model_files = None;
                    self.save_settings();
                    self.load_models(self.settings.domain);
                }
                FileEvent::Decoded { path, result } => match result {
                    Ok(image) => {
                        self.settings.last_open_dir = path.parent().map(Path::to_path_buf);
                        self.settings.add_recent(&path);
                        self.save_settings();
                        let source = InputSource::File { path: std::path::absolute(&path).unwrap_or(path.clone()).display().to_string() };
                        self.set_input(ctx, source, image, None);
                        self.info(format!("Opened {}", path.display()));
                    }
                    // The current image and edits stay as they were.
                    Err(message) => self.error(format!("Cannot open the image: {message}")),
                },
                FileEvent::RecipeRead { path, result } => match result {
                    Ok((recipe, image)) => self.apply_recipe(ctx, &path, recipe, image),
                    Err(message) => self.error(format!("Cannot open the recipe {}: {message}", path.display())),
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
            let [w, h] = image.size;
            // Alpha is flattened like any file's; egui's colours are premultiplied, so unmultiply first.
            let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_srgba_unmultiplied()).collect();
            match crate::engine::image_input::from_rgba(w as u32, h as u32, &rgba) {
                Ok(image) => self.open_pasted(ctx, image),
                Err(e) => self.error(format!("Cannot paste the image: {e}")),
            }
        }
    }

    /// A pasted image is kept as a PNG in the data folder, so recipes can name it like any file.
    fn open_pasted(&mut self, ctx: &egui::Context, image: RgbImage) {
        let Some(dir) = directories::ProjectDirs::from("", "", "deltastudio").map(|d| d.data_dir().join("pasted")) else {
            return self.error("Cannot keep the pasted image: this platform has no data folder");
        };
        let path = dir.join(format!("{}.png", &image_sha256(&image)[..16]));
        let written = std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e)).and_then(|()| write_png(&path, &image, None));
        match written {
            Ok(()) => {
                self.set_input(ctx, InputSource::File { path: path.display().to_string() }, image, None);
                self.info(format!("Pasted an image (kept as {})", path.display()));
            }
            Err(e) => self.error(format!("Cannot keep the pasted image: {e}")),
        }
    }

    /// Opens an exported PNG's recipe or a saved session: its input, models and edits.
    pub fn open_recipe(&mut self, path: &Path) {
        self.info(format!("Opening the recipe in {}", path.display()));
        self.dialogs.read_recipe(path.to_path_buf());
    }

    fn apply_recipe(&mut self, ctx: &egui::Context, path: &Path, recipe: Recipe, image: RgbImage) {
        if recipe.domain != self.models.domain() {
            self.settings.domain = recipe.domain;
            self.load_models(recipe.domain);
        }
        if let InputSource::Builtin { seed, .. } = recipe.input {
            self.seed = seed;
        }
        self.settings.inversion = recipe.inversion;
        self.set_input(ctx, recipe.input.clone(), image, recipe.alignment);
        // One undoable step: the edits before the recipe are a Ctrl+Z away.
        self.history.settle(&self.document);
        self.document = Document::from_stack(&recipe.stack, recipe.domain.default_beta());
        self.history.settle(&self.document);
        let changed = match &self.models {
            ModelsState::Ready { files, .. } => files.iter().any(|f| recipe.models.iter().any(|r| r.name == f.name && r.sha256 != f.sha256)),
            _ => false,
        };
        if changed {
            self.info(format!("Opened {}; some model files differ from the ones it was made with", path.display()));
        } else {
            self.info(format!("Opened the recipe of {}", path.display()));
        }
    }

    /// The recipe of what is on screen, or why there is none yet.
    fn recipe(&self, layout: Layout) -> Result<Recipe, &'static str> {
        let input = self.input.as_ref().ok_or("open an image first")?;
        let ModelsState::Ready { domain, files } = &self.models else { return Err("the models are not loaded") };
        let recipe = Recipe::new(*domain, Method::DeltaEdit, input.source.clone(), &input.shown.image, files.clone(), input.inversion, self.document.stack());
        Ok(Recipe { layout, alignment: input.landmarks, ..recipe })
    }

    fn save_session(&mut self, path: &Path) {
        let recipe = match self.recipe(Layout::Single) {
            Ok(recipe) => recipe,
            Err(why) => return self.error(format!("Nothing to save: {why}")),
        };
        let written = write_atomic(path, |out| {
            use std::io::Write;
            out.write_all(recipe.to_json().as_bytes()).map_err(|e| crate::Error::io(path, e))
        });
        match written {
            Ok(()) => self.info(format!("Saved the session to {}", path.display())),
            Err(e) => self.error(format!("The session was not saved: {e}")),
        }
    }

    pub(super) fn default_export_name(&self) -> String {
        let stem = match self.input.as_ref().map(|i| &i.source) {
            Some(InputSource::Builtin { seed, .. }) => format!("portrait-{seed}"),
            Some(InputSource::File { path }) => Path::new(path).file_stem().map_or("image".into(), |s| s.to_string_lossy().into_owned()),
            None => "image".into(),
        };
        format!("{stem}-edited.png")
    }
}

impl EditorApp {
    fn is_input_path(&self, path: &Path) -> bool {
        let Some(InputSource::File { path: input }) = self.input.as_ref().map(|i| &i.source) else { return false };
        let input = Path::new(input);
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
                Some(result) => self.placed(&result.image),
                None => return self.error("Nothing to export yet: open an image and wait for the edit"),
            },
            ExportKind::CompareView => match (&self.input, &self.reconstruction, &self.result) {
                (Some(input), Some(reconstruction), Some(result)) => {
                    side_by_side_scaled(&[&input.shown.image, &self.placed(&reconstruction.image), &self.placed(&result.image)])
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
        let frames: Vec<RgbImage> = frames.iter().map(|f| self.placed(f)).collect();
        self.write_export(ExportKind::InterpolationStrip { frames: frames.len() }, &path, &crate::engine::export::strip(&frames));
    }

    /// A render of the models as exported: pasted back into the photo when the face was aligned.
    fn placed(&self, render: &RgbImage) -> RgbImage {
        match self.input.as_ref().and_then(|i| Some((i, i.quad()?))) {
            Some((input, quad)) => paste_back(&input.shown.image, render, &quad, DEFAULT_FEATHER),
            None => render.clone(),
        }
    }

    fn write_export(&mut self, kind: ExportKind, path: &Path, image: &RgbImage) {
        let recipe = match self.recipe(kind.layout()) {
            Ok(recipe) => recipe,
            Err(why) => return self.error(format!("Nothing to export: {why}")),
        };
        match write_png(path, image, Some(&recipe)) {
            Ok(()) => {
                if kind == ExportKind::Result {
                    self.export_path = Some(path.to_path_buf());
                }
                self.settings.last_export_dir = path.parent().map(Path::to_path_buf);
                self.save_settings();
                self.info(format!("Exported {}", path.display()));
            }
            Err(e) => self.error(format!("Export failed, nothing was written: {e}")),
        }
    }
}
