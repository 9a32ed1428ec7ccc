//! The eframe editor. It never touches tensors: models run on the worker thread behind the engine,
//! and the UI sees RGB images.
//!
//! One frame: take the worker's results → handle files, shortcuts → draw one function per panel →
//! if the document's edit stack changed, ask the worker for a render (the newest wins) → record an
//! undo step once the interaction has ended.
mod canvas;
pub mod compare_view;
mod files;
mod panels;
pub mod screenshot;
pub mod settings;
pub mod state;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use image::RgbImage;

use crate::device::SelectedDevice;
use crate::engine::align::{FaceLandmarks, Quad, align, ffhq_quad};
use crate::engine::delta_space::Domain;
use crate::engine::gan::TextEdit;
use crate::engine::recipe::{InputSource, ModelFile};
use crate::engine::session::{EditStack, InversionSteps};
use crate::weights::registry::WeightsPath;
use canvas::View;
use files::Dialogs;
pub use files::ExportKind;
use settings::{CompareMode, Settings};
use state::{Document, EditSlot, History};
use worker::{Request, Response, Task, Worker};

pub const APP_NAME: &str = "DeltaStudio";

/// An image on the canvas: its pixels, its egui texture, and the copy the GPU compare view uploads.
pub struct Shown {
    pub image: Arc<RgbImage>,
    pub texture: egui::TextureHandle,
    pub color: Arc<egui::ColorImage>,
    /// Changes whenever the pixels do (the compare view re-uploads only then).
    pub version: u64,
}

/// Source of `Shown::version`s, unique across all images of the process.
static NEXT_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Larger images are shown downscaled (GPUs cap texture sizes; the screen has fewer pixels anyway).
const MAX_TEXTURE_SIDE: u32 = 4096;

impl Shown {
    fn new(ctx: &egui::Context, name: &str, image: Arc<RgbImage>) -> Shown {
        let preview = crate::engine::image_input::fit_within(&image, MAX_TEXTURE_SIDE);
        let color = Arc::new(egui::ColorImage::from_rgb([preview.width() as usize, preview.height() as usize], preview.as_raw()));
        let texture = ctx.load_texture(name, Arc::clone(&color), egui::TextureOptions::LINEAR);
        Shown { image, texture, color, version: NEXT_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed) }
    }

    /// New pixels of the same size, reusing the texture (a slider step).
    fn replace(&mut self, image: RgbImage) {
        let color = Arc::new(egui::ColorImage::from_rgb([image.width() as usize, image.height() as usize], image.as_raw()));
        self.texture.set(Arc::clone(&color), egui::TextureOptions::LINEAR);
        self.color = color;
        self.image = Arc::new(image);
        self.version = NEXT_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub struct OpenImage {
    pub source: InputSource,
    /// Refinement and tuning steps of its inversion.
    pub inversion: InversionSteps,
    /// The inversion asked for last: results of earlier images or crops are dropped.
    pub id: u64,
    pub shown: Shown,
    /// Set when the face is aligned: the models see its FFHQ crop, exports paste edits back.
    pub landmarks: Option<FaceLandmarks>,
}

impl OpenImage {
    /// The square the models see, when aligned.
    pub fn quad(&self) -> Option<Quad> {
        self.landmarks.as_ref().and_then(|l| ffhq_quad(l).ok())
    }
}

/// The state of the GAN-path models on the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelsState {
    Loading(Domain),
    /// `files`: the loaded model files with their hashes (recorded in every export's recipe).
    Ready { domain: Domain, files: Vec<ModelFile> },
    Failed { domain: Domain, message: String },
}

impl ModelsState {
    /// The GAN path loaded, being loaded, or that failed to load.
    pub fn domain(&self) -> Domain {
        match self {
            ModelsState::Loading(domain) | ModelsState::Ready { domain, .. } | ModelsState::Failed { domain, .. } => *domain,
        }
    }
}

/// A message in the status bar; errors stay until dismissed or replaced.
#[derive(Debug, Clone)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// Everything the editor shows; one function per panel draws it (panels.rs, canvas.rs).
pub struct EditorApp {
    settings: Settings,
    /// `None` in tests: nothing is written to the user's config.
    settings_path: Option<PathBuf>,
    /// `--weights` from the command line; searched before the settings' folder.
    weights_flag: Option<PathBuf>,
    device_label: String,
    device_reason: String,
    worker: Worker,
    dialogs: Dialogs,
    models: ModelsState,

    document: Document,
    history: History,
    input: Option<OpenImage>,
    reconstruction: Option<Shown>,
    /// The edit as last rendered.
    result: Option<Shown>,
    /// The newest render request sent, and what it asked for.
    sent: Option<(u64, EditStack)>,
    /// The generation of `result`.
    shown_generation: u64,
    /// Whether `input` has been inverted with the current models.
    inverted: bool,
    last_edit_time: Option<Duration>,
    last_inversion_time: Option<Duration>,
    next_image_id: u64,

    view: View,
    /// The first canvas slot as last drawn (for "100 %").
    last_slot: Option<egui::Rect>,
    split_position: f32,
    difference_gain: f32,
    compare_with_input: bool,
    seed: u64,
    notice: Option<Notice>,
    /// Where Ctrl+S writes after the first export.
    export_path: Option<PathBuf>,
    show_models: bool,
    /// The models screen's list (looked up when it opens) and a running hash check.
    model_files: Option<Result<Vec<crate::weights::registry::FileStatus>, String>>,
    hashing: Option<std::sync::mpsc::Receiver<Result<Vec<crate::weights::registry::FileStatus>, String>>>,
    show_settings: bool,
    /// Export waiting for the user to confirm overwriting the input photo.
    confirm_overwrite: Option<(files::ExportKind, PathBuf)>,
    /// Where the interpolation strip being rendered goes.
    pending_strip: Option<PathBuf>,
    /// The edit whose strength is being fitted.
    fitting: Option<EditSlot>,
    screenshot: Option<screenshot::ScreenshotRequest>,
}

impl EditorApp {
    /// `settings_path: None` keeps settings in memory only (tests).
    pub fn new(device: &SelectedDevice, weights_flag: Option<PathBuf>, settings_path: Option<PathBuf>) -> Self {
        let settings = settings_path.as_deref().map(Settings::load).unwrap_or_default();
        let document = Document::new(settings.domain.default_beta());
        let mut app = EditorApp {
            worker: Worker::spawn(device.device.clone()),
            dialogs: Dialogs::default(),
            models: ModelsState::Loading(settings.domain),
            history: History::new(&document),
            document,
            settings,
            settings_path,
            weights_flag,
            device_label: device.label.clone(),
            device_reason: device.reason.clone(),
            input: None,
            reconstruction: None,
            result: None,
            sent: None,
            shown_generation: 0,
            inverted: false,
            last_edit_time: None,
            last_inversion_time: None,
            next_image_id: 1,
            view: View::default(),
            last_slot: None,
            split_position: 0.5,
            difference_gain: 4.0,
            compare_with_input: false,
            seed: 1,
            notice: None,
            export_path: None,
            show_models: false,
            model_files: None,
            hashing: None,
            show_settings: false,
            confirm_overwrite: None,
            pending_strip: None,
            fitting: None,
            screenshot: None,
        };
        app.load_models(app.settings.domain);
        app
    }

    /// The weights folders in search order: `--weights`, the settings' folder, then the standard ones.
    fn weights(&self) -> WeightsPath {
        let mut path = WeightsPath::new(self.weights_flag.as_deref());
        if let Some(dir) = &self.settings.weights_dir {
            let at = usize::from(self.weights_flag.is_some());
            path.dirs.insert(at, (crate::weights::registry::SearchOrigin::Settings, dir.clone()));
        }
        path
    }

    /// Loads `domain`'s models; the worker then inverts the current image with them again.
    pub fn load_models(&mut self, domain: Domain) {
        self.models = ModelsState::Loading(domain);
        self.inverted = false;
        self.reconstruction = None;
        self.result = None;
        self.sent = None;
        self.worker.send(Request::LoadModels { weights: self.weights(), domain });
    }

    /// Whether the worker still owes a result the UI is waiting for (tests poll this).
    pub fn is_busy(&self) -> bool {
        matches!(self.models, ModelsState::Loading(_))
            || self.dialogs.reading > 0
            || self.worker.progress().is_some()
            || (self.input.is_some() && matches!(self.models, ModelsState::Ready { .. }) && !self.inverted)
            || self.sent.as_ref().is_some_and(|(generation, _)| *generation != self.shown_generation)
            || self.fitting.is_some()
    }

    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    pub fn document(&self) -> &Document {
        &self.document
    }

    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.document
    }

    pub fn models_state(&self) -> &ModelsState {
        &self.models
    }

    pub fn input(&self) -> Option<&OpenImage> {
        self.input.as_ref()
    }

    pub fn result_image(&self) -> Option<&RgbImage> {
        self.result.as_ref().map(|r| r.image.as_ref())
    }

    pub fn reconstruction_image(&self) -> Option<&RgbImage> {
        self.reconstruction.as_ref().map(|r| r.image.as_ref())
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    pub fn undo(&mut self) {
        if !self.history.undo(&mut self.document) {
            self.info("Nothing to undo");
        }
    }

    pub fn redo(&mut self) {
        if !self.history.redo(&mut self.document) {
            self.info("Nothing to redo");
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { text: text.into(), error: false });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { text: text.into(), error: true });
    }

    /// Shows `image` as the input and inverts it; the edit stack stays, so the same edits apply to
    /// the new image.
    fn set_input(&mut self, ctx: &egui::Context, source: InputSource, image: RgbImage, landmarks: Option<FaceLandmarks>) {
        let shown = Shown::new(ctx, "input", Arc::new(image));
        let inversion = self.settings.inversion;
        self.input = Some(OpenImage { source, inversion, id: 0, shown, landmarks });
        self.invert_input();
    }

    /// Inverts the input (its aligned crop when it has landmarks) again.
    fn invert_input(&mut self) {
        let Some(input) = self.input.as_mut() else { return };
        input.id = self.next_image_id;
        self.next_image_id += 1;
        let seen = match input.landmarks.as_ref().map(|l| align(&input.shown.image, l)) {
            Some(Ok(aligned)) => Arc::new(aligned.crop),
            Some(Err(e)) => return self.error(format!("Cannot align: {e}")),
            None => input.shown.image.clone(),
        };
        let request = Request::Invert { image_id: input.id, image: seen, steps: input.inversion };
        self.reconstruction = None;
        self.result = None;
        self.inverted = false;
        self.sent = None;
        self.worker.send(request);
    }

    /// Turns alignment on (landmarks to drag onto the face, starting from the centred square) or off.
    pub fn set_aligned(&mut self, aligned: bool) {
        let Some(input) = self.input.as_mut() else { return };
        let landmarks = aligned.then(|| FaceLandmarks::default_for(input.shown.image.width(), input.shown.image.height()));
        if input.landmarks.is_some() != aligned {
            input.landmarks = landmarks;
            self.invert_input();
        }
    }

    /// A new built-in portrait (rendered here: a few milliseconds).
    pub fn new_portrait(&mut self, ctx: &egui::Context, seed: u64) {
        self.seed = seed;
        let source = InputSource::Builtin { seed, size: files::PORTRAIT_SIZE };
        match source.load() {
            Ok(image) => self.set_input(ctx, source, image, None),
            Err(e) => return self.error(format!("Cannot render portrait {seed}: {e}")),
        }
        self.info(format!("Built-in portrait, seed {seed}"));
    }

    fn poll_worker(&mut self, ctx: &egui::Context) {
        while let Some(response) = self.worker.try_recv() {
            match response {
                Response::ModelsLoaded { domain, files, elapsed } => {
                    self.info(format!("{} models loaded in {:.1} s", worker::domain_name(domain), elapsed.as_secs_f64()));
                    self.models = ModelsState::Ready { domain, files };
                }
                Response::Inverted { image_id, reconstruction, elapsed } => {
                    if self.input.as_ref().is_some_and(|i| i.id == image_id) {
                        self.reconstruction = Some(Shown::new(ctx, "reconstruction", Arc::new(reconstruction)));
                        self.inverted = true;
                        self.sent = None;
                        self.last_inversion_time = Some(elapsed);
                    }
                }
                Response::Rendered { generation, image, elapsed } => {
                    if generation > self.shown_generation {
                        self.shown_generation = generation;
                        self.last_edit_time = Some(elapsed);
                        match &mut self.result {
                            Some(shown) if shown.image.dimensions() == image.dimensions() => shown.replace(image),
                            _ => self.result = Some(Shown::new(ctx, "result", Arc::new(image))),
                        }
                    }
                }
                Response::Frames { frames } => self.finish_strip_export(frames),
                Response::StrengthFitted { slot, edit, strength } => self.apply_fitted_strength(slot, &edit, strength),
                Response::Failed { task, message } => {
                    match task {
                        Task::LoadModels => {
                            let domain = self.models.domain();
                            self.models = ModelsState::Failed { domain, message: message.clone() };
                        }
                        Task::Invert => self.inverted = true,
                        Task::Render => self.shown_generation = self.sent.as_ref().map_or(0, |(g, _)| *g),
                        Task::Frames => self.pending_strip = None,
                        Task::FitStrength => self.fitting = None,
                    }
                    self.error(format!("{}: {message}", task.describe()));
                }
            }
        }
    }

    /// Asks the worker for the strength that suits the edit in `slot` on the current image.
    pub fn fit_strength(&mut self, slot: EditSlot) {
        if !self.inverted || self.reconstruction.is_none() {
            return self.info("Open a portrait before fitting a strength");
        }
        let Some(edit) = self.document.entry_mut(slot).and_then(|e| e.text_edit()) else {
            return self.info("Type a target before fitting its strength");
        };
        self.fitting = Some(slot);
        self.worker.send(Request::FitStrength { slot, edit, shown: self.document.keep_unedited_options() });
    }

    /// Sets the fitted strength, unless the edit was changed (other than its strength) meanwhile.
    fn apply_fitted_strength(&mut self, slot: EditSlot, edit: &TextEdit, strength: f32) {
        if self.fitting == Some(slot) {
            self.fitting = None;
        }
        let Some(entry) = self.document.entry_mut(slot) else { return };
        if entry.text_edit().is_some_and(|now| TextEdit { strength: edit.strength, ..now } == *edit) {
            entry.strength = strength;
            self.info(format!("Strength fitted to this image: {strength}"));
        }
    }

    /// Sends a render when what the document asks for differs from the last request.
    fn request_render(&mut self) {
        // A failed inversion leaves no reconstruction and nothing to render from.
        if self.reconstruction.is_none() || !matches!(self.models, ModelsState::Ready { .. }) {
            return;
        }
        let stack = self.document.stack();
        if self.sent.as_ref().is_some_and(|(_, sent)| *sent == stack) {
            return;
        }
        let generation = self.sent.as_ref().map_or(self.shown_generation, |(g, _)| *g) + 1;
        self.worker.send(Request::Render { generation, stack: stack.clone() });
        self.sent = Some((generation, stack));
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let shortcut = |modifiers, key| KeyboardShortcut::new(modifiers, key);
        let ctrl_shift = Modifiers::COMMAND | Modifiers::SHIFT;
        // Inside a text field, Ctrl+Z belongs to the field.
        let typing = ctx.egui_wants_keyboard_input();
        let pressed = |s: KeyboardShortcut| ctx.input_mut(|i| i.consume_shortcut(&s));
        // Longer combinations first: Ctrl+Shift+Z would also match Ctrl+Z.
        if !typing && (pressed(shortcut(ctrl_shift, Key::Z)) || pressed(shortcut(Modifiers::COMMAND, Key::Y))) {
            self.redo();
        } else if !typing && pressed(shortcut(Modifiers::COMMAND, Key::Z)) {
            self.undo();
        }
        if pressed(shortcut(ctrl_shift, Key::S)) {
            self.dialogs.export(files::ExportKind::Result, self.settings.last_export_dir.clone(), self.default_export_name());
        } else if pressed(shortcut(Modifiers::COMMAND, Key::S)) {
            self.quick_export();
        }
        if pressed(shortcut(Modifiers::COMMAND, Key::O)) {
            self.dialogs.open_image(self.settings.last_open_dir.clone());
        }
    }

    /// Draws the whole window; separate from `eframe::App` so tests can drive it with egui_kittest.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.worker.set_repaint_context(&ctx);
        self.poll_worker(&ctx);
        self.poll_dialogs(&ctx);
        self.take_dropped_and_pasted(&ctx);
        self.shortcuts(&ctx);

        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("edit_panel").resizable(true).default_size(340.0).show(ui, |ui| self.edit_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
        self.models_window(&ctx);
        self.settings_window(&ctx);
        self.overwrite_modal(&ctx);

        self.request_render();
        let interacting = ctx.input(|i| i.pointer.any_down()) || ctx.egui_wants_keyboard_input();
        if !interacting {
            self.history.settle(&self.document);
        }
        if self.worker.progress().is_some() {
            // The spinner and elapsed time move even when no event comes.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    fn save_settings(&mut self) {
        if let Some(path) = &self.settings_path
            && let Err(e) = self.settings.save(path)
        {
            let message = format!("settings could not be saved to {}: {e}", path.display());
            self.error(message);
        }
    }
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
        if self.screenshot.is_some() && !self.is_busy() {
            screenshot::drive(ui.ctx(), &mut self.screenshot);
        } else if self.screenshot.is_some() {
            ui.ctx().request_repaint_after(Duration::from_millis(20));
        }
    }

    fn on_exit(&mut self) {
        self.save_settings();
    }
}

/// What the command line asks the editor to do at start.
#[derive(Debug, Default)]
pub struct StartOptions {
    pub weights: Option<PathBuf>,
    /// An image to open.
    pub open: Option<PathBuf>,
    /// An exported PNG or saved session to restore.
    pub recipe: Option<PathBuf>,
    pub compare: Option<CompareMode>,
    /// Save a screenshot here once everything asked for is shown, then quit.
    pub screenshot: Option<PathBuf>,
}

/// Frames drawn before a screenshot, after all work is done (fonts and layout settle).
const SCREENSHOT_SETTLE_FRAMES: u32 = 5;

/// Opens the editor window. With a GPU, egui renders on the same wgpu device as the models.
pub fn run(device: SelectedDevice, start: StartOptions) -> Result<(), eframe::Error> {
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(APP_NAME)
            .with_inner_size([1280.0, 800.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    if let Some(setup) = &device.wgpu_setup {
        options.wgpu_options.wgpu_setup = eframe::egui_wgpu::WgpuSetup::Existing(eframe::egui_wgpu::WgpuSetupExisting {
            instance: setup.instance.clone(),
            adapter: setup.adapter.clone(),
            device: setup.device.clone(),
            queue: setup.queue.clone(),
        });
    }
    let mut app = EditorApp::new(&device, start.weights, Settings::default_path());
    if let Some(path) = &start.open {
        app.open_path(path);
    }
    if let Some(path) = &start.recipe {
        app.open_recipe(path);
    }
    if let Some(mode) = start.compare {
        app.settings.compare = mode;
    }
    app.screenshot = start.screenshot.map(|path| screenshot::ScreenshotRequest::new(path, SCREENSHOT_SETTLE_FRAMES));
    let started = Instant::now();
    eframe::run_native(
        APP_NAME,
        options,
        Box::new(move |cc| {
            if !compare_view::install(&cc.egui_ctx, cc.wgpu_render_state.as_ref()) {
                log::warn!("no wgpu renderer: the split and difference views are unavailable");
            }
            log::info!("window ready after {:.2} s", started.elapsed().as_secs_f64());
            Ok(Box::new(app))
        }),
    )
}
