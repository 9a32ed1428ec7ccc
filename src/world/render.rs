//! The portrait renderer: anti-aliased vector drawing with tiny-skia, deterministic from
//! `(seed, attributes)`, at any square size, with a per-pixel part mask.
//!
//! All geometry lives in unit coordinates (the image is [0,1]², y down) and is laid out like an
//! aligned FFHQ crop: eyes on y ≈ 0.47, mouth on y ≈ 0.70, chin on y ≈ 0.84, face centred.
//! The seed drives only the nuisance variation ([`Look`]); the factors come from `attributes`, so
//! changing one factor with the same seed changes only the parts that factor owns.
use image::RgbImage;
use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Mask, Paint, Path, PathBuilder, Pixmap, Point,
    RadialGradient, Shader, SpreadMode, Stroke, Transform,
};

use super::factors::*;
use super::rng::{Rng, mix, sin_cos_deg};

/// What each pixel shows; the label values of [`PartMask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Part {
    Background = 0,
    Skin = 1,
    Hair = 2,
    Eyes = 3,
    Mouth = 4,
    Eyewear = 5,
    FacialHair = 6,
    Hat = 7,
    Earrings = 8,
    Clothing = 9,
}

impl Part {
    pub const ALL: [Part; 10] = [
        Part::Background,
        Part::Skin,
        Part::Hair,
        Part::Eyes,
        Part::Mouth,
        Part::Eyewear,
        Part::FacialHair,
        Part::Hat,
        Part::Earrings,
        Part::Clothing,
    ];

    pub fn name(self) -> &'static str {
        ["background", "skin", "hair", "eyes", "mouth", "eyewear", "facial_hair", "hat", "earrings", "clothing"]
            [self as usize]
    }

    /// A distinct colour per part, for looking at masks.
    pub fn display_color(self) -> [u8; 3] {
        [
            [0, 0, 0],
            [240, 190, 150],
            [120, 70, 30],
            [40, 120, 255],
            [230, 30, 60],
            [0, 220, 220],
            [160, 0, 200],
            [255, 140, 0],
            [255, 240, 0],
            [40, 180, 60],
        ][self as usize]
    }
}

/// The parts whose pixels a change of `factor` may alter (in the images before or after the
/// change): everything outside them must stay the same. Translucent lenses and the parts under
/// them count as eyewear; eyebrows count as hair.
pub fn affected_parts(factor: Factor) -> &'static [Part] {
    use Part::*;
    match factor {
        Factor::HairColor => &[Hair, FacialHair],
        Factor::HairStyle => &[Hair, Skin, Background, Clothing],
        Factor::Expression => &[Mouth, Skin, Hair, FacialHair],
        Factor::Mouth => &[Mouth, Skin, FacialHair],
        Factor::Eyes => &[Eyes, Skin, Eyewear],
        Factor::Eyewear => &[Eyewear],
        Factor::FacialHair => &[FacialHair],
        Factor::Hat => &[Hat],
        Factor::Earrings => &[Earrings],
        Factor::Lipstick => &[Mouth],
        Factor::SkinTone => &[Skin, Mouth, Eyes, Eyewear],
        Factor::Background => &[Background],
    }
}

/// The part of every pixel (the topmost part covering the pixel centre), row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartMask {
    pub size: u32,
    pub labels: Vec<u8>,
}

impl PartMask {
    pub fn get(&self, x: u32, y: u32) -> Part {
        Part::ALL[self.labels[(y * self.size + x) as usize] as usize]
    }

    /// The share of pixels showing `part`.
    pub fn coverage(&self, part: Part) -> f32 {
        self.labels.iter().filter(|&&l| l == part as u8).count() as f32 / self.labels.len() as f32
    }

    /// The mask in display colours (see [`Part::display_color`]).
    pub fn to_image(&self) -> RgbImage {
        RgbImage::from_fn(self.size, self.size, |x, y| image::Rgb(self.get(x, y).display_color()))
    }

    /// The mask as a grey image whose values are the part labels (0–9), lossless in PNG.
    pub fn to_label_image(&self) -> image::GrayImage {
        image::GrayImage::from_raw(self.size, self.size, self.labels.clone()).expect("size² labels")
    }
}

/// One rendered portrait and its part mask.
#[derive(Clone, Debug)]
pub struct Portrait {
    pub image: RgbImage,
    pub mask: PartMask,
}

/// Renders the portrait of `seed` with `attributes` at `size`×`size` pixels.
pub fn render(seed: u64, attributes: &Attributes, size: u32) -> Portrait {
    let look = Look::sample(seed);
    let mut canvas = Canvas::new(size, look.head_transform(size), look.body_transform(size));
    Scene { a: attributes, look: &look, geo: Geometry::new(&look) }.draw(&mut canvas);
    canvas.finish(seed, look.grain)
}

const STREAM_LOOK: u64 = 2;

// ---------------------------------------------------------------------------------------------
// Colours

#[derive(Clone, Copy, Debug)]
struct Rgb(f32, f32, f32);

impl Rgb {
    fn mix(self, other: Rgb, t: f32) -> Rgb {
        Rgb(self.0 + (other.0 - self.0) * t, self.1 + (other.1 - self.1) * t, self.2 + (other.2 - self.2) * t)
    }
    fn scale(self, k: f32) -> Rgb {
        Rgb((self.0 * k).min(1.0), (self.1 * k).min(1.0), (self.2 * k).min(1.0))
    }
    fn lighten(self, t: f32) -> Rgb {
        self.mix(WHITE, t)
    }
    fn jitter(self, rng: &mut Rng, amount: f32) -> Rgb {
        let j = |v: f32, r: &mut Rng| (v + r.range(-amount, amount)).clamp(0.0, 1.0);
        Rgb(j(self.0, rng), j(self.1, rng), j(self.2, rng))
    }
    fn alpha(self, a: f32) -> Color {
        Color::from_rgba(self.0.clamp(0.0, 1.0), self.1.clamp(0.0, 1.0), self.2.clamp(0.0, 1.0), a.clamp(0.0, 1.0))
            .expect("finite colour")
    }
    fn opaque(self) -> Color {
        self.alpha(1.0)
    }
}

const WHITE: Rgb = Rgb(1.0, 1.0, 1.0);
const INK: Rgb = Rgb(0.10, 0.07, 0.07);

fn hair_rgb(c: HairColor) -> Rgb {
    match c {
        HairColor::Black => Rgb(0.10, 0.09, 0.09),
        HairColor::Brown => Rgb(0.42, 0.26, 0.14),
        HairColor::Blond => Rgb(0.92, 0.77, 0.45),
        HairColor::Red => Rgb(0.78, 0.28, 0.10),
        HairColor::Gray => Rgb(0.68, 0.68, 0.70),
        HairColor::Blue => Rgb(0.20, 0.42, 0.88),
        HairColor::Pink => Rgb(0.97, 0.47, 0.70),
    }
}

fn skin_rgb(s: SkinTone) -> Rgb {
    match s {
        SkinTone::Light => Rgb(0.98, 0.86, 0.77),
        SkinTone::Medium => Rgb(0.88, 0.68, 0.52),
        SkinTone::Tan => Rgb(0.71, 0.49, 0.33),
        SkinTone::Dark => Rgb(0.40, 0.26, 0.18),
    }
}

fn background_rgb(b: Background) -> Rgb {
    match b {
        Background::White => Rgb(0.95, 0.95, 0.94),
        Background::Gray => Rgb(0.55, 0.56, 0.58),
        Background::Blue => Rgb(0.40, 0.60, 0.88),
        Background::Green => Rgb(0.47, 0.74, 0.50),
        Background::Yellow => Rgb(0.97, 0.85, 0.40),
        Background::Purple => Rgb(0.58, 0.44, 0.76),
    }
}

const CLOTHES: [Rgb; 12] = [
    Rgb(0.16, 0.20, 0.36),
    Rgb(0.50, 0.13, 0.17),
    Rgb(0.16, 0.38, 0.25),
    Rgb(0.22, 0.22, 0.25),
    Rgb(0.90, 0.86, 0.76),
    Rgb(0.84, 0.64, 0.20),
    Rgb(0.13, 0.50, 0.52),
    Rgb(0.70, 0.34, 0.18),
    Rgb(0.66, 0.60, 0.82),
    Rgb(0.45, 0.46, 0.22),
    Rgb(0.55, 0.72, 0.88),
    Rgb(0.94, 0.50, 0.42),
];
const HATS: [Rgb; 9] = [
    Rgb(0.78, 0.14, 0.14),
    Rgb(0.15, 0.19, 0.38),
    Rgb(0.12, 0.12, 0.14),
    Rgb(0.42, 0.45, 0.22),
    Rgb(0.86, 0.66, 0.18),
    Rgb(0.90, 0.88, 0.80),
    Rgb(0.10, 0.50, 0.50),
    Rgb(0.93, 0.50, 0.15),
    Rgb(0.18, 0.40, 0.26),
];
const IRISES: [Rgb; 5] =
    [Rgb(0.36, 0.22, 0.12), Rgb(0.16, 0.11, 0.08), Rgb(0.28, 0.48, 0.70), Rgb(0.32, 0.50, 0.32), Rgb(0.50, 0.40, 0.20)];
const FRAMES: [Rgb; 5] =
    [Rgb(0.08, 0.08, 0.09), Rgb(0.36, 0.20, 0.10), Rgb(0.80, 0.64, 0.30), Rgb(0.14, 0.18, 0.40), Rgb(0.62, 0.12, 0.14)];
const LENS_TINTS: [Rgb; 4] = [Rgb(0.05, 0.05, 0.06), Rgb(0.22, 0.13, 0.06), Rgb(0.10, 0.16, 0.12), Rgb(0.06, 0.10, 0.22)];
const LIPSTICKS: [Rgb; 4] = [Rgb(0.86, 0.07, 0.15), Rgb(0.92, 0.15, 0.32), Rgb(0.95, 0.24, 0.20), Rgb(0.88, 0.08, 0.40)];
const METALS: [Rgb; 3] = [Rgb(0.98, 0.78, 0.22), Rgb(0.88, 0.90, 0.94), Rgb(0.95, 0.62, 0.48)];
const GEMS: [Rgb; 3] = [Rgb(0.10, 0.75, 0.72), Rgb(0.85, 0.10, 0.25), Rgb(0.30, 0.40, 0.95)];

// ---------------------------------------------------------------------------------------------
// Nuisance variation

/// Everything the seed decides and no caption names.
#[derive(Clone, Debug)]
struct Look {
    face_width: f32,
    face_length: f32,
    jaw: f32,
    tilt_deg: f32,
    offset: (f32, f32),
    scale: f32,
    /// Where the key light comes from: positive from the image's left, negative from its right
    /// (magnitude 0.3–1: never flat).
    light: f32,
    shading: f32,
    hair_tint: [f32; 3],
    skin_tint: [f32; 3],
    background_tint: [f32; 3],
    halo: f32,
    clothes: Rgb,
    neckline: usize,
    hat_color: Rgb,
    pompom: bool,
    iris: Rgb,
    frame: Rgb,
    frame_shape: usize,
    lens_tint: Rgb,
    lipstick: Rgb,
    metal: Rgb,
    gem: Option<Rgb>,
    hoops: bool,
    brow_weight: f32,
    lip_fullness: f32,
    part_side: f32,
    grain: f32,
}

impl Look {
    fn sample(seed: u64) -> Look {
        let mut r = Rng::stream(seed, STREAM_LOOK);
        let tint = |r: &mut Rng, a: f32| [r.range(-a, a), r.range(-a, a), r.range(-a, a)];
        Look {
            face_width: r.range(0.93, 1.07),
            face_length: r.range(0.95, 1.04),
            jaw: r.range(0.60, 0.80),
            tilt_deg: r.range(-6.0, 6.0),
            offset: (r.range(-0.02, 0.02), r.range(-0.015, 0.015)),
            scale: r.range(1.06, 1.14),
            light: {
                let m = r.range(0.3, 1.0);
                if r.chance(0.5) { -m } else { m }
            },
            shading: r.range(0.6, 1.0),
            hair_tint: tint(&mut r, 0.03),
            skin_tint: tint(&mut r, 0.015),
            background_tint: tint(&mut r, 0.025),
            halo: r.range(0.0, 0.08),
            clothes: r.pick(&CLOTHES).jitter(&mut r, 0.04),
            neckline: r.below(3),
            hat_color: *r.pick(&HATS),
            pompom: r.chance(0.5),
            iris: *r.pick(&IRISES),
            frame: *r.pick(&FRAMES),
            frame_shape: r.below(3),
            lens_tint: *r.pick(&LENS_TINTS),
            lipstick: *r.pick(&LIPSTICKS),
            metal: *r.pick(&METALS),
            gem: if r.chance(0.5) { Some(*r.pick(&GEMS)) } else { None },
            hoops: r.chance(0.5),
            brow_weight: r.range(0.85, 1.2),
            lip_fullness: r.range(1.0, 1.25),
            part_side: if r.chance(0.5) { -1.0 } else { 1.0 },
            grain: r.range(0.5, 2.5),
        }
    }

    /// Unit coordinates → pixels for the head: scale about the centre, tilt about the neck,
    /// then offset.
    fn head_transform(&self, size: u32) -> Transform {
        let (sin, cos) = sin_cos_deg(self.tilt_deg);
        let (px, py) = (0.5, 0.82);
        let n = size as f32;
        let s = self.scale;
        // x' = n·(s·R·(q − p) + s·p − s·c + c + o) with c = (0.5, 0.5)
        let rx = cos * px - sin * py;
        let ry = sin * px + cos * py;
        let tx = n * (s * (px - rx) + (1.0 - s) * 0.5 + self.offset.0);
        let ty = n * (s * (py - ry) + (1.0 - s) * 0.5 + self.offset.1);
        Transform::from_row(n * s * cos, n * s * sin, -n * s * sin, n * s * cos, tx, ty)
    }

    /// The shoulders follow the head's offset and scale but not its tilt.
    fn body_transform(&self, size: u32) -> Transform {
        let n = size as f32;
        let s = self.scale;
        Transform::from_row(n * s, 0.0, 0.0, n * s, n * ((1.0 - s) * 0.5 + self.offset.0), n * ((1.0 - s) + self.offset.1))
    }
}

/// Key positions of the face, from the nuisance shape.
struct Geometry {
    cx: f32,
    /// Half the face width at the cheekbones.
    w: f32,
    top: f32,
    chin: f32,
    eye_y: f32,
    eye_dx: f32,
    mouth_y: f32,
    mouth_w: f32,
    ear_y: f32,
}

impl Geometry {
    fn new(look: &Look) -> Geometry {
        let w = 0.215 * look.face_width;
        Geometry {
            cx: 0.5,
            w,
            top: 0.185,
            chin: 0.5 + 0.34 * look.face_length,
            eye_y: 0.47,
            eye_dx: 0.094 * look.face_width.sqrt(),
            mouth_y: 0.5 + 0.2 * look.face_length,
            mouth_w: 0.074 * look.face_width.sqrt(),
            ear_y: 0.50,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

/// A closed Catmull-Rom spline through `points`, as cubic Béziers.
fn smooth_closed(points: &[(f32, f32)]) -> Path {
    let n = points.len();
    let mut pb = PathBuilder::new();
    pb.move_to(points[0].0, points[0].1);
    for i in 0..n {
        let p0 = points[(i + n - 1) % n];
        let p1 = points[i];
        let p2 = points[(i + 1) % n];
        let p3 = points[(i + 2) % n];
        pb.cubic_to(
            p1.0 + (p2.0 - p0.0) / 6.0,
            p1.1 + (p2.1 - p0.1) / 6.0,
            p2.0 - (p3.0 - p1.0) / 6.0,
            p2.1 - (p3.1 - p1.1) / 6.0,
            p2.0,
            p2.1,
        );
    }
    pb.close();
    pb.finish().expect("non-empty path")
}

/// An open Catmull-Rom spline through `points` (end tangents from the end segments).
fn smooth_open(points: &[(f32, f32)]) -> Path {
    let mut pb = PathBuilder::new();
    pb.move_to(points[0].0, points[0].1);
    append_smooth(&mut pb, points);
    pb.finish().expect("non-empty path")
}

/// Appends the spline through `points` (already at `points[0]`).
fn append_smooth(pb: &mut PathBuilder, points: &[(f32, f32)]) {
    let n = points.len();
    for i in 0..n - 1 {
        let p0 = points[i.saturating_sub(1)];
        let p1 = points[i];
        let p2 = points[i + 1];
        let p3 = points[(i + 2).min(n - 1)];
        pb.cubic_to(
            p1.0 + (p2.0 - p0.0) / 6.0,
            p1.1 + (p2.1 - p0.1) / 6.0,
            p2.0 - (p3.0 - p1.0) / 6.0,
            p2.1 - (p3.1 - p1.1) / 6.0,
            p2.0,
            p2.1,
        );
    }
}

/// The right half of an outline (top to bottom, x ≥ cx) closed by its mirror image.
fn mirrored(cx: f32, right: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut all = right.to_vec();
    all.extend(right.iter().rev().filter(|p| p.0 != cx).map(|&(x, y)| (2.0 * cx - x, y)));
    all
}

fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Path {
    PathBuilder::from_oval(tiny_skia::Rect::from_ltrb(cx - rx, cy - ry, cx + rx, cy + ry).expect("positive radii"))
        .expect("oval")
}

fn circle(cx: f32, cy: f32, r: f32) -> Path {
    PathBuilder::from_circle(cx, cy, r).expect("positive radius")
}

/// A quadratic curve from `a` to `b` through the point (mid-x, `mid_y`).
fn curve_through(a: (f32, f32), b: (f32, f32), mid_y: f32) -> Path {
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.quad_to((a.0 + b.0) / 2.0, 2.0 * mid_y - (a.1 + b.1) / 2.0, b.0, b.1);
    pb.finish().expect("curve")
}

// ---------------------------------------------------------------------------------------------
// Canvas: the image (anti-aliased) and the part mask (aliased, one label per pixel).

enum Space {
    Head,
    Body,
    Screen,
}

struct Canvas {
    size: u32,
    image: Pixmap,
    mask: Pixmap,
    head: Transform,
    body: Transform,
}

fn solid(color: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(color);
    p.anti_alias = true;
    p
}

fn shaded(shader: Shader<'static>) -> Paint<'static> {
    Paint { shader, anti_alias: true, ..Paint::default() }
}

fn linear(a: (f32, f32), b: (f32, f32), stops: &[(f32, Color)]) -> Paint<'static> {
    let stops = stops.iter().map(|&(p, c)| GradientStop::new(p, c)).collect();
    shaded(
        LinearGradient::new(Point::from_xy(a.0, a.1), Point::from_xy(b.0, b.1), stops, SpreadMode::Pad, Transform::identity())
            .expect("gradient"),
    )
}

fn radial(c: (f32, f32), r: f32, stops: &[(f32, Color)]) -> Paint<'static> {
    let stops = stops.iter().map(|&(p, c)| GradientStop::new(p, c)).collect();
    let centre = Point::from_xy(c.0, c.1);
    shaded(RadialGradient::new(centre, centre, r, stops, SpreadMode::Pad, Transform::identity()).expect("gradient"))
}

fn pen(width: f32) -> Stroke {
    Stroke { width, line_cap: LineCap::Round, line_join: LineJoin::Round, ..Stroke::default() }
}

impl Canvas {
    fn new(size: u32, head: Transform, body: Transform) -> Canvas {
        Canvas {
            size,
            image: Pixmap::new(size, size).expect("size > 0"),
            mask: Pixmap::new(size, size).expect("size > 0"),
            head,
            body,
        }
    }

    fn transform(&self, space: &Space) -> Transform {
        match space {
            Space::Head => self.head,
            Space::Body => self.body,
            Space::Screen => Transform::from_scale(self.size as f32, self.size as f32),
        }
    }

    fn label_paint(part: Part) -> Paint<'static> {
        let mut p = Paint::default();
        p.set_color_rgba8(part as u8, 0, 0, 255);
        p.anti_alias = false;
        p
    }

    /// Fills `path`; when `part` is given the mask records it there (shading overlays pass none).
    fn fill(&mut self, space: Space, path: &Path, paint: &Paint, part: Option<Part>) {
        let t = self.transform(&space);
        self.image.fill_path(path, paint, FillRule::Winding, t, None);
        if let Some(part) = part {
            self.mask.fill_path(path, &Self::label_paint(part), FillRule::Winding, t, None);
        }
    }

    fn stroke(&mut self, space: Space, path: &Path, width: f32, paint: &Paint, part: Option<Part>) {
        let t = self.transform(&space);
        self.image.stroke_path(path, paint, &pen(width), t, None);
        if let Some(part) = part {
            self.mask.stroke_path(path, &Self::label_paint(part), &pen(width), t, None);
        }
    }

    /// A clip mask of `path` (for texture inside a shape).
    fn clip(&self, space: Space, path: &Path) -> Mask {
        let mut m = Mask::new(self.size, self.size).expect("size > 0");
        m.fill_path(path, FillRule::Winding, true, self.transform(&space));
        m
    }

    /// Draws texture strokes inside `clip` only; texture never changes the mask.
    fn stroke_clipped(&mut self, space: Space, path: &Path, width: f32, paint: &Paint, clip: &Mask) {
        let t = self.transform(&space);
        self.image.stroke_path(path, paint, &pen(width), t, Some(clip));
    }

    /// Un-premultiplies into RGB and adds a fixed per-pixel grain that depends on the seed only.
    fn finish(self, seed: u64, grain: f32) -> Portrait {
        let size = self.size;
        let mut image = RgbImage::new(size, size);
        let noise_seed = mix(seed ^ 0x6772_6169_6e00);
        for (i, (px, out)) in self.image.pixels().iter().zip(image.pixels_mut()).enumerate() {
            let c = px.demultiply();
            let h = mix(noise_seed ^ i as u64);
            // Triangular noise in [-1, 1], scaled by the grain amplitude (in 8-bit levels).
            let n = ((h & 0xFFFF) as f32 + ((h >> 16) & 0xFFFF) as f32) / 65535.0 - 1.0;
            let d = (n * grain).round() as i32;
            let v = |c: u8| (c as i32 + d).clamp(0, 255) as u8;
            *out = image::Rgb([v(c.red()), v(c.green()), v(c.blue())]);
        }
        let labels = self.mask.pixels().iter().map(|p| p.red()).collect();
        Portrait { image, mask: PartMask { size, labels } }
    }
}

// ---------------------------------------------------------------------------------------------
// The scene

struct Scene<'a> {
    a: &'a Attributes,
    look: &'a Look,
    geo: Geometry,
}

impl Scene<'_> {
    fn draw(&self, c: &mut Canvas) {
        self.background(c);
        self.hair_back(c);
        self.neck_and_clothes(c);
        self.hair_locks(c);
        self.ears(c);
        self.face(c);
        self.smile_lines(c);
        self.facial_hair(c);
        self.mouth(c);
        self.mustache(c);
        self.eyes(c);
        self.brows(c);
        self.hair_front(c);
        self.earrings(c);
        self.eyewear(c);
        self.hat(c);
    }

    fn skin(&self) -> Rgb {
        let t = self.look.skin_tint;
        let s = skin_rgb(self.a.skin_tone);
        Rgb(s.0 + t[0], s.1 + t[1], s.2 + t[2])
    }

    fn hair(&self) -> Rgb {
        let t = self.look.hair_tint;
        let h = hair_rgb(self.a.hair_color);
        Rgb(h.0 + t[0], h.1 + t[1], h.2 + t[2])
    }

    /// Facial hair and brows: a darker shade of the hair, so blond and gray stay visible on skin.
    fn hair_dark(&self) -> Rgb {
        self.hair().scale(0.72)
    }

    fn background(&self, c: &mut Canvas) {
        let t = self.look.background_tint;
        let b = background_rgb(self.a.background);
        let b = Rgb(b.0 + t[0], b.1 + t[1], b.2 + t[2]);
        let full = PathBuilder::from_rect(tiny_skia::Rect::from_ltrb(0.0, 0.0, 1.0, 1.0).expect("unit rect"));
        c.fill(Space::Screen, &full, &linear((0.5, 0.0), (0.5, 1.0), &[(0.0, b.lighten(0.10).opaque()), (1.0, b.scale(0.90).opaque())]), Some(Part::Background));
        // A soft studio halo behind the head.
        c.fill(Space::Screen, &full, &radial((0.5, 0.42), 0.45, &[(0.0, WHITE.alpha(self.look.halo)), (1.0, WHITE.alpha(0.0))]), None);
    }

    /// A hair shape: base colour, a gradient from a lit crown to darker ends, and fine strands.
    fn hair_shape(&self, c: &mut Canvas, path: &Path, strands: &[Vec<(f32, f32)>]) {
        let h = self.hair();
        let g = &self.geo;
        c.fill(Space::Head, path, &solid(h.opaque()), Some(Part::Hair));
        let lx = g.cx - 0.15 * self.look.light;
        c.fill(
            Space::Head,
            path,
            &radial((lx, 0.2), 0.55, &[(0.0, h.lighten(0.25).alpha(0.45)), (0.5, h.alpha(0.0)), (1.0, h.scale(0.55).alpha(0.55))]),
            None,
        );
        if !strands.is_empty() {
            let clip = c.clip(Space::Head, path);
            let dark = solid(h.scale(0.6).alpha(0.45));
            let light = solid(h.lighten(0.35).alpha(0.35));
            for (i, s) in strands.iter().enumerate() {
                let paint = if i % 3 == 0 { &light } else { &dark };
                c.stroke_clipped(Space::Head, &smooth_open(s), 0.006, paint, &clip);
            }
        }
    }

    fn hair_back(&self, c: &mut Canvas) {
        let g = &self.geo;
        let (cx, w) = (g.cx, g.w);
        match self.a.hair_style {
            HairStyle::Long => {
                let outline = mirrored(
                    cx,
                    &[(cx, 0.135), (cx + 0.8 * w, 0.17), (cx + w + 0.055, 0.36), (cx + w + 0.07, 0.62), (cx + w + 0.09, 0.90), (cx + w + 0.06, 0.98), (cx + 0.1, 0.93)],
                );
                let strands: Vec<_> = (0..9)
                    .map(|i| {
                        let x = cx + (i as f32 - 4.0) * 0.065;
                        vec![(x * 0.9 + 0.05, 0.3), (x + (x - cx) * 0.3, 0.6), (x + (x - cx) * 0.5, 0.95)]
                    })
                    .collect();
                self.hair_shape(c, &smooth_closed(&outline), &strands);
            }
            HairStyle::Bangs => {
                let outline = mirrored(
                    cx,
                    &[(cx, 0.14), (cx + 0.8 * w, 0.17), (cx + w + 0.045, 0.34), (cx + w + 0.05, 0.58), (cx + w + 0.055, 0.76), (cx + w - 0.01, 0.775), (cx + 0.1, 0.72)],
                );
                let strands: Vec<_> = (0..8)
                    .map(|i| {
                        let x = cx + (i as f32 - 3.5) * 0.07;
                        vec![(x, 0.25), (x + (x - cx) * 0.25, 0.5), (x + (x - cx) * 0.3, 0.78)]
                    })
                    .collect();
                self.hair_shape(c, &smooth_closed(&outline), &strands);
            }
            HairStyle::Curly => {
                // A cloud of curls around the head.
                let mut pb = PathBuilder::new();
                let mut curls = Vec::new();
                for i in 0..22 {
                    let t = i as f32 / 21.0;
                    let angle = -110.0 + 220.0 * t; // degrees from the top, clockwise
                    let (s, co) = sin_cos_deg(angle);
                    let (x, y) = (cx + s * (w + 0.075), 0.40 - co * 0.25);
                    let r = 0.052 + 0.008 * ((i * 7 % 5) as f32 / 4.0);
                    pb.push_circle(x, y, r);
                    curls.push((x, y, r));
                }
                pb.push_oval(tiny_skia::Rect::from_ltrb(cx - w - 0.07, 0.15, cx + w + 0.07, 0.62).expect("rect"));
                // Inner rings, so the cloud is curly all over rather than only at its rim.
                for (ring, count, rx, ry) in [(1, 16, w + 0.03, 0.2), (2, 7, w * 0.5, 0.1)] {
                    for i in 0..count {
                        let t = (i as f32 + 0.5 * ring as f32) / count as f32;
                        let (s, co) = sin_cos_deg(-100.0 + 200.0 * t);
                        curls.push((cx + s * rx, 0.36 - co * ry, 0.045));
                    }
                }
                let cloud = pb.finish().expect("cloud");
                self.hair_shape(c, &cloud, &[]);
                self.curl_texture(c, &curls);
            }
            HairStyle::Short | HairStyle::Bald => {}
        }
    }

    /// Each curl shaded as a small lit sphere with a dark rim.
    fn curl_texture(&self, c: &mut Canvas, curls: &[(f32, f32, f32)]) {
        let h = self.hair();
        for &(x, y, r) in curls {
            let paint = radial(
                (x - 0.3 * r, y - 0.3 * r),
                r * 1.3,
                &[(0.0, h.lighten(0.3).alpha(0.5)), (0.55, h.alpha(0.0)), (1.0, h.scale(0.45).alpha(0.7))],
            );
            c.fill(Space::Head, &circle(x, y, r), &paint, None);
        }
    }

    fn hair_locks(&self, c: &mut Canvas) {
        if self.a.hair_style != HairStyle::Long {
            return;
        }
        let g = &self.geo;
        for side in [-1.0f32, 1.0] {
            let x0 = g.cx + side * (g.w + 0.005);
            let pts = [
                (x0, 0.56),
                (x0 + side * 0.045, 0.6),
                (x0 + side * 0.075, 0.8),
                (x0 + side * 0.07, 0.99),
                (x0 + side * 0.02, 0.97),
                (x0 - side * 0.005, 0.75),
            ];
            let strands = vec![vec![(x0 + side * 0.02, 0.6), (x0 + side * 0.04, 0.8), (x0 + side * 0.04, 0.97)]];
            self.hair_shape(c, &smooth_closed(&pts), &strands);
        }
    }

    fn neck_and_clothes(&self, c: &mut Canvas) {
        let g = &self.geo;
        let skin = self.skin();
        let cx = g.cx;
        let neck = smooth_closed(&[(cx - 0.075, 0.62), (cx + 0.075, 0.62), (cx + 0.08, 0.80), (cx + 0.09, 0.97), (cx - 0.09, 0.97), (cx - 0.08, 0.80)]);
        c.fill(Space::Body, &neck, &solid(skin.opaque()), Some(Part::Skin));
        c.fill(Space::Body, &neck, &linear((cx, 0.70), (cx, 0.86), &[(0.0, skin.scale(0.55).alpha(0.55)), (1.0, skin.scale(0.8).alpha(0.0))]), None);

        let cl = self.look.clothes;
        let dip = [0.89, 0.95, 0.88][self.look.neckline];
        let mut pb = PathBuilder::new();
        pb.move_to(-0.05, 1.05);
        pb.line_to(-0.04, 0.97);
        pb.cubic_to(0.0, 0.90, 0.10, 0.87, cx - 0.15, 0.855);
        pb.line_to(cx - 0.095, 0.845);
        pb.quad_to(cx, 2.0 * dip - 0.845, cx + 0.095, 0.845);
        pb.line_to(cx + 0.15, 0.855);
        pb.cubic_to(0.90, 0.87, 1.0, 0.90, 1.04, 0.97);
        pb.line_to(1.05, 1.05);
        pb.close();
        let body = pb.finish().expect("body");
        c.fill(Space::Body, &body, &solid(cl.opaque()), Some(Part::Clothing));
        let lx = cx - 0.5 * self.look.light;
        c.fill(Space::Body, &body, &linear((lx, 0.85), (1.0 - lx, 1.0), &[(0.0, WHITE.alpha(0.18)), (1.0, INK.alpha(0.30))]), None);
        // Neckline trim: a ribbed band (crew), a seam (v-neck) or a collar (shirt).
        let trim = curve_through((cx - 0.095, 0.845), (cx + 0.095, 0.845), dip);
        c.stroke(Space::Body, &trim, 0.014, &solid(cl.scale(0.75).opaque()), Some(Part::Clothing));
        if self.look.neckline == 2 {
            for side in [-1.0f32, 1.0] {
                let collar = smooth_closed(&[(cx + side * 0.10, 0.84), (cx + side * 0.015, 0.90), (cx + side * 0.12, 0.91)]);
                c.fill(Space::Body, &collar, &solid(Rgb(0.94, 0.93, 0.90).opaque()), Some(Part::Clothing));
            }
        }
    }

    fn face_outline(&self) -> Path {
        let g = &self.geo;
        let (cx, w) = (g.cx, g.w);
        let jaw = w * self.look.jaw;
        smooth_closed(&mirrored(
            cx,
            &[
                (cx, g.top),
                (cx + 0.72 * w, g.top + 0.03),
                (cx + 0.97 * w, 0.31),
                (cx + w, 0.43),
                (cx + 0.96 * w, 0.55),
                (cx + 0.86 * w, 0.645),
                (cx + jaw, g.chin - 0.09),
                (cx + 0.36 * w, g.chin - 0.02),
                (cx, g.chin),
            ],
        ))
    }

    fn ears(&self, c: &mut Canvas) {
        let g = &self.geo;
        let skin = self.skin();
        for side in [-1.0f32, 1.0] {
            let x = g.cx + side * (g.w + 0.006);
            c.fill(Space::Head, &ellipse(x, g.ear_y, 0.03, 0.058), &solid(skin.scale(0.95).opaque()), Some(Part::Skin));
            c.fill(Space::Head, &ellipse(x + side * 0.006, g.ear_y, 0.014, 0.034), &solid(skin.scale(0.75).alpha(0.6)), None);
        }
    }

    fn face(&self, c: &mut Canvas) {
        let g = &self.geo;
        let skin = self.skin();
        let face = self.face_outline();
        c.fill(Space::Head, &face, &solid(skin.opaque()), Some(Part::Skin));
        let l = self.look.light;
        let k = self.look.shading;
        // Side light: the far side in shadow.
        c.fill(
            Space::Head,
            &face,
            &linear((g.cx - l * g.w, 0.5), (g.cx + l * g.w * 1.1, 0.5), &[(0.0, skin.alpha(0.0)), (0.55, skin.alpha(0.0)), (1.0, skin.scale(0.6).alpha(0.45 * k))]),
            None,
        );
        // Rounded form: lit centre, darker rim.
        c.fill(
            Space::Head,
            &face,
            &radial((g.cx - 0.25 * l * g.w, 0.44), 0.36, &[(0.0, WHITE.alpha(0.12 * k)), (0.6, skin.alpha(0.0)), (1.0, skin.scale(0.5).alpha(0.35))]),
            None,
        );
        // Cheeks: a smile lifts and flushes them.
        let (blush, lift) = if self.a.expression == Expression::Smile { (0.22, 0.012) } else { (0.10, 0.0) };
        for side in [-1.0f32, 1.0] {
            let p = (g.cx + side * 0.12, 0.60 - lift);
            c.fill(Space::Head, &circle(p.0, p.1, 0.06), &radial(p, 0.06, &[(0.0, Rgb(0.9, 0.35, 0.35).alpha(blush)), (1.0, Rgb(0.9, 0.35, 0.35).alpha(0.0))]), None);
        }
        // Nose: a shadow on the side away from the light, nostrils and a highlight.
        let s = if l >= 0.0 { 1.0 } else { -1.0 };
        let ny = g.eye_y + 0.13;
        c.stroke(Space::Head, &smooth_open(&[(g.cx + s * 0.012, g.eye_y + 0.03), (g.cx + s * 0.018, ny - 0.03), (g.cx + s * 0.03, ny)]), 0.012, &solid(skin.scale(0.7).alpha(0.35)), None);
        for side in [-1.0f32, 1.0] {
            c.fill(Space::Head, &ellipse(g.cx + side * 0.016, ny + 0.004, 0.009, 0.005), &solid(skin.scale(0.45).alpha(0.55)), None);
        }
        c.fill(Space::Head, &circle(g.cx - s * 0.004, ny - 0.012, 0.012), &radial((g.cx - s * 0.004, ny - 0.012), 0.012, &[(0.0, WHITE.alpha(0.25)), (1.0, WHITE.alpha(0.0))]), None);
    }

    /// Smile lines from the nose wings towards the raised mouth corners.
    fn smile_lines(&self, c: &mut Canvas) {
        if self.a.expression != Expression::Smile {
            return;
        }
        let g = &self.geo;
        let crease = solid(self.skin().scale(0.55).alpha(0.6));
        for side in [-1.0f32, 1.0] {
            let line = smooth_open(&[(g.cx + side * 0.045, g.eye_y + 0.125), (g.cx + side * 0.085, g.mouth_y - 0.03), (g.cx + side * 0.092, g.mouth_y + 0.005)]);
            c.stroke(Space::Head, &line, 0.007, &crease, None);
        }
    }

    /// (corner rise, centre of the mouth line) for the expression: negative y is up.
    fn mouth_curve(&self) -> (f32, f32) {
        match self.a.expression {
            Expression::Neutral => (0.002, 0.0),
            Expression::Smile => (-0.022, 0.010),
            Expression::Frown => (0.026, -0.010),
        }
    }

    fn mouth(&self, c: &mut Canvas) {
        let g = &self.geo;
        let (cx, my, mw) = (g.cx, g.mouth_y, g.mouth_w * if self.a.expression == Expression::Smile { 1.12 } else { 1.0 });
        let (corner, line) = self.mouth_curve();
        let full = self.look.lip_fullness;
        let skin = self.skin();
        let natural = skin.mix(Rgb(0.74, 0.30, 0.34), 0.5).scale(0.9);
        let lips = if self.a.lipstick == Lipstick::Lipstick { self.look.lipstick } else { natural };
        let open = self.a.mouth == Mouth::Open;
        let gap = if open { if self.a.expression == Expression::Smile { 0.036 } else { 0.030 } } else { 0.0 };
        let l = (cx - mw, my + corner);
        let r = (cx + mw, my + corner);
        // The inner edges of the upper and lower lips meet on the mouth line when closed.
        let upper_inner = my + line - gap * 0.35;
        let lower_inner = my + line + gap * 0.65;
        let upper_top = my - 0.017 * full;
        let lower_bottom = lower_inner + 0.026 * full;

        let mut upper = PathBuilder::new();
        upper.move_to(l.0, l.1);
        append_smooth(&mut upper, &[l, (cx - 0.45 * mw, upper_top - 0.004 + corner * 0.4), (cx, upper_top + 0.003), (cx + 0.45 * mw, upper_top - 0.004 + corner * 0.4), r]);
        upper.quad_to(cx, 2.0 * upper_inner - r.1, l.0, l.1);
        upper.close();
        let upper = upper.finish().expect("lip");

        let mut lower = PathBuilder::new();
        lower.move_to(l.0, l.1);
        lower.quad_to(cx, 2.0 * lower_inner - l.1, r.0, r.1);
        append_smooth(&mut lower, &[r, (cx + 0.5 * mw, lower_bottom - 0.004), (cx - 0.5 * mw, lower_bottom - 0.004), l]);
        lower.close();
        let lower = lower.finish().expect("lip");

        if open {
            let mut inside = PathBuilder::new();
            inside.move_to(l.0, l.1);
            inside.quad_to(cx, 2.0 * upper_inner - l.1, r.0, r.1);
            inside.quad_to(cx, 2.0 * lower_inner - r.1, l.0, l.1);
            inside.close();
            let inside = inside.finish().expect("mouth");
            c.fill(Space::Head, &inside, &solid(Rgb(0.28, 0.06, 0.08).opaque()), Some(Part::Mouth));
            let clip = c.clip(Space::Head, &inside);
            // Upper teeth along the upper lip.
            let teeth = curve_through((l.0 + 0.01, l.1 + 0.004), (r.0 - 0.01, r.1 + 0.004), upper_inner + 0.004);
            c.stroke_clipped(Space::Head, &teeth, 0.016, &solid(Rgb(0.97, 0.95, 0.92).opaque()), &clip);
        }
        c.fill(Space::Head, &upper, &solid(lips.scale(0.88).opaque()), Some(Part::Mouth));
        c.fill(Space::Head, &lower, &solid(lips.opaque()), Some(Part::Mouth));
        if !open {
            c.stroke(Space::Head, &curve_through(l, r, my + line), 0.009, &solid(lips.scale(0.3).mix(INK, 0.5).opaque()), Some(Part::Mouth));
        }
        let gloss = if self.a.lipstick == Lipstick::Lipstick { 0.45 } else { 0.18 };
        let gy = lower_inner + 0.012 * full;
        c.fill(Space::Head, &ellipse(cx + 0.02, gy, 0.016, 0.005), &radial((cx + 0.02, gy), 0.016, &[(0.0, WHITE.alpha(gloss)), (1.0, WHITE.alpha(0.0))]), None);
    }

    fn facial_hair(&self, c: &mut Canvas) {
        let g = &self.geo;
        let (cx, w, my) = (g.cx, g.w, g.mouth_y);
        let colour = self.hair_dark();
        let shape = match self.a.facial_hair {
            FacialHair::Beard => {
                let jaw = w * self.look.jaw;
                let mut pb = PathBuilder::new();
                // Outer edge: the jaw line from sideburn to sideburn, a little fuller at the chin.
                let outer = [
                    (cx - w * 0.99, 0.47),
                    (cx - 0.96 * w, 0.56),
                    (cx - 0.87 * w, 0.65),
                    (cx - jaw - 0.01, g.chin - 0.08),
                    (cx - 0.36 * w, g.chin + 0.0),
                    (cx, g.chin + 0.025),
                    (cx + 0.36 * w, g.chin + 0.0),
                    (cx + jaw + 0.01, g.chin - 0.08),
                    (cx + 0.87 * w, 0.65),
                    (cx + 0.96 * w, 0.56),
                    (cx + w * 0.99, 0.47),
                ];
                let inner = [
                    (cx + w * 0.86, 0.47),
                    (cx + w * 0.78, 0.58),
                    (cx + 0.10, my - 0.01),
                    (cx + 0.085, my + 0.045),
                    (cx, my + 0.06),
                    (cx - 0.085, my + 0.045),
                    (cx - 0.10, my - 0.01),
                    (cx - w * 0.78, 0.58),
                    (cx - w * 0.86, 0.47),
                ];
                pb.move_to(outer[0].0, outer[0].1);
                append_smooth(&mut pb, &outer);
                pb.line_to(inner[0].0, inner[0].1);
                append_smooth(&mut pb, &inner);
                pb.close();
                pb.finish()
            }
            FacialHair::Goatee => Some(smooth_closed(&[
                (cx - 0.045, my + 0.04),
                (cx, my + 0.034),
                (cx + 0.045, my + 0.04),
                (cx + 0.05, g.chin - 0.03),
                (cx, g.chin + 0.012),
                (cx - 0.05, g.chin - 0.03),
            ])),
            FacialHair::None | FacialHair::Mustache => None,
        };
        if let Some(shape) = shape {
            c.fill(Space::Head, &shape, &solid(colour.opaque()), Some(Part::FacialHair));
            self.bristles(c, &shape, colour);
        }
    }

    /// Short strokes of lighter and darker hair inside a facial-hair shape.
    fn bristles(&self, c: &mut Canvas, shape: &Path, colour: Rgb) {
        let clip = c.clip(Space::Head, shape);
        let b = shape.bounds();
        let mut rng = Rng::new(0xBEA4D);
        let dark = solid(colour.scale(0.6).alpha(0.5));
        let light = solid(colour.lighten(0.3).alpha(0.35));
        for i in 0..40 {
            let x = b.left() + rng.unit() * b.width();
            let y = b.top() + rng.unit() * b.height();
            let dx = (x - self.geo.cx) * 0.08;
            let stroke = curve_through((x, y), (x + dx, y + 0.02), y + 0.01);
            c.stroke_clipped(Space::Head, &stroke, 0.004, if i % 3 == 0 { &light } else { &dark }, &clip);
        }
    }

    fn mustache(&self, c: &mut Canvas) {
        if !matches!(self.a.facial_hair, FacialHair::Mustache | FacialHair::Beard) {
            return;
        }
        let g = &self.geo;
        let (cx, my, mw) = (g.cx, g.mouth_y, g.mouth_w);
        let colour = self.hair_dark();
        let shape = smooth_closed(&mirrored(
            cx,
            &[(cx, my - 0.043), (cx + 0.04, my - 0.046), (cx + mw + 0.012, my - 0.012), (cx + mw + 0.016, my + 0.006), (cx + 0.04, my - 0.016), (cx, my - 0.02)],
        ));
        c.fill(Space::Head, &shape, &solid(colour.opaque()), Some(Part::FacialHair));
        self.bristles(c, &shape, colour);
    }

    fn eyes(&self, c: &mut Canvas) {
        let g = &self.geo;
        let skin = self.skin();
        for side in [-1.0f32, 1.0] {
            let (ex, ey) = (g.cx + side * g.eye_dx, g.eye_y);
            let (hw, hh) = (0.040, 0.021);
            // Almond: the outer corner slightly higher.
            let inner = (ex - side * hw, ey + 0.002);
            let outer = (ex + side * hw, ey - 0.003);
            // A soft socket shadow above the eye.
            c.fill(Space::Head, &ellipse(ex, ey - 0.01, 0.05, 0.03), &radial((ex, ey - 0.01), 0.05, &[(0.0, skin.scale(0.7).alpha(0.35)), (1.0, skin.alpha(0.0))]), None);
            match self.a.eyes {
                Eyes::Open => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(inner.0, inner.1);
                    pb.cubic_to(ex - side * 0.02, ey - hh * 1.35, ex + side * 0.02, ey - hh * 1.35, outer.0, outer.1);
                    pb.cubic_to(ex + side * 0.02, ey + hh * 1.2, ex - side * 0.02, ey + hh * 1.2, inner.0, inner.1);
                    pb.close();
                    let almond = pb.finish().expect("eye");
                    c.fill(Space::Head, &almond, &solid(Rgb(0.97, 0.96, 0.94).opaque()), Some(Part::Eyes));
                    let clip = c.clip(Space::Head, &almond);
                    let iris = self.look.iris;
                    c.stroke_clipped(Space::Head, &circle(ex, ey, 0.009), 0.016, &solid(iris.opaque()), &clip);
                    c.fill(Space::Head, &circle(ex, ey, 0.0075), &solid(INK.opaque()), None);
                    c.fill(Space::Head, &circle(ex + 0.005, ey - 0.005, 0.0035), &solid(WHITE.alpha(0.9)), None);
                    // Upper lid and lashes.
                    let mut lid = PathBuilder::new();
                    lid.move_to(inner.0, inner.1);
                    lid.cubic_to(ex - side * 0.02, ey - hh * 1.35, ex + side * 0.02, ey - hh * 1.35, outer.0 + side * 0.004, outer.1 - 0.002);
                    c.stroke(Space::Head, &lid.finish().expect("lid"), 0.007, &solid(INK.opaque()), Some(Part::Eyes));
                }
                Eyes::Closed => {
                    // The lid covers the eye; the lash line curves down.
                    let mut pb = PathBuilder::new();
                    pb.move_to(inner.0, inner.1);
                    pb.cubic_to(ex - side * 0.02, ey - hh * 1.2, ex + side * 0.02, ey - hh * 1.2, outer.0, outer.1);
                    pb.cubic_to(ex + side * 0.02, ey + hh * 0.9, ex - side * 0.02, ey + hh * 0.9, inner.0, inner.1);
                    pb.close();
                    c.fill(Space::Head, &pb.finish().expect("lid"), &solid(skin.scale(0.9).opaque()), Some(Part::Eyes));
                    let lash = smooth_open(&[inner, (ex, ey + hh * 0.75), (outer.0 + side * 0.004, outer.1)]);
                    c.stroke(Space::Head, &lash, 0.008, &solid(INK.opaque()), Some(Part::Eyes));
                }
            }
        }
    }

    fn brows(&self, c: &mut Canvas) {
        let g = &self.geo;
        let colour = self.hair_dark();
        let (inner_dy, arch) = match self.a.expression {
            Expression::Neutral => (0.0, 0.006),
            Expression::Smile => (-0.008, 0.012),
            Expression::Frown => (0.016, -0.002),
        };
        let by = g.eye_y - 0.055;
        for side in [-1.0f32, 1.0] {
            let inner = (g.cx + side * 0.042, by + 0.004 + inner_dy);
            let peak = (g.cx + side * 0.095, by - arch - 0.006);
            let outer = (g.cx + side * 0.138, by + 0.008);
            let brow = smooth_open(&[inner, peak, outer]);
            c.stroke(Space::Head, &brow, 0.017 * self.look.brow_weight, &solid(colour.opaque()), Some(Part::Hair));
        }
    }

    fn hair_front(&self, c: &mut Canvas) {
        let g = &self.geo;
        let (cx, w) = (g.cx, g.w);
        let side = self.look.part_side;
        // The crown cap shared by the short, long and bangs styles, with a hairline over the
        // forehead that ends in sideburns above the ears.
        let crown = |hairline_y: f32| {
            smooth_closed(&[
                (cx - w - 0.012, 0.45),
                (cx - w - 0.022, 0.31),
                (cx - 0.72 * w, 0.165),
                (cx, 0.140),
                (cx + 0.72 * w, 0.165),
                (cx + w + 0.022, 0.31),
                (cx + w + 0.012, 0.45),
                (cx + w - 0.018, 0.45),
                (cx + w - 0.03, 0.33),
                (cx + 0.45 * w, hairline_y - 0.01 * side),
                (cx + side * 0.2 * w, hairline_y + 0.012),
                (cx - 0.45 * w, hairline_y + 0.01 * side),
                (cx - w + 0.03, 0.33),
                (cx - w + 0.018, 0.45),
            ])
        };
        let sweep: Vec<_> = (0..7)
            .map(|i| {
                let x = cx + side * 0.2 * w + (i as f32 - 3.0) * 0.05;
                vec![(cx + side * 0.2 * w, 0.15), (x, 0.2), (x + (x - cx) * 0.4, 0.32)]
            })
            .collect();
        match self.a.hair_style {
            HairStyle::Short => self.hair_shape(c, &crown(0.27), &sweep),
            HairStyle::Long => self.hair_shape(c, &crown(0.285), &sweep),
            HairStyle::Bangs => {
                let mut pts = vec![(cx - w - 0.03, 0.47), (cx - w - 0.028, 0.30), (cx - 0.72 * w, 0.16), (cx, 0.135), (cx + 0.72 * w, 0.16), (cx + w + 0.028, 0.30), (cx + w + 0.03, 0.47), (cx + w - 0.01, 0.40)];
                // A straight fringe above the brows, slightly scalloped.
                for i in 0..7 {
                    let t = i as f32 / 6.0;
                    let x = cx + w * 0.92 - t * w * 1.84;
                    pts.push((x, 0.362 + if i % 2 == 0 { 0.0 } else { 0.008 }));
                }
                pts.push((cx - w + 0.01, 0.40));
                let strands: Vec<_> = (0..10).map(|i| {
                    let x = cx - w + 0.02 + i as f32 * 0.2 * w;
                    vec![(cx + (x - cx) * 0.3, 0.15), (x, 0.26), (x, 0.37)]
                }).collect();
                self.hair_shape(c, &smooth_closed(&pts), &strands);
            }
            HairStyle::Curly => {
                let mut pb = PathBuilder::new();
                let mut curls = Vec::new();
                for i in 0..9 {
                    let t = i as f32 / 8.0;
                    let x = cx - w * 0.95 + t * w * 1.9;
                    let y = 0.27 + 0.06 * (2.0 * t - 1.0) * (2.0 * t - 1.0) + if i % 2 == 0 { 0.0 } else { -0.01 };
                    pb.push_circle(x, y, 0.04);
                    curls.push((x, y, 0.04));
                }
                pb.push_oval(tiny_skia::Rect::from_ltrb(cx - w * 0.98, 0.13, cx + w * 0.98, 0.29).expect("rect"));
                self.hair_shape(c, &pb.finish().expect("curls"), &[]);
                self.curl_texture(c, &curls);
            }
            HairStyle::Bald => {
                // A shiny scalp and a horseshoe of hair above the ears.
                let face = self.face_outline();
                c.fill(Space::Head, &face, &radial((cx - 0.3 * w * self.look.light.signum(), 0.24), 0.09, &[(0.0, WHITE.alpha(0.35)), (1.0, WHITE.alpha(0.0))]), None);
                for s in [-1.0f32, 1.0] {
                    let pts = [
                        (cx + s * (w + 0.028), 0.34),
                        (cx + s * (w + 0.03), 0.47),
                        (cx + s * (w - 0.005), 0.47),
                        (cx + s * (w - 0.014), 0.40),
                        (cx + s * (w - 0.006), 0.335),
                    ];
                    let strands = vec![vec![(cx + s * (w + 0.01), 0.34), (cx + s * (w + 0.012), 0.47)]];
                    self.hair_shape(c, &smooth_closed(&pts), &strands);
                }
            }
        }
    }

    fn earrings(&self, c: &mut Canvas) {
        if self.a.earrings == Earrings::None {
            return;
        }
        let g = &self.geo;
        let metal = self.look.metal;
        for side in [-1.0f32, 1.0] {
            let (x, y) = (g.cx + side * (g.w + 0.014), g.ear_y + 0.052);
            if self.look.hoops {
                let hoop = circle(x, y + 0.024, 0.022);
                c.stroke(Space::Head, &hoop, 0.017, &solid(metal.scale(0.4).opaque()), Some(Part::Earrings));
                c.stroke(Space::Head, &hoop, 0.010, &solid(metal.opaque()), Some(Part::Earrings));
            } else {
                let drop = self.look.gem.unwrap_or(metal);
                c.stroke(Space::Head, &curve_through((x, y), (x, y + 0.02), y + 0.01), 0.006, &solid(metal.opaque()), Some(Part::Earrings));
                c.fill(Space::Head, &circle(x, y + 0.034, 0.019), &solid(metal.scale(0.4).opaque()), Some(Part::Earrings));
                c.fill(Space::Head, &circle(x, y + 0.034, 0.015), &solid(drop.opaque()), Some(Part::Earrings));
                c.fill(Space::Head, &circle(x - 0.005, y + 0.029, 0.005), &solid(WHITE.alpha(0.7)), None);
            }
        }
    }

    fn eyewear(&self, c: &mut Canvas) {
        let g = &self.geo;
        let sun = match self.a.eyewear {
            Eyewear::None => return,
            Eyewear::Glasses => false,
            Eyewear::Sunglasses => true,
        };
        let frame = if sun { self.look.frame.scale(0.5) } else { self.look.frame };
        let (hw, hh) = if sun { (0.06, 0.045) } else { (0.055, 0.038) };
        let width = if sun { 0.016 } else { 0.011 };
        let ey = g.eye_y + 0.004;
        for side in [-1.0f32, 1.0] {
            let ex = g.cx + side * g.eye_dx;
            let lens = match self.look.frame_shape {
                0 => ellipse(ex, ey, hw, hh),
                1 => {
                    let r = tiny_skia::Rect::from_ltrb(ex - hw, ey - hh, ex + hw, ey + hh).expect("rect");
                    rounded_rect(r, 0.018)
                }
                _ => smooth_closed(&[(ex - side * hw, ey - hh * 0.7), (ex + side * hw * 0.9, ey - hh * 1.05), (ex + side * hw, ey + hh * 0.4), (ex, ey + hh), (ex - side * hw * 0.95, ey + hh * 0.5)]),
            };
            if sun {
                let t = self.look.lens_tint;
                c.fill(Space::Head, &lens, &linear((ex, ey - hh), (ex, ey + hh), &[(0.0, t.alpha(0.76)), (1.0, t.alpha(0.50))]), Some(Part::Eyewear));
                c.fill(Space::Head, &lens, &linear((ex - hw, ey - hh), (ex + hw, ey + hh), &[(0.0, WHITE.alpha(0.0)), (0.45, WHITE.alpha(0.0)), (0.5, WHITE.alpha(0.35)), (0.6, WHITE.alpha(0.0))]), None);
            } else {
                c.fill(Space::Head, &lens, &linear((ex - hw, ey - hh), (ex + hw, ey + hh), &[(0.0, WHITE.alpha(0.08)), (0.45, WHITE.alpha(0.08)), (0.5, WHITE.alpha(0.3)), (0.6, WHITE.alpha(0.08))]), Some(Part::Eyewear));
            }
            c.stroke(Space::Head, &lens, width, &solid(frame.opaque()), Some(Part::Eyewear));
            // Temple arm to the ear.
            let arm = smooth_open(&[(ex + side * hw, ey - hh * 0.5), (g.cx + side * (g.w + 0.004), g.ear_y - 0.02)]);
            c.stroke(Space::Head, &arm, width * 0.8, &solid(frame.opaque()), Some(Part::Eyewear));
        }
        let bridge = curve_through((g.cx - g.eye_dx + hw, ey - hh * 0.3), (g.cx + g.eye_dx - hw, ey - hh * 0.3), ey - hh * 0.55);
        c.stroke(Space::Head, &bridge, width, &solid(frame.opaque()), Some(Part::Eyewear));
    }

    fn hat(&self, c: &mut Canvas) {
        let g = &self.geo;
        let (cx, w) = (g.cx, g.w);
        let colour = self.look.hat_color;
        let lx = cx - 0.2 * self.look.light;
        let shade = |c: &mut Canvas, path: &Path| {
            c.fill(Space::Head, path, &radial((lx, 0.12), 0.3, &[(0.0, WHITE.alpha(0.25)), (0.6, WHITE.alpha(0.0)), (1.0, INK.alpha(0.35))]), None);
        };
        match self.a.hat {
            Hat::None => {}
            Hat::Cap => {
                let dome = smooth_closed(&mirrored(cx, &[(cx, 0.105), (cx + 0.75 * w, 0.14), (cx + w + 0.035, 0.26), (cx + w + 0.03, 0.33), (cx, 0.31)]));
                c.fill(Space::Head, &dome, &solid(colour.opaque()), Some(Part::Hat));
                shade(c, &dome);
                let seams = solid(colour.scale(0.65).alpha(0.8));
                for dx in [-0.55f32, 0.0, 0.55] {
                    c.stroke(Space::Head, &smooth_open(&[(cx, 0.11), (cx + dx * w * 0.6, 0.2), (cx + dx * w, 0.31)]), 0.005, &seams, Some(Part::Hat));
                }
                c.fill(Space::Head, &circle(cx, 0.11, 0.012), &solid(colour.scale(0.7).opaque()), Some(Part::Hat));
                // The brim seen from the front: a wide band with a shadowed underside.
                let brim = smooth_closed(&mirrored(cx, &[(cx, 0.295), (cx + w * 0.9, 0.31), (cx + w * 1.02, 0.33), (cx + w * 0.85, 0.355), (cx, 0.375)]));
                c.fill(Space::Head, &brim, &solid(colour.scale(0.82).opaque()), Some(Part::Hat));
                c.fill(Space::Head, &brim, &linear((cx, 0.30), (cx, 0.375), &[(0.0, WHITE.alpha(0.15)), (1.0, INK.alpha(0.45))]), None);
            }
            Hat::Beanie => {
                let dome = smooth_closed(&mirrored(cx, &[(cx, 0.085), (cx + 0.8 * w, 0.13), (cx + w + 0.035, 0.27), (cx + w + 0.035, 0.33), (cx, 0.33)]));
                c.fill(Space::Head, &dome, &solid(colour.opaque()), Some(Part::Hat));
                shade(c, &dome);
                let clip = c.clip(Space::Head, &dome);
                for i in 0..6 {
                    let y = 0.13 + i as f32 * 0.03;
                    c.stroke_clipped(Space::Head, &curve_through((cx - w - 0.04, y + 0.02), (cx + w + 0.04, y + 0.02), y), 0.004, &solid(colour.scale(0.75).alpha(0.6)), &clip);
                }
                // The folded, ribbed cuff.
                let cuff = rounded_rect(tiny_skia::Rect::from_ltrb(cx - w - 0.045, 0.285, cx + w + 0.045, 0.375).expect("rect"), 0.025);
                c.fill(Space::Head, &cuff, &solid(colour.scale(0.9).opaque()), Some(Part::Hat));
                let cuff_clip = c.clip(Space::Head, &cuff);
                let rib = solid(colour.scale(0.62).alpha(0.85));
                for i in 0..24 {
                    let x = cx - w - 0.04 + i as f32 * (2.0 * w + 0.08) / 23.0;
                    c.stroke_clipped(Space::Head, &smooth_open(&[(x, 0.29), (x, 0.37)]), 0.006, &rib, &cuff_clip);
                }
                c.fill(Space::Head, &cuff, &linear((cx, 0.285), (cx, 0.375), &[(0.0, WHITE.alpha(0.15)), (1.0, INK.alpha(0.3))]), None);
                if self.look.pompom {
                    c.fill(Space::Head, &circle(cx, 0.085, 0.04), &solid(colour.lighten(0.3).opaque()), Some(Part::Hat));
                    c.fill(Space::Head, &circle(cx, 0.085, 0.04), &radial((cx - 0.01, 0.075), 0.05, &[(0.0, WHITE.alpha(0.3)), (1.0, INK.alpha(0.35))]), None);
                }
            }
        }
    }
}

fn rounded_rect(r: tiny_skia::Rect, radius: f32) -> Path {
    let (l, t, rt, b) = (r.left(), r.top(), r.right(), r.bottom());
    let k = radius * 0.45;
    let mut pb = PathBuilder::new();
    pb.move_to(l + radius, t);
    pb.line_to(rt - radius, t);
    pb.cubic_to(rt - k, t, rt, t + k, rt, t + radius);
    pb.line_to(rt, b - radius);
    pb.cubic_to(rt, b - k, rt - k, b, rt - radius, b);
    pb.line_to(l + radius, b);
    pb.cubic_to(l + k, b, l, b - k, l, b - radius);
    pb.line_to(l, t + radius);
    pb.cubic_to(l, t + k, l + k, t, l + radius, t);
    pb.close();
    pb.finish().expect("rounded rect")
}
