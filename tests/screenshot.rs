//! `app::screenshot`: the harness stands in for eframe and answers the screenshot request with
//! its own rendering.
use std::path::{Path, PathBuf};

use deltastudio::app::screenshot::{self, ScreenshotRequest};
use egui::{Color32, ViewportCommand, ViewportId};
use egui_kittest::Harness;

const FILL: Color32 = Color32::from_rgb(10, 200, 30);
const AFTER_FRAMES: u32 = 8;

struct App {
    request: Option<ScreenshotRequest>,
    frames: u32,
    outcome: Option<(u32, deltastudio::Result<PathBuf>)>,
}

fn harness_saving_to(path: &Path) -> Harness<'static, App> {
    let app = App {
        request: Some(ScreenshotRequest::new(path, AFTER_FRAMES)),
        frames: 0,
        outcome: None,
    };
    Harness::builder()
        .with_size(egui::vec2(120.0, 80.0))
        .build_ui_state(
            |ui, app: &mut App| {
                ui.painter().rect_filled(ui.max_rect(), 0.0, FILL);
                app.frames += 1;
                if let Some(outcome) = screenshot::drive(ui.ctx(), &mut app.request) {
                    app.outcome = Some((app.frames, outcome));
                }
            },
            app,
        )
}

/// Steps until `drive` reports, checking that nothing is written before; returns the frame.
fn step_until_saved(harness: &mut Harness<'static, App>, path: &Path) -> u32 {
    for _ in 0..3 * AFTER_FRAMES {
        if let Some((frame, _)) = &harness.state().outcome {
            return *frame;
        }
        assert!(!path.exists(), "written before the request was answered");
        harness.step();
    }
    panic!("no screenshot after {} frames", harness.state().frames);
}

fn closes_the_window(harness: &Harness<'static, App>) -> bool {
    harness.output().viewport_output[&ViewportId::ROOT]
        .commands
        .iter()
        .any(|command| matches!(command, ViewportCommand::Close))
}

#[test]
fn saves_the_window_as_png_after_the_frames_then_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("window.png");
    let mut harness = harness_saving_to(&path);
    let frame = step_until_saved(&mut harness, &path);

    // AFTER_FRAMES frames wait, the next asks, the one after saves.
    assert_eq!(frame, AFTER_FRAMES + 2);
    let (_, outcome) = harness.state().outcome.as_ref().unwrap();
    assert_eq!(outcome.as_ref().unwrap(), &path);
    assert!(closes_the_window(&harness));
    assert!(harness.state().request.is_none());

    let png = image::open(&path).unwrap().to_rgba8();
    assert_eq!(png.dimensions(), (120, 80));
    assert_eq!(png.get_pixel(60, 40).0, [FILL.r(), FILL.g(), FILL.b(), 255]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no scratch file left behind"
    );
}

#[test]
fn an_unwritable_path_is_reported_and_the_window_still_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("window.png");
    let mut harness = harness_saving_to(&path);
    step_until_saved(&mut harness, &path);
    let (_, outcome) = harness.state().outcome.as_ref().unwrap();
    let error = outcome.as_ref().unwrap_err().to_string();
    assert!(error.contains("missing"), "{error}");
    assert!(closes_the_window(&harness));
}
