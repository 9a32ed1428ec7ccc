//! Measures the editor's latencies headless (egui_kittest on this machine's wgpu adapter, models on
//! flex), driving the real app state:
//! - slider move → new frame: the strength changes, then UI passes run until the frame that shows
//!   the new render (worker synthesis + texture upload + the UI pass); with `--paint`, each pass is
//!   also painted on the wgpu adapter (lavapipe on a machine without a GPU);
//! - frame time while an edit runs: UI passes while the worker inverts with 200 refinement steps.
//!
//!     CARGO_TARGET_DIR=/work/main/target cargo run --release --example bench_ui [-- RUNS] [--paint]
mod common;

use std::time::{Duration, Instant};

use common::Timings;
use deltastudio::app::{EditorApp, compare_view};
use deltastudio::device::SelectedDevice;
use eframe::egui_wgpu;
use egui_kittest::Harness;
use egui_kittest::wgpu::{WgpuTestRenderer, create_render_state, default_wgpu_setup};

fn pass(harness: &mut Harness<'_, EditorApp>, paint: bool) {
    harness.step();
    if paint {
        harness.render().expect("painting the frame");
    }
}

fn settle(harness: &mut Harness<'_, EditorApp>, paint: bool) {
    while harness.state().is_busy() {
        pass(harness, paint);
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(30);
    let paint = args.iter().any(|a| a == "--paint");
    let device = SelectedDevice::flex("CPU requested");
    let render_state = create_render_state(default_wgpu_setup(), egui_wgpu::RendererOptions::PREDICTABLE);
    let installed = render_state.clone();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .renderer(WgpuTestRenderer::from_render_state(render_state))
        .with_context_setup(move |ctx| assert!(compare_view::install(ctx, Some(&installed))))
        .build_ui_state(|ui, app: &mut EditorApp| app.show(ui), EditorApp::new(&device, None, None));
    settle(&mut harness, paint);
    let ctx = harness.ctx.clone();
    harness.state_mut().new_portrait(&ctx, 1);
    harness.state_mut().document_mut().edits[0].target = "a face with light skin".into();
    settle(&mut harness, paint);

    let mut strength = 1.0;
    let latency = Timings::measure(3, runs, || {
        strength = if strength > 2.0 { 0.5 } else { strength + 0.05 };
        harness.state_mut().document_mut().edits[0].strength = strength;
        pass(&mut harness, paint); // the pass that sees the slider move and sends the request
        settle(&mut harness, paint);
    });
    println!("slider move → new frame{}: {latency:.1}", if paint { " (painted)" } else { "" });

    harness.state_mut().settings_mut().inversion.refine_steps = 200;
    harness.state_mut().new_portrait(&ctx, 2);
    let mut frames = Vec::new();
    let started = Instant::now();
    while harness.state().is_busy() && started.elapsed() < Duration::from_secs(120) {
        let start = Instant::now();
        pass(&mut harness, paint);
        frames.push(start.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(16));
    }
    frames.sort_by(f64::total_cmp);
    let n = frames.len();
    println!(
        "frame time while inverting with 200 refinement steps ({:.1} s){}: median {:.2} ms, max {:.2} ms over {n} frames",
        started.elapsed().as_secs_f64(),
        if paint { " (painted)" } else { "" },
        frames[n / 2],
        frames[n - 1]
    );
}
