//! Manual face alignment for real photos edited with the official FFHQ models.
//!
//! The FFHQ generator and its encoders only know faces cropped the way the FFHQ dataset was: a square
//! rotated and scaled from the eyes and the mouth (ffhq-dataset's `recreate_aligned_images`). The
//! user clicks the two eye centres and the two mouth corners ([`FaceLandmarks`]); [`ffhq_quad`] turns
//! them into the FFHQ crop square, [`crop_aligned`] resamples it into the model's input and
//! [`paste_back`] puts the edited crop back into the full photo with a feathered border.
//!
//! Coordinates are continuous image pixels: pixel (i, j) covers [i, i+1) × [j, j+1), so its centre
//! is (i + 0.5, j + 0.5), as a click on the canvas gives them.
use std::ops::Range;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Width of the blend band of [`paste_back`] as a fraction of the crop side. The FFHQ crop keeps a
/// wide margin of hair and background around the face, so the seam falls there.
pub const DEFAULT_FEATHER: f32 = 0.1;

/// The side of the aligned crop handed to the encoder (e4e's input size; smaller encoders resize).
pub const CROP_SIZE: u32 = 256;

/// A photo's FFHQ crop and the square it came from, for pasting edits back.
pub struct Aligned {
    pub crop: RgbImage,
    pub quad: Quad,
}

/// Crops `photo` as `landmarks` say, at [`CROP_SIZE`].
pub fn align(photo: &RgbImage, landmarks: &FaceLandmarks) -> Result<Aligned> {
    let quad = ffhq_quad(landmarks)?;
    Ok(Aligned { crop: crop_aligned(photo, &quad, CROP_SIZE), quad })
}

/// The four points of the FFHQ recipe. "Left" and "right" are as seen in the image: `left_eye` is the
/// eye nearer the image's left edge (the person's right eye), like dlib's points 36–41 in the recipe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceLandmarks {
    pub left_eye: [f32; 2],
    pub right_eye: [f32; 2],
    pub mouth_left: [f32; 2],
    pub mouth_right: [f32; 2],
}

impl FaceLandmarks {
    /// Labels of [`FaceLandmarks::points`], in that order.
    pub const NAMES: [&'static str; 4] = ["left eye", "right eye", "left mouth corner", "right mouth corner"];

    /// Where the landmarks of an FFHQ-aligned face filling the largest centred square of a
    /// `width`×`height` image are: an already aligned portrait needs no adjustment, and for any
    /// other photo it is a plausible start the user drags onto the face. Eyes a quarter of the
    /// square apart and a quarter above the mouth, as in FFHQ's aligned images; with these,
    /// [`ffhq_quad`] gives exactly that square.
    pub fn default_for(width: u32, height: u32) -> Self {
        let side = width.min(height) as f32;
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        let eye_to_mouth = 0.25 * side;
        // The recipe centres the crop 0.1 × eye_to_mouth below the eyes' midpoint.
        let eye_y = cy - 0.1 * eye_to_mouth;
        let mouth_y = eye_y + eye_to_mouth;
        FaceLandmarks {
            left_eye: [cx - 0.125 * side, eye_y],
            right_eye: [cx + 0.125 * side, eye_y],
            mouth_left: [cx - 0.1 * side, mouth_y],
            mouth_right: [cx + 0.1 * side, mouth_y],
        }
    }

    /// The points in the order of [`FaceLandmarks::NAMES`].
    pub fn points(&self) -> [[f32; 2]; 4] {
        [self.left_eye, self.right_eye, self.mouth_left, self.mouth_right]
    }

    /// The point named `NAMES[index]`, to drag it; `None` past the fourth.
    pub fn point_mut(&mut self, index: usize) -> Option<&mut [f32; 2]> {
        match index {
            0 => Some(&mut self.left_eye),
            1 => Some(&mut self.right_eye),
            2 => Some(&mut self.mouth_left),
            3 => Some(&mut self.mouth_right),
            _ => None,
        }
    }
}

/// An oriented square in image pixel coordinates (any parallelogram works the same): its centre
/// and half-axes, `x` pointing to the crop's right edge and `y` to its bottom edge. A point's unit
/// coordinates (s, t) satisfy `point = center + s·x + t·y`; the quad is s, t ∈ [−1, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quad {
    pub center: [f32; 2],
    pub x: [f32; 2],
    pub y: [f32; 2],
}

impl Quad {
    /// Corners in the recipe's order: top-left, bottom-left, bottom-right, top-right of the crop.
    pub fn corners(&self) -> [[f32; 2]; 4] {
        [[-1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]].map(|st| self.from_unit(st))
    }

    /// Length of the crop's top edge in image pixels.
    pub fn side(&self) -> f32 {
        2.0 * self.x[0].hypot(self.x[1])
    }

    pub fn from_unit(&self, [s, t]: [f32; 2]) -> [f32; 2] {
        [
            self.center[0] + s * self.x[0] + t * self.y[0],
            self.center[1] + s * self.x[1] + t * self.y[1],
        ]
    }

    /// Inverse of [`Quad::from_unit`] (NaN for a degenerate quad, which [`ffhq_quad`] never makes).
    pub fn to_unit(&self, point: [f32; 2]) -> [f32; 2] {
        let d = [point[0] - self.center[0], point[1] - self.center[1]];
        let det = self.x[0] * self.y[1] - self.x[1] * self.y[0];
        [(d[0] * self.y[1] - d[1] * self.y[0]) / det, (self.x[0] * d[1] - self.x[1] * d[0]) / det]
    }

    /// The same quad in an image scaled by `factor` (a display-size preview of the photo).
    pub fn scaled(&self, factor: f32) -> Quad {
        let scale = |v: [f32; 2]| v.map(|c| c * factor);
        Quad { center: scale(self.center), x: scale(self.x), y: scale(self.y) }
    }

    pub fn contains(&self, point: [f32; 2]) -> bool {
        let [s, t] = self.to_unit(point);
        s.abs() <= 1.0 && t.abs() <= 1.0
    }

    /// Where an image point lands in a `size`×`size` crop of this quad (crop pixel coordinates), to
    /// show the landmarks on the crop.
    pub fn to_crop(&self, point: [f32; 2], size: u32) -> [f32; 2] {
        self.to_unit(point).map(|u| (u + 1.0) * 0.5 * size as f32)
    }

    /// Inverse of [`Quad::to_crop`].
    pub fn from_crop(&self, point: [f32; 2], size: u32) -> [f32; 2] {
        self.from_unit(point.map(|c| c / size as f32 * 2.0 - 1.0))
    }
}

/// The FFHQ crop square of a face, following ffhq-dataset's `recreate_aligned_images`:
/// x = eye_to_eye − rot90(eye_to_mouth), normalised and scaled to max(2·|eye_to_eye|,
/// 1.8·|eye_to_mouth|); y = x turned 90° (pointing down the face); centre = eye midpoint +
/// 0.1·eye_to_mouth. Fails on landmarks that define no orientation (e.g. all on one spot).
pub fn ffhq_quad(landmarks: &FaceLandmarks) -> Result<Quad> {
    let point = |p: [f32; 2]| [p[0] as f64, p[1] as f64];
    let [left_eye, right_eye, mouth_left, mouth_right] = landmarks.points().map(point);
    if [left_eye, right_eye, mouth_left, mouth_right].iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!("face landmarks must be finite: {landmarks:?}")));
    }
    let eye_avg = [(left_eye[0] + right_eye[0]) / 2.0, (left_eye[1] + right_eye[1]) / 2.0];
    let eye_to_eye = [right_eye[0] - left_eye[0], right_eye[1] - left_eye[1]];
    let mouth_avg = [(mouth_left[0] + mouth_right[0]) / 2.0, (mouth_left[1] + mouth_right[1]) / 2.0];
    let eye_to_mouth = [mouth_avg[0] - eye_avg[0], mouth_avg[1] - eye_avg[1]];

    // flipud(v) · [−1, 1] = (−v.y, v.x).
    let x = [eye_to_eye[0] + eye_to_mouth[1], eye_to_eye[1] - eye_to_mouth[0]];
    let length = x[0].hypot(x[1]);
    if length < 1e-3 {
        return Err(Error::Invalid(format!(
            "face landmarks give no orientation (eyes and mouth on one spot, or the mouth placed \
             where the eye line points): {landmarks:?}"
        )));
    }
    let scale = (eye_to_eye[0].hypot(eye_to_eye[1]) * 2.0).max(eye_to_mouth[0].hypot(eye_to_mouth[1]) * 1.8);
    let x = [x[0] / length * scale, x[1] / length * scale];
    let y = [-x[1], x[0]];
    let center = [eye_avg[0] + eye_to_mouth[0] * 0.1, eye_avg[1] + eye_to_mouth[1] * 0.1];
    let narrow = |v: [f64; 2]| [v[0] as f32, v[1] as f32];
    Ok(Quad { center: narrow(center), x: narrow(x), y: narrow(y) })
}

/// Resamples the quad into a `size`×`size` upright square. Bilinear, averaged over up to 4×4 samples
/// per output pixel when the quad is larger than the output (no aliasing when a large photo is
/// reduced to the model's 256 or 1024 px). Where the quad leaves the photo, the photo is mirrored at
/// its borders (like the recipe's reflection padding; the recipe also blurs that padding, we do not).
pub fn crop_aligned(image: &RgbImage, quad: &Quad, size: u32) -> RgbImage {
    let mut crop = RgbImage::new(size, size);
    if image.width() == 0 || image.height() == 0 {
        return crop;
    }
    let samples = (quad.side() / size as f32).ceil().clamp(1.0, 4.0) as u32;
    let offsets: Vec<f32> = (0..samples).map(|a| (a as f32 + 0.5) / samples as f32).collect();
    let normalise = 1.0 / (samples * samples) as f32;
    for_rows_in_parallel(&mut crop, 0..size, |v, row| {
        for (u, pixel) in row.chunks_exact_mut(3).enumerate() {
            let mut sum = [0.0f32; 3];
            for dv in &offsets {
                for du in &offsets {
                    let s = (u as f32 + du) / size as f32 * 2.0 - 1.0;
                    let t = (v as f32 + dv) / size as f32 * 2.0 - 1.0;
                    let value = sample_bilinear(image, quad.from_unit([s, t]), mirror);
                    sum.iter_mut().zip(value).for_each(|(acc, c)| *acc += c);
                }
            }
            for (out, c) in pixel.iter_mut().zip(sum) {
                *out = (c * normalise).round().clamp(0.0, 255.0) as u8;
            }
        }
    });
    crop
}

/// Puts an edited crop of `quad` back into the photo: each photo pixel whose centre lies in the
/// quad takes the crop's colour there (bilinear), blended with the photo by a mask that rises
/// smoothly from 0 on the quad's border to 1 at `feather` × side inside it (`feather` a fraction of
/// the side, clamped to [0, 0.5]; 0 is a hard edge). Pixels outside the quad are left exactly as
/// they were. The crop may have any size.
pub fn paste_back(photo: &RgbImage, edited_crop: &RgbImage, quad: &Quad, feather: f32) -> RgbImage {
    let mut result = photo.clone();
    if edited_crop.width() == 0 || edited_crop.height() == 0 {
        return result;
    }
    let feather = if feather.is_nan() { 0.0 } else { feather.clamp(0.0, 0.5) };
    let corners = quad.corners();
    let bound = |axis: usize, limit: u32| {
        let values = corners.map(|c| c[axis]);
        let low = values.iter().cloned().fold(f32::INFINITY, f32::min).floor().clamp(0.0, limit as f32);
        let high = values.iter().cloned().fold(f32::NEG_INFINITY, f32::max).ceil().clamp(low, limit as f32);
        (low as u32, high as u32)
    };
    let (x_start, x_end) = bound(0, photo.width());
    let (y_start, y_end) = bound(1, photo.height());
    let (crop_width, crop_height) = (edited_crop.width() as f32, edited_crop.height() as f32);
    for_rows_in_parallel(&mut result, y_start..y_end, |j, row| {
        for i in x_start..x_end {
            let [s, t] = quad.to_unit([i as f32 + 0.5, j as f32 + 0.5]);
            if !(s.abs() <= 1.0 && t.abs() <= 1.0) {
                continue;
            }
            // Distance to the nearest edge as a fraction of the side.
            let inside = (1.0 - s.abs().max(t.abs())) / 2.0;
            let weight = if feather == 0.0 { 1.0 } else { smoothstep((inside / feather).min(1.0)) };
            let crop_point = [(s + 1.0) / 2.0 * crop_width, (t + 1.0) / 2.0 * crop_height];
            let edited = sample_bilinear(edited_crop, crop_point, clamp);
            let pixel = &mut row[i as usize * 3..i as usize * 3 + 3];
            for (value, edited) in pixel.iter_mut().zip(edited) {
                let blended = *value as f32 * (1.0 - weight) + edited * weight;
                *value = blended.round().clamp(0.0, 255.0) as u8;
            }
        }
    });
    result
}

/// Runs `fill(row index, row's RGB bytes)` for `rows` of `image`, spread over the available cores.
fn for_rows_in_parallel(image: &mut RgbImage, rows: Range<u32>, fill: impl Fn(u32, &mut [u8]) + Sync) {
    let row_bytes = image.width() as usize * 3;
    if row_bytes == 0 || rows.is_empty() {
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows_per_thread = rows.len().div_ceil(threads);
    let first = rows.start;
    let pixels: &mut [u8] = image;
    let buffer = &mut pixels[rows.start as usize * row_bytes..rows.end as usize * row_bytes];
    std::thread::scope(|scope| {
        for (chunk_index, chunk) in buffer.chunks_mut(rows_per_thread * row_bytes).enumerate() {
            let fill = &fill;
            scope.spawn(move || {
                for (k, row) in chunk.chunks_exact_mut(row_bytes).enumerate() {
                    fill(first + (chunk_index * rows_per_thread + k) as u32, row);
                }
            });
        }
    });
}

fn smoothstep(x: f32) -> f32 {
    x * x * (3.0 - 2.0 * x)
}

/// Bilinear sample at a continuous point (pixel centres at +0.5); `wrap` maps an out-of-range
/// index into [0, len).
fn sample_bilinear(image: &RgbImage, point: [f32; 2], wrap: impl Fn(i64, u32) -> u32) -> [f32; 3] {
    let fx = point[0] - 0.5;
    let fy = point[1] - 0.5;
    let (x0, y0) = (fx.floor(), fy.floor());
    let (wx, wy) = (fx - x0, fy - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let (xa, xb) = (wrap(x0, image.width()), wrap(x0.saturating_add(1), image.width()));
    let (ya, yb) = (wrap(y0, image.height()), wrap(y0.saturating_add(1), image.height()));
    let corner = |x: u32, y: u32| image.get_pixel(x, y).0.map(|c| c as f32);
    let (p00, p10, p01, p11) = (corner(xa, ya), corner(xb, ya), corner(xa, yb), corner(xb, yb));
    std::array::from_fn(|c| {
        let top = p00[c] + (p10[c] - p00[c]) * wx;
        let bottom = p01[c] + (p11[c] - p01[c]) * wx;
        top + (bottom - top) * wy
    })
}

/// Mirror indices at the image's borders (numpy's `symmetric`: −1 → 0, −2 → 1), so that bilinear
/// samples mirror the photo exactly about its edges.
fn mirror(index: i64, len: u32) -> u32 {
    let period = 2 * len as i64;
    let folded = index.rem_euclid(period);
    (if folded >= len as i64 { period - 1 - folded } else { folded }) as u32
}

fn clamp(index: i64, len: u32) -> u32 {
    index.clamp(0, len as i64 - 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    const RED: [u8; 3] = [230, 20, 20];
    const GREEN: [u8; 3] = [20, 230, 20];
    const BLUE: [u8; 3] = [20, 20, 230];

    /// A grey photo with a red dot on the left eye, green on the right eye, blue on the mouth corners.
    fn dotted_face(width: u32, height: u32, landmarks: &FaceLandmarks) -> RgbImage {
        let dots = [(landmarks.left_eye, RED), (landmarks.right_eye, GREEN), (landmarks.mouth_left, BLUE), (landmarks.mouth_right, BLUE)];
        RgbImage::from_fn(width, height, |i, j| {
            let centre = [i as f32 + 0.5, j as f32 + 0.5];
            dots.iter()
                .find(|(p, _)| (centre[0] - p[0]).hypot(centre[1] - p[1]) <= 4.0)
                .map_or(Rgb([120, 120, 120]), |&(_, colour)| Rgb(colour))
        })
    }

    /// Mean position (pixel centres) of the pixels close to `colour`.
    fn centroid(image: &RgbImage, colour: [u8; 3]) -> [f32; 2] {
        let (mut sum, mut count) = ([0.0f32; 2], 0.0f32);
        for (i, j, p) in image.enumerate_pixels() {
            if p.0.iter().zip(colour).all(|(&a, b)| (a as i32 - b as i32).abs() < 60) {
                sum[0] += i as f32 + 0.5;
                sum[1] += j as f32 + 0.5;
                count += 1.0;
            }
        }
        assert!(count > 0.0, "no {colour:?} pixels");
        sum.map(|s| s / count)
    }

    fn assert_near(actual: [f32; 2], expected: [f32; 2], tolerance: f32, what: &str) {
        let error = (actual[0] - expected[0]).hypot(actual[1] - expected[1]);
        assert!(error <= tolerance, "{what}: {actual:?}, expected {expected:?}");
    }

    fn rotate(p: [f32; 2], about: [f32; 2], degrees: f32) -> [f32; 2] {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let d = [p[0] - about[0], p[1] - about[1]];
        [about[0] + cos * d[0] - sin * d[1], about[1] + sin * d[0] + cos * d[1]]
    }

    /// Eye distance 50 and eye-to-mouth 50: the quad is 2·max(2·50, 1.8·50) = 200 px wide, centred
    /// 5 px below the eyes' midpoint (105, 100), so it spans [5, 205]².
    fn frontal() -> FaceLandmarks {
        FaceLandmarks { left_eye: [80.0, 100.0], right_eye: [130.0, 100.0], mouth_left: [88.0, 150.0], mouth_right: [122.0, 150.0] }
    }

    /// Where [`frontal`]'s points land in a 128 px crop of [5, 205]²: (p − 5) / 200 · 128.
    const EXPECTED_IN_CROP: [[f32; 2]; 3] = [[48.0, 60.8], [80.0, 60.8], [64.0, 92.8]];

    #[test]
    fn ffhq_quad_follows_the_recipe() {
        let quad = ffhq_quad(&frontal()).unwrap();
        let expected = [[5.0, 5.0], [5.0, 205.0], [205.0, 205.0], [205.0, 5.0]];
        for (corner, expected) in quad.corners().into_iter().zip(expected) {
            assert_near(corner, expected, 1e-3, "corner");
        }
        // A long face: 1.8 · eye_to_mouth (1.8 · 60 = 108) wins over 2 · eye distance (80).
        let long = FaceLandmarks { left_eye: [100.0, 100.0], right_eye: [140.0, 100.0], mouth_left: [105.0, 160.0], mouth_right: [135.0, 160.0] };
        let quad = ffhq_quad(&long).unwrap();
        assert_near(quad.center, [120.0, 106.0], 1e-3, "centre");
        assert_near(quad.x, [108.0, 0.0], 1e-3, "x");
        assert_near(quad.y, [0.0, 108.0], 1e-3, "y");
    }

    /// The dots of `dotted_face` land where the recipe puts eyes and mouth in a 128² crop.
    fn assert_crop_places_the_face(photo: &RgbImage, landmarks: &FaceLandmarks, tolerance: f32) {
        let crop = crop_aligned(photo, &ffhq_quad(landmarks).unwrap(), 128);
        assert_near(centroid(&crop, RED), EXPECTED_IN_CROP[0], tolerance, "left eye");
        assert_near(centroid(&crop, GREEN), EXPECTED_IN_CROP[1], tolerance, "right eye");
        assert_near(centroid(&crop, BLUE), EXPECTED_IN_CROP[2], tolerance, "mouth");
    }

    #[test]
    fn crop_puts_the_eyes_where_the_recipe_does() {
        let landmarks = frontal();
        let photo = dotted_face(240, 260, &landmarks);
        assert_crop_places_the_face(&photo, &landmarks, 0.6);
    }

    /// The same face turned 30° (and shifted) crops to the same upright square.
    #[test]
    fn a_rotated_face_crops_upright() {
        for degrees in [30.0f32, -30.0] {
            let turn = |p: [f32; 2]| {
                let r = rotate(p, [105.0, 125.0], degrees);
                [r[0] + 40.0, r[1] + 30.0]
            };
            let f = frontal();
            let landmarks = FaceLandmarks {
                left_eye: turn(f.left_eye),
                right_eye: turn(f.right_eye),
                mouth_left: turn(f.mouth_left),
                mouth_right: turn(f.mouth_right),
            };
            let photo = dotted_face(300, 320, &landmarks);
            assert_crop_places_the_face(&photo, &landmarks, 0.8);
        }
    }

    #[test]
    fn a_large_quad_is_averaged_not_aliased() {
        // One-pixel stripes reduced 8×: plain bilinear would pick stripes, averaging gives grey.
        let photo = RgbImage::from_fn(512, 512, |i, _| if i % 2 == 0 { Rgb([0, 0, 0]) } else { Rgb([255, 255, 255]) });
        let quad = Quad { center: [256.0, 256.0], x: [240.0, 0.0], y: [0.0, 240.0] };
        let crop = crop_aligned(&photo, &quad, 60);
        assert!(crop.pixels().all(|p| (p[0] as i32 - 128).abs() <= 40), "stripes survive the reduction");
    }

    #[test]
    fn outside_the_photo_is_mirrored() {
        let photo = RgbImage::from_fn(10, 10, |i, _| Rgb([i as u8 * 20, 0, 0]));
        // Quad centred on the left edge: the crop's left half mirrors its right half.
        let quad = Quad { center: [0.0, 5.0], x: [4.0, 0.0], y: [0.0, 4.0] };
        let crop = crop_aligned(&photo, &quad, 8);
        for u in 0..4 {
            assert_eq!(crop.get_pixel(u, 4)[0], crop.get_pixel(7 - u, 4)[0], "column {u}");
        }
    }

    /// A smooth photo (paste_back of its own crop cannot be exact: two resamplings).
    fn smooth_photo(size: u32) -> RgbImage {
        RgbImage::from_fn(size, size, |i, j| {
            let (x, y) = (i as f32, j as f32);
            Rgb([
                (128.0 + 60.0 * (x / 9.0).sin() + 50.0 * (y / 13.0).cos()) as u8,
                (128.0 + 90.0 * ((x + y) / 17.0).sin()) as u8,
                (40.0 + x * 0.5 + y * 0.3) as u8,
            ])
        })
    }

    #[test]
    fn paste_back_of_the_crop_restores_the_photo() {
        let photo = smooth_photo(180);
        let f = frontal();
        let turn = |p: [f32; 2]| {
            let r = rotate(p, [105.0, 105.0], 20.0);
            [r[0] * 0.5 + 35.0, r[1] * 0.5 + 35.0]
        };
        let landmarks = FaceLandmarks { left_eye: turn(f.left_eye), right_eye: turn(f.right_eye), mouth_left: turn(f.mouth_left), mouth_right: turn(f.mouth_right) };
        let quad = ffhq_quad(&landmarks).unwrap();
        let crop = crop_aligned(&photo, &quad, 100);
        for feather in [0.0, DEFAULT_FEATHER] {
            let pasted = paste_back(&photo, &crop, &quad, feather);
            let (mut inside, mut total, mut worst) = (0usize, 0.0f64, 0i32);
            for (i, j, p) in pasted.enumerate_pixels() {
                let original = photo.get_pixel(i, j);
                if quad.contains([i as f32 + 0.5, j as f32 + 0.5]) {
                    for c in 0..3 {
                        let error = (p[c] as i32 - original[c] as i32).abs();
                        total += error as f64;
                        worst = worst.max(error);
                    }
                    inside += 1;
                } else {
                    assert_eq!(p, original, "pixel ({i}, {j}) outside the quad changed");
                }
            }
            assert!(inside > 5000, "the quad covers {inside} pixels");
            let mean = total / (inside * 3) as f64;
            assert!(mean < 1.5 && worst <= 16, "feather {feather}: mean error {mean:.2}, worst {worst}");
        }
    }

    #[test]
    fn feathering_smooths_the_seam() {
        let photo = RgbImage::new(200, 200);
        let white = RgbImage::from_pixel(64, 64, Rgb([255, 255, 255]));
        let quad = Quad { center: [100.0, 100.0], x: [50.0, 0.0], y: [0.0, 50.0] };
        let largest_step = |image: &RgbImage| {
            (0..200).flat_map(|j| (1..200).map(move |i| (i, j)))
                .map(|(i, j)| (image.get_pixel(i, j)[0] as i32 - image.get_pixel(i - 1, j)[0] as i32).abs())
                .max()
                .unwrap()
        };
        let hard = paste_back(&photo, &white, &quad, 0.0);
        assert_eq!(largest_step(&hard), 255);
        // A 10 px band: smoothstep's steepest slope is 1.5 / 10 px, about 38 levels per pixel.
        let soft = paste_back(&photo, &white, &quad, 0.1);
        assert!(largest_step(&soft) <= 45, "step {}", largest_step(&soft));
        assert_eq!(soft.get_pixel(100, 100).0, [255, 255, 255]);
        assert_eq!(soft.get_pixel(40, 100).0, [0, 0, 0]);
    }

    #[test]
    fn default_landmarks_frame_the_centred_square() {
        for (width, height, expected) in [
            (512, 512, [[0.0, 0.0], [0.0, 512.0], [512.0, 512.0], [512.0, 0.0]]),
            (800, 600, [[100.0, 0.0], [100.0, 600.0], [700.0, 600.0], [700.0, 0.0]]),
        ] {
            let quad = ffhq_quad(&FaceLandmarks::default_for(width, height)).unwrap();
            for (corner, expected) in quad.corners().into_iter().zip(expected) {
                assert_near(corner, expected, 1e-2, "corner");
            }
        }
    }

    #[test]
    fn crop_coordinates_round_trip() {
        let quad = ffhq_quad(&frontal()).unwrap();
        let point = [97.0, 133.0];
        assert_near(quad.from_crop(quad.to_crop(point, 256), 256), point, 1e-3, "round trip");
        assert_near(quad.to_crop(frontal().left_eye, 128), EXPECTED_IN_CROP[0], 1e-3, "left eye");
        assert!(quad.contains([105.0, 105.0]) && !quad.contains([4.0, 105.0]));
        assert_near(quad.scaled(0.5).corners()[2], [102.5, 102.5], 1e-3, "scaled corner");
        let mut landmarks = frontal();
        *landmarks.point_mut(3).unwrap() = [1.0, 2.0];
        assert_eq!(landmarks.points()[3], [1.0, 2.0]);
        assert!(landmarks.point_mut(4).is_none());
    }

    #[test]
    fn degenerate_landmarks_are_refused() {
        let spot = FaceLandmarks { left_eye: [5.0, 5.0], right_eye: [5.0, 5.0], mouth_left: [5.0, 5.0], mouth_right: [5.0, 5.0] };
        assert!(matches!(ffhq_quad(&spot), Err(Error::Invalid(_))));
        let nan = FaceLandmarks { left_eye: [f32::NAN, 5.0], ..frontal() };
        assert!(matches!(ffhq_quad(&nan), Err(Error::Invalid(_))));
    }
}
