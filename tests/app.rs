//! The editor driven headless with egui_kittest on the shipped built-in models: open a portrait,
//! type a prompt, drag the strength slider, undo, redo, export. Assertions are on app state and on
//! the images the worker produced, not on "nothing panicked".
use std::sync::Arc;
use std::time::{Duration, Instant};

use deltastudio::app::{EditorApp, ExportKind, ModelsState, compare_view};
use deltastudio::device::SelectedDevice;
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::export::read_recipe;
use deltastudio::engine::gan::{Method, TextEdit};
use deltastudio::engine::models::GanModels;
use deltastudio::engine::recipe::InputSource;
use deltastudio::engine::session::{EditSession, InversionSteps};
use deltastudio::weights::registry::WeightsPath;
use egui::accesskit::Role;
use eframe::egui_wgpu;
use egui_kittest::wgpu::{WgpuTestRenderer, create_render_state, default_wgpu_setup};
use egui_kittest::{Harness, kittest::Queryable};

/// The editor as `deltastudio` opens it: the wgpu renderer with the compare view's pipeline.
fn editor() -> Harness<'static, EditorApp> {
    let device = SelectedDevice::flex("CPU requested");
    let render_state = create_render_state(default_wgpu_setup(), egui_wgpu::RendererOptions::PREDICTABLE);
    let installed = render_state.clone();
    // No settings file: tests never touch the user's config.
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .renderer(WgpuTestRenderer::from_render_state(render_state))
        .with_context_setup(move |ctx| assert!(compare_view::install(ctx, Some(&installed))))
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

#[test]
fn auto_sets_the_strength_the_engine_fits_for_the_image_and_undo_restores_it() {
    let mut harness = editor();
    settle(&mut harness);
    let ctx = harness.ctx.clone();
    harness.state_mut().new_portrait(&ctx, 4);
    let target = "a face with tan skin";
    harness.state_mut().document_mut().edits[0].target = target.into();
    settle(&mut harness);
    let unfitted = harness.state().result_image().unwrap().clone();
    harness.get_all_by_label("Auto").next().expect("edit 1's Auto button").click();
    settle(&mut harness);
    let fitted = harness.state().document().edits[0].clone();

    // The engine's own fit on the same portrait.
    let device = burn::prelude::Device::flex();
    let models = GanModels::load(&WeightsPath::new(None), Domain::Builtin, Method::DeltaEdit, &device).unwrap();
    let image = InputSource::Builtin { seed: 4, size: 64 }.load().unwrap();
    let mut session = EditSession::new(Arc::new(models), &image, &device).unwrap();
    let edit = TextEdit { source: None, target: target.into(), strength: 1.0, beta: fitted.beta };
    let expected = session.fit_strength(&edit, None).unwrap();
    assert_eq!(fitted.strength, expected);
    assert!(harness.state().notice().is_some_and(|n| n.text.contains("fitted")), "{:?}", harness.state().notice());
    // This portrait's fit moves the strength (to 0.5), so the result must be rendered again.
    assert_ne!(expected, 1.0);
    assert!(mean_abs_difference(harness.state().result_image().unwrap(), &unfitted) > 0.0, "the fitted strength re-rendered the edit");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    settle(&mut harness);
    assert_eq!(harness.state().document().edits[0].strength, 1.0, "the fit is one undo step");
}

/// The status bar holds timings, which differ between runs.
fn mask_status_bar(harness: &mut Harness<'_, EditorApp>) {
    let status = harness.get_by_label("Device: CPU (flex)").rect();
    harness.mask(egui::Rect::from_min_max(egui::pos2(0.0, status.min.y - 4.0), egui::pos2(1280.0, 800.0)));
}

#[test]
fn main_screen_and_compare_mode_snapshots() {
    let mut harness = editor();
    settle(&mut harness);
    harness.get_all_by_label("New random portrait").next().unwrap().click();
    settle(&mut harness);
    harness.state_mut().document_mut().edits[0].target = "a face with light skin".into();
    settle(&mut harness);
    mask_status_bar(&mut harness);
    harness.snapshot("editor_main");

    harness.get_by_label("Split").click();
    settle(&mut harness);
    mask_status_bar(&mut harness);
    harness.snapshot("editor_split");

    harness.get_by_label("Difference").click();
    settle(&mut harness);
    mask_status_bar(&mut harness);
    harness.snapshot("editor_difference");
}

#[test]
fn export_embeds_the_recipe_and_reopening_it_restores_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = editor();
    settle(&mut harness);
    let ctx = harness.ctx.clone();
    harness.state_mut().new_portrait(&ctx, 42);
    {
        let document = harness.state_mut().document_mut();
        document.edits[0].target = "a face with dark skin".into();
        document.edits[0].strength = 1.5;
        document.interpolation.enabled = true;
        document.interpolation.a.target = "a face with blue background".into();
        document.interpolation.b.target = "a face with white background".into();
        document.interpolation.lambda = 0.25;
    }
    settle(&mut harness);
    let exported = dir.path().join("portrait-42-edited.png");
    harness.state_mut().export_to(ExportKind::Result, &exported, false);
    assert!(harness.state().notice().is_some_and(|n| !n.error), "{:?}", harness.state().notice());

    // The file: the pixels shown, an A1111 `parameters` tEXt chunk, the JSON recipe.
    let written = image::open(&exported).unwrap().to_rgb8();
    assert_eq!(&written, harness.state().result_image().unwrap());
    let recipe = read_recipe(&exported).unwrap();
    assert_eq!(recipe.stack, harness.state().document().stack());
    assert_eq!(recipe.input, InputSource::Builtin { seed: 42, size: 256 });
    assert!(recipe.models.iter().any(|m| m.name == "stylegan2.safetensors" && m.sha256.len() == 64), "{:?}", recipe.models);
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&exported).unwrap())).read_info().unwrap();
    let parameters = reader.info().uncompressed_latin1_text.iter().find(|c| c.keyword == "parameters").expect("a parameters chunk");
    assert!(parameters.text.starts_with("a face with dark skin"), "{}", parameters.text);
    assert!(parameters.text.contains("Lambda: 0.25"), "{}", parameters.text);

    // A fresh editor reopens it: same portrait, same edits, same pixels.
    let mut reopened = editor();
    settle(&mut reopened);
    reopened.state_mut().open_recipe(&exported);
    settle(&mut reopened);
    let state = reopened.state();
    assert_eq!(state.input().unwrap().source, InputSource::Builtin { seed: 42, size: 256 });
    assert_eq!(state.document().stack(), recipe.stack);
    assert_eq!(state.result_image().unwrap(), &written);

    // Overwriting the input photo waits for a confirmation; a bad path fails cleanly.
    let missing_dir = dir.path().join("no/such/dir/x.png");
    reopened.state_mut().export_to(ExportKind::Result, &missing_dir, false);
    assert!(reopened.state().notice().is_some_and(|n| n.error));
    assert!(!missing_dir.exists());
}

#[test]
fn a_broken_image_leaves_the_session_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let mut harness = editor();
    settle(&mut harness);
    let ctx = harness.ctx.clone();
    harness.state_mut().new_portrait(&ctx, 3);
    settle(&mut harness);
    let before = harness.state().reconstruction_image().unwrap().clone();
    harness.state_mut().open_path(&broken);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !harness.state().notice().is_some_and(|n| n.error) {
        assert!(Instant::now() < deadline, "no error shown for a broken image");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(harness.state().notice().unwrap().text.contains("broken.png"));
    assert_eq!(harness.state().input().unwrap().source, InputSource::Builtin { seed: 3, size: 256 });
    assert_eq!(harness.state().reconstruction_image().unwrap(), &before);
}

#[test]
fn an_aligned_photo_is_edited_on_its_crop_and_pasted_back() {
    let dir = tempfile::tempdir().unwrap();
    // A "photo": a built-in portrait inside a wider frame.
    let portrait = InputSource::Builtin { seed: 5, size: 256 }.load().unwrap();
    let mut photo = image::RgbImage::from_pixel(480, 256, image::Rgb([40, 90, 40]));
    image::imageops::replace(&mut photo, &portrait, 112, 0);
    let photo_path = dir.path().join("photo.png");
    photo.save(&photo_path).unwrap();

    let mut harness = editor();
    settle(&mut harness);
    harness.state_mut().open_path(&photo_path);
    settle(&mut harness);
    harness.get_by_label("Align the face (4 points)").click();
    settle(&mut harness);
    let landmarks = harness.state().input().unwrap().landmarks.expect("alignment turned on");
    // The starting square is the photo's centred square: exactly the portrait.
    let quad = harness.state().input().unwrap().quad().unwrap();
    assert!((quad.side() - 256.0).abs() < 1e-3 && (quad.center[0] - 240.0).abs() < 1e-3, "{quad:?}");

    // Drag the right eye handle 20 screen points to the right: the landmark follows, the crop is
    // inverted again.
    let before = harness.state().reconstruction_image().unwrap().clone();
    let handle = harness.get_by_label("right eye").rect().center();
    harness.drag_at(handle);
    harness.step();
    harness.hover_at(handle + egui::vec2(20.0, 0.0));
    harness.step();
    harness.drop_at(handle + egui::vec2(20.0, 0.0));
    settle(&mut harness);
    let moved = harness.state().input().unwrap().landmarks.unwrap();
    assert!(moved.right_eye[0] > landmarks.right_eye[0] + 5.0, "{moved:?}");
    assert_eq!(moved.left_eye, landmarks.left_eye);
    assert!(mean_abs_difference(harness.state().reconstruction_image().unwrap(), &before) > 0.5, "the new crop was inverted");

    // The export is the whole photo with the edit pasted back, and its recipe keeps the points.
    harness.state_mut().document_mut().edits[0].target = "a face with dark skin".into();
    settle(&mut harness);
    let exported = dir.path().join("photo-edited.png");
    harness.state_mut().export_to(ExportKind::Result, &exported, false);
    let written = image::open(&exported).unwrap().to_rgb8();
    assert_eq!(written.dimensions(), (480, 256));
    // Outside the crop square the photo is untouched.
    let square = harness.state().input().unwrap().quad().unwrap();
    let mut outside = 0;
    for (x, y, pixel) in photo.enumerate_pixels() {
        if !square.contains([x as f32 + 0.5, y as f32 + 0.5]) {
            outside += 1;
            assert_eq!(written.get_pixel(x, y), pixel, "({x}, {y}) is outside the crop");
        }
    }
    assert!(outside > 20_000, "the moved square still leaves part of the photo outside: {outside} px");
    assert_eq!(read_recipe(&exported).unwrap().alignment, Some(moved));

    // Exporting over the photo itself waits for a confirmation.
    harness.state_mut().export_to(ExportKind::Result, &photo_path, false);
    assert_eq!(image::open(&photo_path).unwrap().to_rgb8(), photo, "not overwritten without confirmation");
}

#[test]
fn a_long_inversion_shows_progress_and_cancel_keeps_the_encoder_inversion() {
    let mut harness = editor();
    settle(&mut harness);
    // A few refinement steps, then pivotal tuning that would run for hours: cancelled in tuning.
    harness.state_mut().settings_mut().inversion = InversionSteps { refine_steps: 5, tune_steps: 100_000 };
    let ctx = harness.ctx.clone();
    harness.state_mut().new_portrait(&ctx, 9);
    // The Cancel button appears once the inversion has run for a second.
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.query_by_label("Cancel").is_none() {
        assert!(Instant::now() < deadline, "no Cancel button during a long inversion");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.get_by_label_contains("Inverting the image"); // the progress says what runs
    harness.get_by_label("Cancel").click();
    settle(&mut harness);
    assert!(harness.state().reconstruction_image().is_some(), "the encoder's inversion is kept");
    assert!(harness.query_by_label("Cancel").is_none());
}

#[test]
fn models_screen_lists_found_and_missing_files_and_verifies_hashes() {
    let mut harness = editor();
    settle(&mut harness);
    harness.get_by_label("View").click();
    harness.run_steps(2);
    harness.get_by_label("Models…").click();
    harness.run_steps(2);
    harness.get_by_label("builtin/stylegan2.safetensors");
    assert!(harness.query_all_by_label("missing").count() > 0, "the official files are not here");
    assert!(harness.query_all_by_label("found").count() >= 6, "the built-in files are");
    harness.get_by_label("Verify hashes").click();
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.query_all_by_label_contains("found, sha256").next().is_none() {
        assert!(Instant::now() < deadline, "hashes never arrived");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(harness.query_all_by_label("found").count(), 0, "every found file was hashed");
}
