//! The editor driven headless with egui_kittest on the shipped built-in models: open a portrait,
//! type a prompt, drag the strength slider, undo, redo, export. Assertions are on app state and on
//! the images the worker produced, not on "nothing panicked".
use std::time::{Duration, Instant};

use deltastudio::app::{EditorApp, ModelsState};
use deltastudio::device::SelectedDevice;
use egui::accesskit::Role;
use egui_kittest::{Harness, kittest::Queryable};

fn editor() -> Harness<'static, EditorApp> {
    let device = SelectedDevice::flex("CPU requested");
    // No settings file: tests never touch the user's config.
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut EditorApp| app.show(ui), EditorApp::new(&device, None, None))
}

/// Steps the UI until the worker has delivered everything asked for.
fn settle(harness: &mut Harness<'_, EditorApp>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        harness.step();
        if !harness.state().is_busy() {
            harness.run_steps(2);
            if !harness.state().is_busy() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the editor stayed busy for 2 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn mean_abs_difference(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.as_raw().len() as f64
}

#[test]
fn empty_window_shows_welcome_and_device() {
    let mut harness = editor();
    settle(&mut harness);
    assert!(matches!(harness.state().models_state(), ModelsState::Ready { .. }), "{:?}", harness.state().models_state());
    harness.get_by_label("Open a portrait to start editing");
    harness.get_by_label("Device: CPU (flex)");
}

#[test]
fn portrait_prompt_slider_undo_redo() {
    let mut harness = editor();
    settle(&mut harness);
    harness.get_all_by_label("New random portrait").next().expect("a New random portrait button").click();
    settle(&mut harness);
    let reconstruction = harness.state().reconstruction_image().expect("the portrait was inverted").clone();
    let unedited = harness.state().result_image().expect("an empty stack renders the reconstruction").clone();
    assert_eq!(mean_abs_difference(&reconstruction, &unedited), 0.0);

    // Type a prompt into edit 1's target field, then leave the field.
    let target = harness.get_all_by_label("Target").next().expect("a target field");
    target.click();
    harness.step();
    harness.get_all_by_label("Target").next().unwrap().type_text("a face with light skin");
    harness.step();
    harness.key_press(egui::Key::Enter);
    settle(&mut harness);
    assert_eq!(harness.state().document().edits[0].target, "a face with light skin");
    let edited = harness.state().result_image().unwrap().clone();
    assert!(mean_abs_difference(&edited, &reconstruction) > 1.0, "the edit changed the image");

    // Drag the strength slider of edit 1 to the right.
    let slider = harness.get_all_by_role(Role::Slider).next().expect("edit 1's strength slider");
    let rect = slider.rect();
    harness.drag_at(rect.center());
    harness.step();
    harness.hover_at(rect.right_center() - egui::vec2(2.0, 0.0));
    harness.step();
    harness.drop_at(rect.right_center() - egui::vec2(2.0, 0.0));
    settle(&mut harness);
    let strength = harness.state().document().edits[0].strength;
    assert!(strength > 2.0, "strength after the drag: {strength}");
    let stronger = harness.state().result_image().unwrap().clone();
    assert!(mean_abs_difference(&stronger, &edited) > 0.5, "the slider moved the image");

    // Undo the drag (one step however many frames it took), then the prompt; redo both.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    settle(&mut harness);
    assert_eq!(harness.state().document().edits[0].strength, 1.0);
    assert_eq!(mean_abs_difference(harness.state().result_image().unwrap(), &edited), 0.0, "undo re-renders the earlier edit");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    settle(&mut harness);
    assert_eq!(harness.state().document().edits[0].target, "");
    harness.key_press_modifiers(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Y);
    settle(&mut harness);
    assert_eq!(harness.state().document().edits[0].strength, strength);
    assert_eq!(mean_abs_difference(harness.state().result_image().unwrap(), &stronger), 0.0);
}
