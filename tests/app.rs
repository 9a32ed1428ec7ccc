//! The editor window, driven headless with egui_kittest.
use deltastudio::app::{APP_NAME, EditorApp};
use deltastudio::device::SelectedDevice;
use egui_kittest::{Harness, kittest::Queryable};

#[test]
fn window_shows_app_name_empty_canvas_and_device() {
    let device = SelectedDevice::flex("CPU requested");
    let harness = Harness::builder()
        .with_size(egui::vec2(800.0, 500.0))
        .build_ui_state(|ui, app: &mut EditorApp| app.show(ui), EditorApp::new(&device));
    harness.get_by_label(APP_NAME);
    harness.get_by_label("No image open");
    harness.get_by_label("Device: CPU (flex)");
    harness.get_by_label("CPU requested");
}
