//! The eframe editor. It never touches tensors: models run behind the engine.
pub mod compare_view;
pub mod screenshot;

use eframe::egui;

use crate::device::SelectedDevice;

pub const APP_NAME: &str = "DeltaStudio";

/// Everything the editor shows; one function per panel draws it.
pub struct EditorApp {
    device_label: String,
    device_reason: String,
}

impl EditorApp {
    pub fn new(device: &SelectedDevice) -> Self {
        EditorApp { device_label: device.label.clone(), device_reason: device.reason.clone() }
    }

    /// Draws the whole window; separate from `eframe::App` so tests can drive it with egui_kittest.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| self.canvas(ui));
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading(APP_NAME);
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("Device: {}", self.device_label));
            ui.weak(&self.device_reason);
        });
    }

    fn canvas(&mut self, ui: &mut egui::Ui) {
        ui.centered_and_justified(|ui| {
            ui.weak("No image open");
        });
    }
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Opens the editor window. With a GPU, egui renders on the same wgpu device as the models.
pub fn run(device: SelectedDevice) -> Result<(), eframe::Error> {
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title(APP_NAME).with_inner_size([1280.0, 800.0]),
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
    let app = EditorApp::new(&device);
    eframe::run_native(APP_NAME, options, Box::new(|_cc| Ok(Box::new(app))))
}
