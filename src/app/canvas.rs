//! The canvas: N labelled result slots with one shared zoom/pan, and the compare modes.
//!
//! Zoom and pan are kept in the images' own [0, 1]² coordinates, so slots holding images of
//! different pixel sizes (a 256² input, a 64² edit) stay aligned when the user zooms into one.
use eframe::egui::{self, Color32, Rect, Sense, Vec2, pos2, vec2};

use super::compare_view::{self, ComparePair, GpuCompare};
use super::settings::CompareMode;
use super::{EditorApp, ModelsState, Shown};
use crate::engine::align::{FaceLandmarks, ffhq_quad};
use crate::engine::recipe::InputSource;

/// Zoom 1 fits the image into its slot; `center` is the image point shown at the slot's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub zoom: f32,
    pub center: Vec2,
}

impl Default for View {
    fn default() -> Self {
        View { zoom: 1.0, center: vec2(0.5, 0.5) }
    }
}

const ZOOM_RANGE: (f32, f32) = (0.25, 64.0);

impl View {
    /// Where an image of `size` (points at zoom 1 fill the slot) lands in `slot`.
    pub fn image_rect(&self, slot: Rect, size: Vec2) -> Rect {
        let fit = (slot.width() / size.x).min(slot.height() / size.y);
        let shown = size * fit * self.zoom;
        Rect::from_min_size(slot.center() - shown * self.center, shown)
    }

    /// Drag pans; the scroll wheel (or pinch) zooms about the pointer.
    fn interact(&mut self, ui: &egui::Ui, response: &egui::Response, slot: Rect, size: Vec2) {
        let rect = self.image_rect(slot, size);
        if response.dragged() {
            self.center -= response.drag_delta() / rect.size();
        }
        if response.hovered() {
            let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = pinch * (scroll * 0.002).exp();
            if factor != 1.0 {
                let pointer = ui.input(|i| i.pointer.hover_pos()).unwrap_or(slot.center());
                // Keep the image point under the pointer where it is.
                let under = (pointer - rect.min) / rect.size();
                let zoom = (self.zoom * factor).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
                let new_size = rect.size() * (zoom / self.zoom);
                self.center = under - (pointer - slot.center()) / new_size;
                self.zoom = zoom;
            }
        }
        if response.double_clicked() {
            *self = View::default();
        }
    }

    /// The zoom at which one image pixel is one screen pixel.
    pub fn actual_size_zoom(slot: Rect, size: Vec2, pixels_per_point: f32) -> f32 {
        let fit = (slot.width() / size.x).min(slot.height() / size.y);
        1.0 / (fit * pixels_per_point)
    }
}

/// One labelled image on the canvas; `image` is `None` while it is being computed.
pub struct Slot<'a> {
    pub label: &'a str,
    pub image: Option<&'a Shown>,
    pub caption: String,
}

/// Draws `slots` side by side; returns the rect of the first slot (for "100 %").
fn slots_row(ui: &mut egui::Ui, view: &mut View, slots: &[Slot]) -> Rect {
    let available = ui.available_rect_before_wrap();
    let gap = 8.0;
    let width = (available.width() - gap * (slots.len() as f32 - 1.0)) / slots.len() as f32;
    let mut first = available;
    for (i, slot) in slots.iter().enumerate() {
        let column = Rect::from_min_size(pos2(available.min.x + i as f32 * (width + gap), available.min.y), vec2(width, available.height()));
        let label_height = 22.0;
        let area = Rect::from_min_max(pos2(column.min.x, column.min.y + label_height), column.max);
        if i == 0 {
            first = area;
        }
        ui.put(Rect::from_min_size(column.min, vec2(width, label_height)), egui::Label::new(egui::RichText::new(slot.label).strong()));
        let response = ui.allocate_rect(area, Sense::click_and_drag());
        let painter = ui.painter_at(area);
        painter.rect_filled(area, 2.0, ui.visuals().extreme_bg_color);
        match slot.image {
            Some(shown) => {
                let size = shown.texture.size_vec2();
                view.interact(ui, &response, area, size);
                painter.image(shown.texture.id(), view.image_rect(area, size), FULL_UV, Color32::WHITE);
            }
            None => {
                painter.text(area.center(), egui::Align2::CENTER_CENTER, "…", egui::FontId::proportional(24.0), ui.visuals().weak_text_color());
            }
        }
        if !slot.caption.is_empty() {
            painter.text(area.left_bottom() + vec2(6.0, -6.0), egui::Align2::LEFT_BOTTOM, &slot.caption, egui::FontId::proportional(12.0), Color32::from_gray(220));
        }
    }
    first
}

/// The compare view's pair; its version changes when either image does.
fn pair(before: &Shown, after: &Shown) -> ComparePair {
    ComparePair { before: before.color.clone(), after: after.color.clone(), version: before.version.wrapping_mul(1 << 32) ^ after.version }
}

/// `before` left of the divider, `after` right of it, drawn on the GPU; dragging near the
/// divider moves it, elsewhere pans.
fn split(ui: &mut egui::Ui, view: &mut View, before: &Shown, after: &Shown, position: &mut f32) -> Rect {
    let area = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(area, Sense::click_and_drag());
    let size = after.texture.size_vec2();
    let image_rect = view.image_rect(area, size);
    let divider_x = image_rect.min.x + *position * image_rect.width();
    let near_divider = |p: egui::Pos2, reach: f32| (p.x - divider_x).abs() < reach;
    if response.hover_pos().is_some_and(|p| near_divider(p, 8.0)) {
        ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
    }
    match response.interact_pointer_pos() {
        Some(p) if response.dragged() && near_divider(p, 24.0) => {
            *position = ((p.x - image_rect.min.x) / image_rect.width()).clamp(0.0, 1.0);
        }
        _ => view.interact(ui, &response, area, size),
    }
    ui.painter_at(area).rect_filled(area, 2.0, ui.visuals().extreme_bg_color);
    let image_rect = view.image_rect(area, size);
    let mut clipped = ui.new_child(egui::UiBuilder::new().max_rect(area));
    clipped.set_clip_rect(area);
    compare_view::paint_compare(&mut clipped, image_rect, FULL_UV, &pair(before, after), GpuCompare::Split { position: *position });
    let painter = ui.painter_at(area);
    let label = |pos, align, text: &str| {
        painter.text(pos, align, text, egui::FontId::proportional(13.0), Color32::WHITE);
    };
    label(area.left_top() + vec2(8.0, 6.0), egui::Align2::LEFT_TOP, "Before");
    label(area.right_top() + vec2(-8.0, 6.0), egui::Align2::RIGHT_TOP, "After");
    area
}

/// The per-pixel difference of `before` and `after` as a heatmap, drawn on the GPU.
fn difference(ui: &mut egui::Ui, view: &mut View, before: &Shown, after: &Shown, gain: f32) -> Rect {
    let area = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(area, Sense::click_and_drag());
    let size = after.texture.size_vec2();
    view.interact(ui, &response, area, size);
    ui.painter_at(area).rect_filled(area, 2.0, ui.visuals().extreme_bg_color);
    let mut clipped = ui.new_child(egui::UiBuilder::new().max_rect(area));
    clipped.set_clip_rect(area);
    compare_view::paint_compare(&mut clipped, view.image_rect(area, size), FULL_UV, &pair(before, after), GpuCompare::Difference { gain });
    area
}

const FULL_UV: Rect = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));

impl EditorApp {
    pub(super) fn canvas(&mut self, ui: &mut egui::Ui) {
        self.canvas_toolbar(ui);
        if let Some(notice) = self.notice.clone().filter(|n| n.error) {
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, &notice.text);
                if ui.small_button("Dismiss").clicked() {
                    self.notice = None;
                }
            });
        }
        ui.separator();
        if self.input.is_none() {
            self.welcome(ui);
            return;
        }
        // Holding Space shows "before" wherever the edit is shown.
        let holding_before = ui.input(|i| i.key_down(egui::Key::Space)) && !ui.ctx().egui_wants_keyboard_input();
        let before = if self.compare_with_input { self.input.as_ref().map(|i| &i.shown) } else { self.reconstruction.as_ref() };
        let after = if holding_before { before } else { self.result.as_ref() };
        let edit_label = if holding_before { "Before (Space held)" } else { "Edit · DeltaEdit-G" };
        match (self.settings.compare, before, after) {
            (CompareMode::Split, Some(before), Some(after)) => {
                let mut position = self.split_position;
                let area = split(ui, &mut self.view, before, after, &mut position);
                self.split_position = position;
                self.last_slot = Some(area);
            }
            (CompareMode::Difference, Some(before), Some(after)) => {
                self.last_slot = Some(difference(ui, &mut self.view, before, after, self.difference_gain));
            }
            _ => {
                let input_caption = self.input.as_ref().map_or(String::new(), |i| match &i.source {
                    InputSource::Builtin { seed, .. } => format!("built-in portrait, seed {seed}"),
                    InputSource::File { path } => path.rsplit(['/', '\\']).next().unwrap_or(path).to_string(),
                });
                let slots = [
                    Slot { label: "Input", image: self.input.as_ref().map(|i| &i.shown), caption: input_caption },
                    Slot { label: "Reconstruction", image: self.reconstruction.as_ref(), caption: String::new() },
                    Slot { label: edit_label, image: after, caption: String::new() },
                ];
                let first = slots_row(ui, &mut self.view, &slots);
                self.last_slot = Some(first);
                self.alignment_overlay(ui, first);
            }
        }
    }

    /// The FFHQ crop square and the four landmark handles on the input; releasing a handle inverts
    /// the new crop.
    fn alignment_overlay(&mut self, ui: &mut egui::Ui, area: Rect) {
        let view = self.view;
        let Some(input) = self.input.as_mut() else { return };
        let Some(landmarks) = input.landmarks.as_mut() else { return };
        let image_rect = view.image_rect(area, input.shown.texture.size_vec2());
        let size = vec2(input.shown.image.width() as f32, input.shown.image.height() as f32);
        let to_screen = |p: [f32; 2]| image_rect.min + vec2(p[0], p[1]) / size * image_rect.size();
        let to_image = |q: egui::Pos2| {
            let p = (q - image_rect.min) / image_rect.size() * size;
            [p.x.clamp(0.0, size.x), p.y.clamp(0.0, size.y)]
        };
        let painter = ui.painter_at(area);
        let accent = Color32::from_rgb(80, 200, 255);
        if let Ok(quad) = ffhq_quad(landmarks) {
            let corners: Vec<egui::Pos2> = quad.corners().into_iter().map(to_screen).collect();
            painter.add(egui::Shape::closed_line(corners, egui::Stroke::new(1.5, accent)));
        }
        let mut released = false;
        for (i, name) in FaceLandmarks::NAMES.iter().enumerate() {
            let center = to_screen(landmarks.points()[i]);
            let handle = Rect::from_center_size(center, vec2(16.0, 16.0));
            let response = ui.interact(handle, ui.scope_id().with(("landmark", i)), Sense::drag()).on_hover_text(*name);
            if response.dragged()
                && let (Some(pointer), Some(point)) = (response.interact_pointer_pos(), landmarks.point_mut(i))
            {
                *point = to_image(pointer);
            }
            released |= response.drag_stopped();
            let fill = if response.hovered() || response.dragged() { Color32::WHITE } else { accent };
            painter.circle(center, 5.0, fill, egui::Stroke::new(1.5, Color32::BLACK));
        }
        if released {
            self.invert_input();
        }
    }

    fn canvas_toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for mode in CompareMode::ALL {
                if ui.selectable_label(self.settings.compare == mode, mode.label()).clicked() {
                    self.settings.compare = mode;
                }
            }
            ui.separator();
            ui.label("Before:");
            ui.selectable_value(&mut self.compare_with_input, false, "Reconstruction");
            ui.selectable_value(&mut self.compare_with_input, true, "Input");
            if self.settings.compare == CompareMode::Difference {
                let label = ui.label("Gain");
                ui.add(egui::Slider::new(&mut self.difference_gain, 1.0..=16.0).logarithmic(true))
                    .labelled_by(label.id)
                    .on_hover_text("Scales the difference before the colour map: black is unchanged, yellow is a large change");
            }
            ui.separator();
            if ui.button("Fit").clicked() {
                self.view = View::default();
            }
            if ui.button("100 %").on_hover_text("One image pixel per screen pixel").clicked()
                && let (Some(slot), Some(result)) = (self.last_slot, self.result.as_ref().or(self.reconstruction.as_ref()))
            {
                self.view.zoom = View::actual_size_zoom(slot, result.texture.size_vec2(), ui.ctx().pixels_per_point());
            }
            ui.label(format!("zoom {:.2}×", self.view.zoom));
            ui.weak("· hold Space: before");
        });
    }

    fn welcome(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.3);
            ui.heading("Open a portrait to start editing");
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                ui.add_space((ui.available_width() - 360.0).max(0.0) / 2.0);
                if ui.button("New random portrait").clicked() {
                    let seed = self.seed;
                    self.new_portrait(ui.ctx(), seed);
                }
                if ui.button("Open image… (Ctrl+O)").clicked() {
                    self.dialogs.open_image(self.settings.last_open_dir.clone());
                }
            });
            ui.weak("or drop an image file here, or paste one (Ctrl+V)");
            if let ModelsState::Failed { message, .. } = &self.models {
                ui.add_space(8.0);
                ui.colored_label(ui.visuals().error_fg_color, message);
            }
        });
    }
}
