//! One function per panel: menu bar, edit panel, status bar, models and settings windows.
use eframe::egui;

use super::files::ExportKind;
use super::state::{EditEntry, EditSlot};
use super::worker::domain_name;
use super::{EditorApp, ModelsState};
use crate::device::DevicePreference;
use crate::engine::delta_space::Domain;
use crate::engine::recipe::InputSource;
use crate::weights::registry;

/// Slider ranges; typed values may go beyond them.
const STRENGTH_RANGE: std::ops::RangeInclusive<f32> = -3.0..=5.0;
const BETA_RANGE: std::ops::RangeInclusive<f32> = 0.0..=0.3;
/// Frames in an exported interpolation strip.
const STRIP_FRAMES: usize = 8;

/// What a row of the edit stack asked for this frame.
enum RowAction {
    None,
    Up,
    Down,
    Remove,
}

/// Prompt fields and sliders of one edit; `id` keeps widget state apart between rows. Each field
/// is labelled by its caption (screen readers and UI tests find it by that name). Returns whether
/// the strength's "Auto" button was clicked.
fn edit_fields(ui: &mut egui::Ui, id: &str, entry: &mut EditEntry, neutral: &str) -> bool {
    let mut fit = false;
    egui::Grid::new(id).num_columns(2).show(ui, |ui| {
        let label = ui.label("Target");
        ui.add(egui::TextEdit::singleline(&mut entry.target).hint_text("a face with a smile").desired_width(f32::INFINITY))
            .labelled_by(label.id)
            .on_hover_text("What the image should show");
        ui.end_row();
        let label = ui.label("Source");
        ui.add(egui::TextEdit::singleline(&mut entry.source).hint_text(neutral).desired_width(f32::INFINITY))
            .labelled_by(label.id)
            .on_hover_text("The neutral description the edit starts from");
        ui.end_row();
        let label = ui.label("Strength");
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut entry.strength, STRENGTH_RANGE).clamping(egui::SliderClamping::Never).step_by(0.01))
                .labelled_by(label.id)
                .on_hover_text("How far to move along the edit; 0 is the reconstruction");
            fit = ui
                .small_button("Auto")
                .on_hover_text("Set the strength for this image: the smallest that brings most of the CLIP similarity to the target")
                .clicked();
        });
        ui.end_row();
        let label = ui.label("β");
        ui.add(egui::Slider::new(&mut entry.beta, BETA_RANGE).clamping(egui::SliderClamping::Never).step_by(0.005))
            .labelled_by(label.id)
            .on_hover_text("Disentanglement: style channels less relevant to the text than β are left alone");
        ui.end_row();
    });
    fit
}

impl EditorApp {
    pub(super) fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New random portrait").clicked() {
                    let seed = self.seed;
                    self.new_portrait(ui.ctx(), seed);
                }
                if ui.button("Open image…  Ctrl+O").clicked() {
                    self.dialogs.open_image(self.settings.last_open_dir.clone());
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent_files.is_empty() {
                        ui.weak("No recent files");
                    }
                    for path in self.settings.recent_files.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            self.open_path(&path);
                        }
                    }
                });
                if ui.button("Open recipe…").on_hover_text("An exported PNG or a saved session: its image, models and edits").clicked() {
                    self.dialogs.open_recipe(self.settings.last_export_dir.clone());
                }
                if ui.button("Save session…").clicked() {
                    self.dialogs.save_session(self.settings.last_export_dir.clone(), self.default_export_name().replace("-edited.png", ".json"));
                }
                ui.separator();
                if ui.button("Export result  Ctrl+S").clicked() {
                    self.quick_export();
                }
                if ui.button("Export result as…  Ctrl+Shift+S").clicked() {
                    self.dialogs.export(ExportKind::Result, self.settings.last_export_dir.clone(), self.default_export_name());
                }
                if ui.button("Export compare view…").clicked() {
                    self.dialogs.export(ExportKind::CompareView, self.settings.last_export_dir.clone(), self.default_export_name().replace("-edited", "-compare"));
                }
                if ui.button(format!("Export interpolation strip ({STRIP_FRAMES} frames)…")).clicked() {
                    self.dialogs.export(
                        ExportKind::InterpolationStrip { frames: STRIP_FRAMES },
                        self.settings.last_export_dir.clone(),
                        self.default_export_name().replace("-edited", "-interpolation"),
                    );
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui.add_enabled(self.history.can_undo(), egui::Button::new("Undo  Ctrl+Z")).clicked() {
                    self.undo();
                }
                if ui.add_enabled(self.history.can_redo(), egui::Button::new("Redo  Ctrl+Shift+Z")).clicked() {
                    self.redo();
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Models…").clicked() {
                    self.show_models = true;
                }
                if ui.button("Settings…").clicked() {
                    self.show_settings = true;
                }
            });
        });
    }

    pub(super) fn edit_panel(&mut self, ui: &mut egui::Ui) {
        let domain = self.models.domain();
        let neutral = domain.neutral_prompt();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Portrait");
            ui.horizontal(|ui| {
                let label = ui.label("Seed");
                ui.add(egui::DragValue::new(&mut self.seed)).labelled_by(label.id);
                if ui.button("New random portrait").clicked() {
                    let seed = self.seed;
                    self.new_portrait(ui.ctx(), seed);
                }
                if ui.button("Next").on_hover_text("Next seed").clicked() {
                    self.seed = self.seed.wrapping_add(1);
                    let seed = self.seed;
                    self.new_portrait(ui.ctx(), seed);
                }
            });
            if let Some(input) = self.input.as_ref().filter(|i| matches!(i.source, InputSource::File { .. })) {
                let mut aligned = input.landmarks.is_some();
                let hint = "For photos: drag the four points onto the eye centres and the mouth corners. The models see the \
                            FFHQ crop they define, and exports paste the edit back into the photo.";
                if ui.checkbox(&mut aligned, "Align the face (4 points)").on_hover_text(hint).changed() {
                    self.set_aligned(aligned);
                }
            }
            ui.separator();

            ui.heading("Edits");
            let count = self.document.edits.len();
            let mut action = (0, RowAction::None);
            let mut fit = None;
            for (i, entry) in self.document.edits.iter_mut().enumerate() {
                ui.push_id(("edit", i), |ui| {
                    egui::Frame::group(ui.style()).show(ui, |ui| {
                        ui.horizontal(|ui| {
                            ui.checkbox(&mut entry.enabled, format!("Edit {}", i + 1)).on_hover_text("Toggle this edit");
                            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                                if ui.small_button("Remove").on_hover_text("Remove").clicked() {
                                    action = (i, RowAction::Remove);
                                }
                                if ui.add_enabled(i + 1 < count, egui::Button::new("Down").small()).on_hover_text("Move down").clicked() {
                                    action = (i, RowAction::Down);
                                }
                                if ui.add_enabled(i > 0, egui::Button::new("Up").small()).on_hover_text("Move up").clicked() {
                                    action = (i, RowAction::Up);
                                }
                            });
                        });
                        if edit_fields(ui, &format!("edit-grid-{i}"), entry, neutral) {
                            fit = Some(EditSlot::Stacked(i));
                        }
                    });
                });
            }
            match action {
                (i, RowAction::Up) => self.document.edits.swap(i, i - 1),
                (i, RowAction::Down) => self.document.edits.swap(i, i + 1),
                (i, RowAction::Remove) => {
                    self.document.edits.remove(i);
                }
                (_, RowAction::None) => {}
            }
            if ui.button("+ Add edit").clicked() {
                self.document.edits.push(EditEntry::new("", domain.default_beta()));
            }
            ui.checkbox(&mut self.document.keep_unedited, "Keep unedited pixels").on_hover_text(
                "Show the input's own pixels wherever the edits leave the picture unchanged: the inversion's blur \
                 stays out of the parts no edit touches.",
            );
            ui.separator();

            let interpolation = &mut self.document.interpolation;
            ui.checkbox(&mut interpolation.enabled, egui::RichText::new("Interpolate between two edits").heading());
            ui.add_enabled_ui(interpolation.enabled, |ui| {
                ui.label("Edit A");
                if edit_fields(ui, "edit-a", &mut interpolation.a, neutral) {
                    fit = Some(EditSlot::BlendA);
                }
                ui.label("Edit B");
                if edit_fields(ui, "edit-b", &mut interpolation.b, neutral) {
                    fit = Some(EditSlot::BlendB);
                }
                ui.horizontal(|ui| {
                    ui.label("A");
                    ui.add(egui::Slider::new(&mut interpolation.lambda, 0.0..=1.0).text("λ, A to B"));
                });
            });
            if let Some(slot) = fit {
                self.fit_strength(slot);
            }
        });
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("Device: {}", self.device_label)).on_hover_text(&self.device_reason);
            ui.separator();
            match &self.models {
                ModelsState::Loading(d) => {
                    ui.spinner();
                    ui.label(format!("Loading the {} models…", domain_name(*d)));
                }
                ModelsState::Ready { domain, .. } => {
                    ui.label(format!("Models: {}", domain_name(*domain)));
                }
                ModelsState::Failed { domain, .. } => {
                    if ui.link(format!("Models: {} missing — details", domain_name(*domain))).clicked() {
                        self.show_models = true;
                    }
                }
            }
            if let Some(t) = self.last_inversion_time {
                ui.separator();
                ui.label(format!("Inversion: {:.0} ms", t.as_secs_f64() * 1000.0));
            }
            if let Some(t) = self.last_edit_time {
                ui.separator();
                ui.label(format!("Last edit: {:.1} ms", t.as_secs_f64() * 1000.0));
            }
            if let Some(progress) = self.worker.progress() {
                ui.separator();
                ui.spinner();
                let elapsed = progress.started.elapsed().as_secs_f64();
                match progress.steps {
                    Some((done, total)) => {
                        ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(120.0).text(format!("{done}/{total}")));
                        ui.label(format!("{} · {elapsed:.1} s", progress.task.describe()));
                    }
                    None => {
                        ui.label(format!("{} · {elapsed:.1} s", progress.task.describe()));
                    }
                }
                if elapsed > 1.0 && progress.steps.is_some() && ui.button("Cancel").clicked() {
                    self.worker.cancel();
                }
            }
            if let Some(notice) = self.notice.as_ref().filter(|n| !n.error) {
                ui.separator();
                ui.weak(&notice.text);
            }
        });
    }

    pub(super) fn models_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_models;
        egui::Window::new("Models").open(&mut open).default_width(720.0).show(ctx, |ui| {
            let active = self.models.domain();
            ui.horizontal(|ui| {
                ui.label("GAN path:");
                for domain in [Domain::Builtin, Domain::Ffhq] {
                    if ui.selectable_label(active == domain, domain_name(domain)).clicked() && active != domain {
                        self.settings.domain = domain;
                        self.save_settings();
                        self.load_models(domain);
                    }
                }
            });
            if let ModelsState::Failed { message, .. } = &self.models {
                ui.colored_label(ui.visuals().error_fg_color, message);
            }
            let weights = self.weights();
            ui.label("Searched, in order:");
            for (origin, dir) in &weights.dirs {
                ui.monospace(format!("  {origin}: {}", dir.display()));
            }
            ui.horizontal(|ui| {
                if ui.button("Choose weights folder…").clicked() {
                    self.dialogs.weights_folder();
                }
                if let Some(dir) = &self.settings.weights_dir {
                    ui.label(format!("settings folder: {}", dir.display()));
                }
            });
            ui.separator();
            if self.model_files.is_none() {
                self.model_files = Some(registry::status(&weights, false).map_err(|e| e.to_string()));
            }
            ui.horizontal(|ui| {
                if ui.button("Refresh").clicked() {
                    self.model_files = Some(registry::status(&weights, false).map_err(|e| e.to_string()));
                }
                if self.hashing.is_some() {
                    ui.spinner();
                    ui.label("Hashing…");
                } else if ui.button("Verify hashes").on_hover_text("sha256 of every file found, against the known ones").clicked() {
                    let (sender, receiver) = std::sync::mpsc::channel();
                    let ctx = ui.ctx().clone();
                    std::thread::spawn(move || {
                        let _ = sender.send(registry::status(&weights, true).map_err(|e| e.to_string()));
                        ctx.request_repaint();
                    });
                    self.hashing = Some(receiver);
                }
            });
            if let Some(result) = self.hashing.as_ref().and_then(|r| r.try_recv().ok()) {
                self.model_files = Some(result);
                self.hashing = None;
            }
            match self.model_files.as_ref().expect("listed above") {
                Ok(files) => {
                    egui::ScrollArea::vertical().max_height(360.0).show(ui, |ui| {
                        egui::Grid::new("model-files").striped(true).num_columns(3).show(ui, |ui| {
                            ui.strong("File");
                            ui.strong("Status");
                            ui.strong("What it is for · where to get it");
                            ui.end_row();
                            for file in files {
                                ui.monospace(file.known.file);
                                match (&file.found, file.verified(), &file.sha256) {
                                    (None, ..) => ui.colored_label(ui.visuals().warn_fg_color, "missing"),
                                    (Some(_), Some(false), _) => ui.colored_label(ui.visuals().warn_fg_color, "found, hash differs"),
                                    (Some(_), Some(true), _) => ui.label("found, hash verified"),
                                    (Some(_), None, Some(hash)) => ui.label(format!("found, sha256 {}…", &hash[..12])),
                                    (Some(_), None, None) => ui.label("found"),
                                }
                                .on_hover_text(file.found.as_ref().map_or("not found in any folder above".into(), |p| p.display().to_string()));
                                ui.label(format!("{}\n{}", file.known.purpose, file.known.source));
                                ui.end_row();
                            }
                        });
                    });
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            }
        });
        if !open {
            // Look at the folders again when the screen reopens.
            self.model_files = None;
        }
        self.show_models = open;
    }

    pub(super) fn settings_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_settings;
        let before = self.settings.clone();
        egui::Window::new("Settings").open(&mut open).show(ctx, |ui| {
            ui.horizontal(|ui| {
                ui.label("Device (next start):");
                for (preference, label) in [(DevicePreference::Auto, "Auto"), (DevicePreference::Gpu, "GPU"), (DevicePreference::Cpu, "CPU")] {
                    ui.selectable_value(&mut self.settings.device, preference, label);
                }
            });
            ui.horizontal(|ui| {
                let label = ui.label("Latent refinement steps:");
                ui.add(egui::DragValue::new(&mut self.settings.inversion.refine_steps).range(0..=500))
                    .labelled_by(label.id)
                    .on_hover_text("Optimisation steps on w+ after the encoder: a closer likeness, a slower inversion, edits that reach a little less far (applies to the next image)");
            });
            ui.horizontal(|ui| {
                let label = ui.label("Generator tuning steps:");
                ui.add(egui::DragValue::new(&mut self.settings.inversion.tune_steps).range(0..=500))
                    .labelled_by(label.id)
                    .on_hover_text("Pivotal tuning: optimisation steps on a copy of the generator for this image only, after refinement: a much closer likeness, a slower inversion (applies to the next image)");
            });
        });
        self.show_settings = open;
        if self.settings != before {
            self.save_settings();
        }
    }

    pub(super) fn overwrite_modal(&mut self, ctx: &egui::Context) {
        let Some((kind, path)) = self.confirm_overwrite.clone() else { return };
        let modal = egui::Modal::new(egui::Id::unique("confirm-overwrite")).show(ctx, |ui| {
            ui.heading("Overwrite the input photo?");
            ui.label(format!("{} is the photo being edited. Exporting there replaces it.", path.display()));
            ui.horizontal(|ui| {
                if ui.button("Overwrite").clicked() {
                    self.confirm_overwrite = None;
                    self.export_to(kind, &path, true);
                }
                if ui.button("Cancel").clicked() {
                    self.confirm_overwrite = None;
                }
            });
        });
        if modal.should_close() {
            self.confirm_overwrite = None;
        }
    }
}
