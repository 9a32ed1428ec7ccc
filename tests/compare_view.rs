//! The canvas's GPU compare view (shaders/difference.wgsl), rendered headless on the test
//! harness's wgpu adapter (lavapipe in CI) and read back pixel by pixel.
use std::sync::Arc;

use deltastudio::app::compare_view::{self, ComparePair, DIVIDER_WIDTH, GpuCompare, NO_WGPU_NOTE};
use eframe::egui_wgpu::{self, wgpu};
use egui::{Color32, ColorImage, Pos2, Rect, pos2, vec2};
use egui_kittest::wgpu::{WgpuTestRenderer, create_render_state, default_wgpu_setup};
use egui_kittest::{Harness, kittest::Queryable};
use image::RgbaImage;

/// The test images are SIDE×SIDE texels, drawn at SCALE pixels per texel from ORIGIN.
const SIDE: usize = 16;
const SCALE: f32 = 10.0;
const ORIGIN: Pos2 = pos2(20.0, 20.0);

/// Texels (columns, rows) where `after` is white and `before` black: the largest difference.
const HOT_BLOCK: ([usize; 2], [usize; 2]) = ([8, 12], [2, 6]);
/// Texels where `after` is `before` + 64 in every channel: difference 64/255 ≈ 0.251.
const MID_BLOCK: ([usize; 2], [usize; 2]) = ([2, 6], [10, 14]);
/// With this gain the mid block lands on 128/255, exactly entry 128 of matplotlib's table.
const GAIN: f32 = 2.0;

/// Entries 0, 128 and 255 of matplotlib's 256-entry inferno table (`_inferno_data` in
/// matplotlib/_cm_listed.py), the colormap the shader's polynomial approximates.
const INFERNO_0: [f32; 3] = [0.001462, 0.000466, 0.013866];
const INFERNO_128: [f32; 3] = [0.735683, 0.215906, 0.330245];
const INFERNO_255: [f32; 3] = [0.988362, 0.998364, 0.644924];
/// How far (of 255) a rendered colour may be from matplotlib's: the polynomial fit plus rounding.
const COLORMAP_TOLERANCE: u8 = 6;

fn in_block(block: ([usize; 2], [usize; 2]), x: usize, y: usize) -> bool {
    (block.0[0]..block.0[1]).contains(&x) && (block.1[0]..block.1[1]).contains(&y)
}

/// A gradient `before` (values ≤ 191 so +64 does not clip) and an `after` that differs from it
/// only in the hot and mid blocks.
fn test_pair(version: u64) -> ComparePair {
    let texel = |x: usize, y: usize, after: bool| {
        if in_block(HOT_BLOCK, x, y) {
            return if after {
                Color32::WHITE
            } else {
                Color32::BLACK
            };
        }
        let base = [x as u8 * 12, y as u8 * 12, 96];
        let lift = if after && in_block(MID_BLOCK, x, y) {
            64
        } else {
            0
        };
        Color32::from_rgb(base[0] + lift, base[1] + lift, base[2] + lift)
    };
    let image = |after: bool| {
        let pixels = (0..SIDE * SIDE)
            .map(|i| texel(i % SIDE, i / SIDE, after))
            .collect();
        Arc::new(ColorImage::new([SIDE, SIDE], pixels))
    };
    ComparePair {
        before: image(false),
        after: image(true),
        version,
    }
}

/// What the test ui passes to `paint_compare`.
struct View {
    pair: ComparePair,
    rect: Rect,
    uv: Rect,
    mode: GpuCompare,
}

impl View {
    /// The whole test pair at SCALE pixels per texel from ORIGIN.
    fn whole(mode: GpuCompare) -> Self {
        View {
            pair: test_pair(1),
            rect: Rect::from_min_size(ORIGIN, vec2(SIDE as f32 * SCALE, SIDE as f32 * SCALE)),
            uv: Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
            mode,
        }
    }
}

const DIFFERENCE: GpuCompare = GpuCompare::Difference { gain: GAIN };

fn harness_for(render_state: Option<egui_wgpu::RenderState>, view: View) -> Harness<'static, View> {
    let mut builder = Harness::builder().with_size(vec2(200.0, 200.0));
    if let Some(render_state) = render_state {
        let installed = render_state.clone();
        builder = builder
            .renderer(WgpuTestRenderer::from_render_state(render_state))
            .with_context_setup(move |ctx| assert!(compare_view::install(ctx, Some(&installed))));
    }
    builder.build_ui_state(
        |ui, view: &mut View| {
            compare_view::paint_compare(ui, view.rect, view.uv, &view.pair, view.mode)
        },
        view,
    )
}

fn installed_harness(view: View) -> Harness<'static, View> {
    let render_state = create_render_state(
        default_wgpu_setup(),
        egui_wgpu::RendererOptions::PREDICTABLE,
    );
    harness_for(Some(render_state), view)
}

fn pixel(image: &RgbaImage, x: f32, y: f32) -> [u8; 3] {
    let [r, g, b, _] = image.get_pixel(x as u32, y as u32).0;
    [r, g, b]
}

/// The pixel at local texel position (x, y) of a view magnified ×2 (2×SCALE pixels per texel).
fn doubled_texel_pixel(image: &RgbaImage, x: f32, y: f32) -> [u8; 3] {
    pixel(image, ORIGIN.x + x * 2.0 * SCALE, ORIGIN.y + y * 2.0 * SCALE)
}

/// The pixel at the centre of texel (x, y) when the whole image fills the view.
fn texel_pixel(image: &RgbaImage, x: usize, y: usize) -> [u8; 3] {
    pixel(
        image,
        ORIGIN.x + (x as f32 + 0.5) * SCALE,
        ORIGIN.y + (y as f32 + 0.5) * SCALE,
    )
}

fn assert_near(actual: [u8; 3], expected: [u8; 3], tolerance: u8, what: &str) {
    let close = actual
        .iter()
        .zip(expected)
        .all(|(&a, e)| a.abs_diff(e) <= tolerance);
    assert!(
        close,
        "{what}: got {actual:?}, expected {expected:?} ± {tolerance}"
    );
}

fn inferno_bytes(entry: [f32; 3]) -> [u8; 3] {
    entry.map(|channel| (channel * 255.0).round() as u8)
}

fn rgb(colour: Color32) -> [u8; 3] {
    [colour.r(), colour.g(), colour.b()]
}

fn assert_heatmap(image: &RgbaImage) {
    for y in 0..SIDE {
        for x in 0..SIDE {
            let expected = if in_block(HOT_BLOCK, x, y) {
                INFERNO_255
            } else if in_block(MID_BLOCK, x, y) {
                INFERNO_128
            } else {
                INFERNO_0
            };
            assert_near(
                texel_pixel(image, x, y),
                inferno_bytes(expected),
                COLORMAP_TOLERANCE,
                &format!("texel ({x}, {y})"),
            );
        }
    }
}

#[test]
fn difference_heatmap_maps_unchanged_texels_to_black_and_changes_through_inferno() {
    let mut harness = installed_harness(View::whole(DIFFERENCE));
    assert_heatmap(&harness.render().expect("render"));
    harness.snapshot("compare_view_difference");
}

#[test]
fn difference_heatmap_shows_the_zoomed_part_given_by_uv() {
    // The top-right quarter of the images, magnified ×2: the hot block's texels (8..12, 2..6)
    // become local texels (0..4, 2..6) of 20 px each.
    let mut harness = installed_harness(View {
        uv: Rect::from_min_max(pos2(0.5, 0.0), pos2(1.0, 0.5)),
        ..View::whole(DIFFERENCE)
    });
    let image = harness.render().expect("render");
    let zoomed = |x: f32, y: f32| doubled_texel_pixel(&image, x, y);
    assert_near(
        zoomed(0.5, 2.5),
        inferno_bytes(INFERNO_255),
        COLORMAP_TOLERANCE,
        "hot block's first texel",
    );
    assert_near(
        zoomed(3.5, 5.5),
        inferno_bytes(INFERNO_255),
        COLORMAP_TOLERANCE,
        "hot block's last texel",
    );
    assert_near(
        zoomed(4.5, 2.5),
        inferno_bytes(INFERNO_0),
        COLORMAP_TOLERANCE,
        "right of the hot block",
    );
    assert_near(
        zoomed(0.5, 6.5),
        inferno_bytes(INFERNO_0),
        COLORMAP_TOLERANCE,
        "below the hot block",
    );
}

#[test]
fn a_rect_beyond_the_window_is_cut_not_squeezed() {
    // Zoomed ×2 over the whole images: the rect reaches past the 200×200 window, whose edge cuts
    // it; each texel still covers 2×SCALE pixels from ORIGIN.
    let whole = View::whole(DIFFERENCE);
    let rect = Rect::from_min_size(ORIGIN, whole.rect.size() * 2.0);
    let mut harness = installed_harness(View { rect, ..whole });
    let image = harness.render().expect("render");
    let zoomed = |x: f32, y: f32| doubled_texel_pixel(&image, x, y);
    let (hot_x, hot_y) = (HOT_BLOCK.0[0] as f32, HOT_BLOCK.1[0] as f32);
    assert_near(
        zoomed(hot_x + 0.25, hot_y + 0.5),
        inferno_bytes(INFERNO_255),
        COLORMAP_TOLERANCE,
        "hot block's first texel",
    );
    assert_near(
        zoomed(hot_x - 0.5, hot_y + 0.5),
        inferno_bytes(INFERNO_0),
        COLORMAP_TOLERANCE,
        "left of the hot block",
    );
    assert_near(
        zoomed(hot_x + 0.5, hot_y - 0.5),
        inferno_bytes(INFERNO_0),
        COLORMAP_TOLERANCE,
        "above the hot block",
    );
}

#[test]
fn split_shows_before_left_after_right_and_the_divider_at_the_position() {
    let position = 0.3;
    let mut harness = installed_harness(View::whole(GpuCompare::Split { position }));
    let pair = harness.state().pair.clone();
    let image = harness.render().expect("render");
    let split_x = ORIGIN.x + position * SIDE as f32 * SCALE;
    for y in 0..SIDE {
        for x in 0..SIDE {
            let centre_x = ORIGIN.x + (x as f32 + 0.5) * SCALE;
            let shown = if centre_x < split_x {
                &pair.before
            } else {
                &pair.after
            };
            assert_near(
                texel_pixel(&image, x, y),
                rgb(shown[(x, y)]),
                1,
                &format!("texel ({x}, {y})"),
            );
        }
    }
    // The divider covers DIVIDER_WIDTH pixels centred on the split, over the whole height.
    let white = [255, 255, 255];
    for y in [
        ORIGIN.y + 0.5,
        ORIGIN.y + 80.5,
        ORIGIN.y + SIDE as f32 * SCALE - 0.5,
    ] {
        for x in [
            split_x - DIVIDER_WIDTH / 2.0 + 0.5,
            split_x + DIVIDER_WIDTH / 2.0 - 0.5,
        ] {
            assert_eq!(pixel(&image, x, y), white, "divider at ({x}, {y})");
        }
        for x in [
            split_x - DIVIDER_WIDTH / 2.0 - 0.5,
            split_x + DIVIDER_WIDTH / 2.0 + 0.5,
        ] {
            assert_ne!(
                pixel(&image, x, y),
                white,
                "beside the divider at ({x}, {y})"
            );
        }
    }
    harness.snapshot("compare_view_split");
}

#[test]
fn textures_are_uploaded_again_only_when_the_version_changes() {
    let mut harness = installed_harness(View::whole(DIFFERENCE));
    assert_heatmap(&harness.render().expect("render"));

    // New images under the old version: the view keeps showing the uploaded ones.
    let identical = test_pair(1).before;
    harness.state_mut().pair.after = identical;
    harness.run();
    assert_heatmap(&harness.render().expect("render"));

    harness.state_mut().pair.version = 2;
    harness.run();
    let image = harness.render().expect("render");
    let (hot_x, hot_y) = (HOT_BLOCK.0[0], HOT_BLOCK.1[0]);
    assert_near(
        texel_pixel(&image, hot_x, hot_y),
        inferno_bytes(INFERNO_0),
        COLORMAP_TOLERANCE,
        "hot block after the new version",
    );
}

#[test]
fn srgb_framebuffer_shows_the_same_colours() {
    // A window surface may only offer an sRGB format; the shader then hands out linear values
    // and the framebuffer encodes them back, so the stored bytes must not change.
    let format = wgpu::TextureFormat::Rgba8UnormSrgb;
    let options = egui_wgpu::RendererOptions::PREDICTABLE;
    let mut render_state = create_render_state(default_wgpu_setup(), options);
    render_state.target_format = format;
    render_state.renderer = Arc::new(egui::mutex::RwLock::new(egui_wgpu::Renderer::new(
        &render_state.device,
        format,
        options,
    )));
    let mut harness = harness_for(Some(render_state), View::whole(DIFFERENCE));
    assert_heatmap(&harness.render().expect("render"));
}

#[test]
fn without_wgpu_the_view_says_so_instead_of_drawing() {
    let harness = harness_for(None, View::whole(DIFFERENCE));
    harness.get_by_label(NO_WGPU_NOTE);
}
