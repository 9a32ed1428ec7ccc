//! An edit session on one image: invert once, then any number of edits where moving a slider only
//! re-runs the synthesis.
//!
//! The image is inverted by the encoder into w+ and S (DeltaEdit decodes from both: edits change
//! the conv styles, toRGB keeps reading w+), and its unit CLIP image feature is kept. Each
//! (source, target) pair's direction is computed once and cached; strength, β, the stack and λ
//! are applied on top of the cached Δs.
use std::collections::HashMap;
use std::sync::Arc;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::composite::{CompositeOptions, keep_unedited};
use super::delta_space::DeltaSpace;
use super::gan::{Direction, TextEdit, direction};
use super::models::{GanBase, GanModels};
use crate::models::e4e::image_to_input;
use crate::models::stylegan2::{Generator, Noise};
use crate::{Error, Result};

/// An edit in the stack; disabled edits stay in the stack but do nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackedEdit {
    pub edit: TextEdit,
    pub enabled: bool,
}

/// Two edits and the position λ between them: s = (1 − λ)·s_A + λ·s_B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    pub a: TextEdit,
    pub b: TextEdit,
    pub lambda: f32,
}

/// What to apply to the inverted image: a stack of edits, then optionally a blend of two more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EditStack {
    pub edits: Vec<StackedEdit>,
    pub blend: Option<Blend>,
    /// Show the input's own pixels wherever the edits leave the synthesis unchanged
    /// (`super::composite`); None shows the synthesis alone, as the paper does.
    #[serde(default)]
    pub keep_unedited: Option<CompositeOptions>,
}

impl EditStack {
    pub fn single(edit: TextEdit) -> EditStack {
        EditStack { edits: vec![StackedEdit { edit, enabled: true }], ..EditStack::default() }
    }

    /// The edits that apply: the enabled stacked ones, then the blend's two.
    pub fn applied(&self) -> impl Iterator<Item = &TextEdit> {
        let stacked = self.edits.iter().filter(|e| e.enabled).map(|e| &e.edit);
        stacked.chain(self.blend.iter().flat_map(|b| [&b.a, &b.b]))
    }

    /// `applied`, to change.
    pub fn applied_mut(&mut self) -> impl Iterator<Item = &mut TextEdit> {
        let stacked = self.edits.iter_mut().filter(|e| e.enabled).map(|e| &mut e.edit);
        stacked.chain(self.blend.iter_mut().flat_map(|b| [&mut b.a, &mut b.b]))
    }

    /// Every edit with the weight its Δs gets: its strength, times 1 − λ or λ in the blend.
    fn weighted(&self) -> Vec<(&TextEdit, f32)> {
        let mut out: Vec<(&TextEdit, f32)> = self.edits.iter().filter(|e| e.enabled).map(|e| (&e.edit, e.edit.strength)).collect();
        if let Some(blend) = &self.blend {
            out.push((&blend.a, (1.0 - blend.lambda) * blend.a.strength));
            out.push((&blend.b, blend.lambda * blend.b.strength));
        }
        out
    }
}

/// The encoder's view of an image.
#[derive(Clone, Debug)]
pub struct Inversion {
    /// [1, rows, style_dim]
    pub wplus: Tensor<3>,
    /// [1, S dims]
    pub s: Tensor<2>,
    /// Unit CLIP feature of the input image, [1, E].
    pub image_feature: Tensor<2>,
    /// The generator tuned to this image (pivotal tuning), when asked for; else the shared one.
    pub generator: Option<Generator>,
}

/// How far an inversion goes beyond the encoder: Adam steps on w+ (latent refinement), then on
/// the generator's weights at that pivot (pivotal tuning). The field names are the recipe's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InversionSteps {
    pub refine_steps: usize,
    #[serde(default)]
    pub tune_steps: usize,
}

impl InversionSteps {
    pub fn total(&self) -> usize {
        self.refine_steps + self.tune_steps
    }
}

/// The strengths CLIP-fitted strength tries, smallest first.
pub const FIT_STRENGTHS: [f32; 8] = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5];

/// The share of the best similarity gain that a fitted strength must reach: the smallest strength
/// near the best keeps more of the portrait than the best itself (docs/deltaedit_builtin.md,
/// session 17).
pub const FIT_SHARE: f32 = 0.8;

pub struct EditSession {
    models: Arc<GanModels>,
    /// The inverted image, for edits that keep its unedited pixels.
    input: RgbImage,
    inversion: Inversion,
    directions: HashMap<(String, String), Direction>,
    /// The synthesis of the unedited inversion and its image, rendered on first use
    /// (`render_reconstruction`).
    reconstruction: Option<(Tensor<4>, RgbImage)>,
}

impl EditSession {
    /// Inverts `image` (aligned; resized to the encoder's input size) with the encoder alone.
    pub fn new(models: Arc<GanModels>, image: &RgbImage, device: &Device) -> Result<EditSession> {
        Self::refined(models, image, InversionSteps::default(), device)
    }

    /// Inverts `image` with the encoder, then refines w+ and tunes the generator for `steps` so
    /// that the reconstruction matches the image more closely (none: encoder only).
    pub fn refined(models: Arc<GanModels>, image: &RgbImage, steps: InversionSteps, device: &Device) -> Result<EditSession> {
        Self::refined_with_progress(models, image, steps, device, &mut |_| true)
    }

    /// `refined`, calling `progress(steps done of steps.total())` after each step; it returns
    /// false to cancel (then the result is `Error::Cancelled`).
    pub fn refined_with_progress(
        models: Arc<GanModels>,
        image: &RgbImage,
        steps: InversionSteps,
        device: &Device,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<EditSession> {
        let inversion = invert(&models, image, steps, device, progress)?;
        Ok(EditSession { models, input: image.clone(), inversion, directions: HashMap::new(), reconstruction: None })
    }

    pub fn inversion(&self) -> &Inversion {
        &self.inversion
    }

    /// Computes (once) the direction of `edit`'s prompts.
    pub fn prepare(&mut self, edit: &TextEdit) -> Result<()> {
        let source = edit.source.clone().unwrap_or_else(|| self.models.base.domain.neutral_prompt().to_string());
        let key = (source, edit.target.clone());
        if !self.directions.contains_key(&key) {
            if edit.target.trim().is_empty() {
                return Err(Error::Invalid("the target prompt is empty".into()));
            }
            let m = &self.models;
            let d = direction(
                &m.base,
                &m.direction,
                &m.relevance,
                self.inversion.s.clone(),
                self.inversion.image_feature.clone(),
                &key.0,
                &key.1,
            )?;
            self.directions.insert(key, d);
        }
        Ok(())
    }

    fn cached(&self, edit: &TextEdit) -> &Direction {
        let source = edit.source.as_deref().unwrap_or(self.models.base.domain.neutral_prompt());
        &self.directions[&(source.to_string(), edit.target.clone())]
    }

    /// The edited S code ([1, S dims]).
    pub fn edited_s(&mut self, stack: &EditStack) -> Result<Tensor<2>> {
        let weighted = stack.weighted();
        for (edit, _) in &weighted {
            self.prepare(edit)?;
        }
        let mut s = self.inversion.s.clone();
        for (edit, weight) in weighted {
            if weight != 0.0 {
                s = s + self.cached(edit).masked(edit.beta) * weight;
            }
        }
        Ok(s)
    }

    /// The strength for `edit` on this image (CLIP-fitted strength): the smallest of
    /// `FIT_STRENGTHS` whose image gains at least `FIT_SHARE` of the best gain in CLIP
    /// similarity to the target prompt over the unedited image; the most similar one when none
    /// gains. The edit is applied alone; its own strength is ignored. With `shown`, the images
    /// scored are those shown with the unedited pixels kept (the unedited one is the input).
    pub fn fit_strength(&mut self, edit: &TextEdit, shown: Option<&CompositeOptions>) -> Result<f32> {
        let mut syntheses = Vec::with_capacity(FIT_STRENGTHS.len());
        for strength in FIT_STRENGTHS {
            syntheses.push(self.render_tensor(&EditStack::single(TextEdit { strength, ..edit.clone() }))?);
        }
        self.render_reconstruction()?;
        let (reconstruction, reconstruction_image) = self.reconstruction.as_ref().expect("rendered above");
        let images: Vec<Tensor<4>> = match shown {
            None => std::iter::once(reconstruction.clone()).chain(syntheses).collect(),
            Some(options) => {
                let [_, _, side, _] = reconstruction.dims();
                let device = reconstruction.device();
                let as_input = |image: &RgbImage| image_to_input(image, side as u32, &device);
                let composites = syntheses.into_iter().map(|synthesis| keep_unedited(&self.input, &to_rgb_image(synthesis), reconstruction_image, options));
                std::iter::once(as_input(&self.input)).chain(composites.map(|composite| as_input(&composite))).collect()
            }
        };
        let space = &self.models.base.delta_space;
        let target = space.text_features(&[&edit.target])?;
        let similarity = space.image_features(Tensor::cat(images, 0))?.matmul(target.transpose());
        let similarity: Vec<f32> = similarity.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
        let (unedited, edited) = (similarity[0], &similarity[1..]);
        let best = edited.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let fitted = if best > unedited {
            edited.iter().position(|&v| v - unedited >= FIT_SHARE * (best - unedited))
        } else {
            edited.iter().position(|&v| v == best)
        };
        let fitted = fitted.ok_or_else(|| Error::Invalid(format!("CLIP similarities to \"{}\" are not finite", edit.target)))?;
        Ok(FIT_STRENGTHS[fitted])
    }

    /// `stack` with the strength of every enabled edit and of the blend's two fitted to this
    /// image (`fit_strength`), as the stack shows it.
    pub fn fit_strengths(&mut self, stack: &EditStack) -> Result<EditStack> {
        let mut fitted = stack.clone();
        for edit in fitted.applied_mut() {
            edit.strength = self.fit_strength(edit, stack.keep_unedited.as_ref())?;
        }
        Ok(fitted)
    }

    /// The image of `stack` applied to the inverted image ([1, 3, H, W] in ≈[−1, 1]).
    pub fn render_tensor(&mut self, stack: &EditStack) -> Result<Tensor<4>> {
        let s = self.edited_s(stack)?;
        let base = &self.models.base;
        let generator = self.inversion.generator.as_ref().unwrap_or(&base.generator);
        generator.synthesis_s(s, self.inversion.wplus.clone(), base.domain.s_layers(), &Noise::Stored)
    }

    /// The synthesis of `stack`, or with `stack.keep_unedited` the input wherever it changes nothing.
    pub fn render(&mut self, stack: &EditStack) -> Result<RgbImage> {
        let edited = to_rgb_image(self.render_tensor(stack)?);
        let Some(options) = &stack.keep_unedited else {
            return Ok(edited);
        };
        self.render_reconstruction()?;
        let (_, reconstruction) = self.reconstruction.as_ref().expect("rendered above");
        Ok(keep_unedited(&self.input, &edited, reconstruction, options))
    }

    /// Renders the unedited inversion, once per session.
    fn render_reconstruction(&mut self) -> Result<()> {
        if self.reconstruction.is_none() {
            let synthesis = self.render_tensor(&EditStack::default())?;
            self.reconstruction = Some((synthesis.clone(), to_rgb_image(synthesis)));
        }
        Ok(())
    }

    /// `frames` renders of `stack` with its blend's λ evenly from 0 to 1 (the blend's own λ is
    /// ignored; a single frame is λ = 0).
    pub fn interpolation_frames(&mut self, stack: &EditStack, frames: usize) -> Result<Vec<RgbImage>> {
        let Some(blend) = &stack.blend else {
            return Err(Error::Invalid("interpolation needs two edits to blend".into()));
        };
        (0..frames)
            .map(|i| {
                let lambda = if frames > 1 { i as f32 / (frames - 1) as f32 } else { 0.0 };
                let at = EditStack { blend: Some(Blend { lambda, ..blend.clone() }), ..stack.clone() };
                self.render(&at)
            })
            .collect()
    }
}

fn invert(
    models: &GanModels,
    image: &RgbImage,
    steps: InversionSteps,
    device: &Device,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Inversion> {
    let base = &models.base;
    let input = image_to_input(image, base.encoder.input_size as u32, device);
    let image_feature = base.delta_space.image_features(input.clone())?;
    let target = RefinementTarget { image: input.clone(), feature: image_feature.clone() };
    let wplus = refine(&base.generator, &base.delta_space, base.encoder.encode(input), &target, steps.refine_steps, progress)?;
    let s = base.generator.s(wplus.clone(), base.domain.s_layers());
    let generator = match steps.tune_steps {
        0 => None,
        tune_steps => {
            let mut progress = |done: usize| progress(steps.refine_steps + done);
            Some(tune(base, (s.clone(), wplus.clone()), &target, tune_steps, device, &mut progress)?)
        }
    };
    Ok(Inversion { wplus, s, image_feature, generator })
}

/// Adam's step size on the generator's weights during pivotal tuning (they are equalised-lr
/// weights, so this is the scale the built-in generator was trained at).
const TUNE_LR: f64 = 1e-3;

/// Pivotal tuning leaves the layers drawing below this side as they are: tuned, the coarse
/// layers redraw the image's own hair style and facial hair over what an edit asks for
/// (docs/deltaedit_builtin.md, session 15).
const TUNE_FROM_RESOLUTION: usize = 32;

/// Pivotal tuning (Roich et al. 2021, PTI): `steps` of Adam on the generator's weights with the
/// inversion's S and w+ held fixed as the pivot, minimising `refinement_loss`. The synthesis reads
/// S directly, so the style affines (and the mapping network) stay out of the graph: edits move
/// the same S channels as before, only the synthesis of them draws the image more closely.
fn tune(
    base: &GanBase,
    (s, wplus): (Tensor<2>, Tensor<3>),
    target: &RefinementTarget,
    steps: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Generator> {
    let mut tuned = base.generator.clone().fork(&device.clone().autodiff()).train().without_gradients_below(TUNE_FROM_RESOLUTION);
    tuned.noises = tuned.noises.into_iter().map(|noise| noise.set_require_grad(false)).collect();
    let mut optim = AdamConfig::new().init();
    let (s, wplus) = (s.autodiff(), wplus.autodiff());
    for step in 1..=steps {
        let synthesis = tuned.synthesis_s(s.clone(), wplus.clone(), base.domain.s_layers(), &Noise::Stored)?;
        let loss = refinement_loss(&base.delta_space, synthesis, target)?;
        let grads = GradientsParams::from_grads(loss.backward(), &tuned);
        tuned = optim.step(TUNE_LR, tuned, grads);
        if !progress(step) {
            return Err(Error::Cancelled);
        }
    }
    Ok(tuned.valid())
}

/// Adam's step size on w+ during refinement.
const REFINE_LR: f64 = 0.01;

/// Weight of the feature term in refinement: e4e's identity loss with the domain's CLIP image
/// tower, at the weight of the built-in generator's feature stage. Squared error alone sharpens
/// the large areas and loses expressions, eyes and mouths (docs/deltaedit_builtin.md, session 13).
const REFINE_FEATURE_WEIGHT: f64 = 0.3;

/// What refinement matches: the image ([1, 3, h, w] in [−1, 1]) and its unit CLIP image feature.
struct RefinementTarget {
    image: Tensor<4>,
    feature: Tensor<2>,
}

/// Refinement's objective for a synthesis (resized to the target): squared error plus
/// `REFINE_FEATURE_WEIGHT` · (1 − cos) of the CLIP image features.
fn refinement_loss(delta_space: &DeltaSpace, synthesis: Tensor<4>, target: &RefinementTarget) -> Result<Tensor<1>> {
    let [_, _, h, w] = target.image.dims();
    let synthesis = if synthesis.dims()[2..] == [h, w] {
        synthesis
    } else {
        interpolate(synthesis, InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([h, w]))
    };
    let squared_error = (synthesis.clone() - target.image.clone()).square().mean();
    let cosine = (delta_space.image_features(synthesis)? * target.feature.clone()).sum_dim(1).mean();
    Ok(squared_error + (cosine.neg() + 1.0) * REFINE_FEATURE_WEIGHT)
}

/// `steps` of Adam on w+ minimising `refinement_loss`. Only w+ is tracked: the generator's and
/// CLIP's plain tensors enter the graph as constants.
fn refine(
    generator: &Generator,
    delta_space: &DeltaSpace,
    wplus: Tensor<3>,
    target: &RefinementTarget,
    steps: usize,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Tensor<3>> {
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut wplus = wplus;
    let mut m = wplus.zeros_like();
    let mut v = wplus.zeros_like();
    for t in 1..=steps {
        let tracked = wplus.clone().autodiff().require_grad();
        let loss = refinement_loss(delta_space, generator.synthesis(tracked.clone(), &Noise::Stored), target)?;
        let grads = loss.backward();
        let grad = tracked.grad(&grads).expect("w+ requires its gradient");
        m = m * beta1 + grad.clone() * (1.0 - beta1);
        v = v * beta2 + grad.square() * (1.0 - beta2);
        let m_hat = m.clone() / (1.0 - beta1.powi(t as i32));
        let v_hat = v.clone() / (1.0 - beta2.powi(t as i32));
        wplus = wplus - m_hat / (v_hat.sqrt() + eps) * REFINE_LR;
        if !progress(t) {
            return Err(Error::Cancelled);
        }
    }
    Ok(wplus)
}

/// The first image of `images` ([B, 3, H, W] in [−1, 1]) as RGB, clamped.
pub fn to_rgb_image(images: Tensor<4>) -> RgbImage {
    let [_, _, h, w] = images.dims();
    let first = images.slice([0..1]).clamp(-1.0, 1.0);
    let values: Vec<f32> = first.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
    let plane = h * w;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        image::Rgb(std::array::from_fn(|c| ((values[c * plane + i] + 1.0) * 127.5).round() as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gan::Method;
    use crate::engine::models::tiny_models;
    use crate::models::stylegan2::styled_conv::StyledConv;
    use crate::world::dataset::{held_out_seed, sample};

    fn session(method: Method) -> EditSession {
        let device = Device::flex();
        let image = sample(held_out_seed(3), 64, false).image;
        EditSession::new(Arc::new(tiny_models(method, &device)), &image, &device).unwrap()
    }

    fn edit(target: &str, strength: f32, beta: f32) -> TextEdit {
        TextEdit { source: None, target: target.into(), strength, beta }
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    /// Equal up to f32 rounding, relative to the largest magnitude (S values of random models
    /// can be large).
    fn assert_close(a: Tensor<2>, b: Tensor<2>) {
        let (a, b) = (values(a), values(b));
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5 * scale, "max difference {worst} at scale {scale}");
    }

    #[test]
    fn strength_zero_is_the_reconstruction() {
        let mut session = session(Method::DeltaEdit);
        let s = session.edited_s(&EditStack::single(edit("a face with red hair", 0.0, 0.0))).unwrap();
        assert_close(s, session.inversion().s.clone());
        let reconstruction = session.render(&EditStack::default()).unwrap();
        assert_eq!(session.render(&EditStack::single(edit("a face with red hair", 0.0, 0.0))).unwrap(), reconstruction);
    }

    #[test]
    fn keeping_unedited_pixels_gives_the_input_at_strength_zero() {
        let mut session = session(Method::DeltaEdit);
        let input = sample(held_out_seed(3), 64, false).image;
        let keeping = |edit| EditStack { keep_unedited: Some(CompositeOptions::default()), ..EditStack::single(edit) };
        assert_eq!(session.render(&keeping(edit("a face with red hair", 0.0, 0.0))).unwrap(), input);
        let strong = edit("a face with red hair", 50.0, 0.0);
        let edited = session.render(&EditStack::single(strong.clone())).unwrap();
        let kept = session.render(&keeping(strong)).unwrap();
        // Every pixel lies between the input and the edited synthesis.
        for ((k, i), e) in kept.pixels().zip(input.pixels()).zip(edited.pixels()) {
            for c in 0..3 {
                assert!(k[c] >= i[c].min(e[c]) && k[c] <= i[c].max(e[c]), "{k:?} outside {i:?}..{e:?}");
            }
        }
    }

    #[test]
    fn beta_zero_keeps_every_channel_and_a_high_beta_none() {
        let mut session = session(Method::DeltaEdit);
        let e = edit("a smiling face", 1.0, 0.0);
        session.prepare(&e).unwrap();
        let direction = session.cached(&e).clone();
        assert_close(direction.masked(0.0), direction.delta_s.clone());
        assert!(values(direction.delta_s.clone()).iter().any(|v| v.abs() > 0.0));
        assert!(values(direction.masked(10.0)).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn edits_stack_by_adding_their_scaled_directions() {
        let mut session = session(Method::DeltaEdit);
        let (a, b) = (edit("a face with red hair", 0.7, 0.0), edit("a bald face", 1.5, 0.0));
        let stack = EditStack {
            edits: vec![
                StackedEdit { edit: a.clone(), enabled: true },
                StackedEdit { edit: b.clone(), enabled: true },
                StackedEdit { edit: edit("a face with a hat", 2.0, 0.0), enabled: false },
            ],
            ..EditStack::default()
        };
        let stacked = session.edited_s(&stack).unwrap();
        let da = session.edited_s(&EditStack::single(a)).unwrap() - session.inversion().s.clone();
        let db = session.edited_s(&EditStack::single(b)).unwrap() - session.inversion().s.clone();
        assert_close(stacked, session.inversion().s.clone() + da + db);
    }

    #[test]
    fn blend_endpoints_are_the_single_edits() {
        for method in [Method::DeltaEdit, Method::Global] {
            let mut session = session(method);
            let (a, b) = (edit("a face with red hair", 1.0, 0.0), edit("a face with blue hair", 0.5, 0.0));
            let blend = |lambda| EditStack { blend: Some(Blend { a: a.clone(), b: b.clone(), lambda }), ..EditStack::default() };
            assert_eq!(session.render(&blend(0.0)).unwrap(), session.render(&EditStack::single(a.clone())).unwrap());
            assert_eq!(session.render(&blend(1.0)).unwrap(), session.render(&EditStack::single(b.clone())).unwrap());
            let middle = session.edited_s(&blend(0.25)).unwrap();
            let (sa, sb) = (session.edited_s(&EditStack::single(a.clone())).unwrap(), session.edited_s(&EditStack::single(b.clone())).unwrap());
            assert_close(middle, sa * 0.75 + sb * 0.25);
        }
    }

    #[test]
    fn interpolation_frames_run_from_edit_a_to_edit_b() {
        let mut session = session(Method::DeltaEdit);
        let (a, b) = (edit("a face with red hair", 1.0, 0.0), edit("a face with blue hair", 2.0, 0.0));
        let stack = EditStack { blend: Some(Blend { a: a.clone(), b: b.clone(), lambda: 0.3 }), ..EditStack::default() };
        let frames = session.interpolation_frames(&stack, 4).unwrap();
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0], session.render(&EditStack::single(a)).unwrap());
        assert_eq!(frames[3], session.render(&EditStack::single(b)).unwrap());
        let third = EditStack { blend: Some(Blend { lambda: 1.0 / 3.0, ..stack.blend.clone().unwrap() }), ..stack.clone() };
        assert_eq!(frames[1], session.render(&third).unwrap());
        assert!(session.interpolation_frames(&EditStack::default(), 4).is_err(), "no blend, nothing to interpolate");
    }

    #[test]
    fn refinement_brings_the_reconstruction_closer_to_the_image() {
        let device = Device::flex();
        let models = Arc::new(tiny_models(Method::DeltaEdit, &device));
        let image = sample(held_out_seed(3), 64, false).image;
        let mut plain = EditSession::new(models.clone(), &image, &device).unwrap();
        let mut refined = EditSession::refined(models.clone(), &image, InversionSteps { refine_steps: 20, tune_steps: 0 }, &device).unwrap();
        let base = &models.base;
        let target = RefinementTarget {
            image: image_to_input(&image, base.encoder.input_size as u32, &device),
            feature: plain.inversion.image_feature.clone(),
        };
        let objective = |session: &EditSession| {
            let synthesis = base.generator.synthesis(session.inversion.wplus.clone(), &Noise::Stored);
            f64::from(refinement_loss(&base.delta_space, synthesis, &target).unwrap().into_scalar::<f32>())
        };
        let (before, after) = (objective(&plain), objective(&refined));
        assert!(after < before, "objective {before} → {after}");
        // The objective is squared error plus the weighted feature distance: zero at the image
        // itself, 2 · REFINE_FEATURE_WEIGHT with the opposite feature.
        let at_image = |feature: Tensor<2>| {
            let target = RefinementTarget { image: target.image.clone(), feature };
            refinement_loss(&base.delta_space, target.image.clone(), &target).unwrap().into_scalar::<f32>()
        };
        let own_feature = base.delta_space.image_features(target.image.clone()).unwrap();
        assert!(at_image(own_feature.clone()).abs() < 1e-5);
        assert!((at_image(own_feature.neg()) - 2.0 * REFINE_FEATURE_WEIGHT as f32).abs() < 1e-4);
        let (plain, refined) = (squared_error(&mut plain, &image), squared_error(&mut refined, &image));
        assert!(refined < plain, "squared error {plain} → {refined}");
    }

    fn largest_difference<const D: usize>(a: &Tensor<D>, b: &Tensor<D>) -> f32 {
        (a.clone() - b.clone()).abs().max().into_scalar::<f32>()
    }

    /// The summed squared error of `session`'s reconstruction against `image`, in 8-bit units.
    fn squared_error(session: &mut EditSession, image: &RgbImage) -> f64 {
        let reconstruction = session.render(&EditStack::default()).unwrap();
        reconstruction.pixels().zip(image.pixels()).map(|(a, b)| (0..3).map(|c| (a[c] as f64 - b[c] as f64).powi(2)).sum::<f64>()).sum()
    }

    #[test]
    fn pivotal_tuning_keeps_the_pivot_and_the_shared_generator_and_draws_the_image_closer() {
        let device = Device::flex();
        let models = Arc::new(tiny_models(Method::DeltaEdit, &device));
        let image = sample(held_out_seed(3), 64, false).image;
        let steps = InversionSteps { refine_steps: 5, tune_steps: 10 };
        let mut refined = EditSession::refined(models.clone(), &image, InversionSteps { tune_steps: 0, ..steps }, &device).unwrap();
        let shared_before = refined.render(&EditStack::default()).unwrap();
        let mut reported = Vec::new();
        let mut tuned = EditSession::refined_with_progress(models.clone(), &image, steps, &device, &mut |done| {
            reported.push(done);
            true
        })
        .unwrap();
        assert_eq!(reported, (1..=steps.total()).collect::<Vec<_>>(), "progress runs through refinement, then tuning");
        // Tuning moves the generator's weights only: the pivot is the refinement's S and w+.
        assert!(largest_difference(&tuned.inversion.s, &refined.inversion.s) < 1e-5);
        assert!(refined.inversion.generator.is_none());
        // Only the layers drawing at TUNE_FROM_RESOLUTION and above are tuned.
        let (shared, own) = (&models.base.generator, tuned.inversion.generator.as_ref().expect("tuned"));
        let weight_change = |a: &StyledConv, b: &StyledConv| largest_difference(&a.conv.weight.val(), &b.conv.weight.val());
        assert_eq!(weight_change(&shared.conv1, &own.conv1), 0.0);
        for (i, (a, b)) in shared.convs.iter().zip(&own.convs).enumerate() {
            let resolution = 8 << (i / 2);
            assert_eq!(weight_change(a, b) > 0.0, resolution >= TUNE_FROM_RESOLUTION, "conv at {resolution}²");
        }
        assert_eq!(refined.render(&EditStack::default()).unwrap(), shared_before, "the shared generator is untouched");
        let (refined_error, tuned_error) = (squared_error(&mut refined, &image), squared_error(&mut tuned, &image));
        assert!(tuned_error < refined_error, "squared error {refined_error} → {tuned_error}");
        // Edits still move the tuned synthesis.
        let edited = tuned.render(&EditStack::single(edit("a face with red hair", 2.0, 0.0))).unwrap();
        assert_ne!(edited, tuned.render(&EditStack::default()).unwrap());
        let mut cancelled = |done: usize| done < steps.refine_steps + 3;
        assert!(matches!(EditSession::refined_with_progress(models, &image, steps, &device, &mut cancelled), Err(Error::Cancelled)));
    }

    #[test]
    fn a_fitted_strength_is_the_smallest_that_reaches_most_of_the_best_similarity() {
        let mut session = session(Method::DeltaEdit);
        let red = edit("a face with red hair", 7.0, 0.0);
        let target = session.models.base.delta_space.text_features(&["a face with red hair"]).unwrap();
        // Scored on the syntheses, and on the images shown with the unedited pixels kept.
        for shown in [None, Some(CompositeOptions { below: 0.0, above: 0.01, blur: 0.0 })] {
            let fitted = session.fit_strength(&red, shown.as_ref()).unwrap();
            // The CLIP similarity to the target of each strength's image, one image at a time.
            let mut similarity = |strength: f32| {
                let stack = EditStack { keep_unedited: shown, ..EditStack::single(TextEdit { strength, ..red.clone() }) };
                let image = session.render_tensor(&stack).unwrap();
                let [_, _, side, _] = image.dims();
                let image = match shown {
                    None => image,
                    Some(_) => image_to_input(&session.render(&stack).unwrap(), side as u32, &image.device()),
                };
                let feature = session.models.base.delta_space.image_features(image).unwrap();
                (feature * target.clone()).sum().into_scalar::<f32>()
            };
            let unedited = similarity(0.0);
            let gains: Vec<f32> = FIT_STRENGTHS.iter().map(|&strength| similarity(strength) - unedited).collect();
            let best = gains.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let at = FIT_STRENGTHS.iter().position(|&s| s == fitted).expect("a strength of the grid");
            if best > 0.0 {
                assert!(gains[at] >= FIT_SHARE * best - 1e-5, "{fitted} gains {} of the best {best}", gains[at]);
                assert!(gains[..at].iter().all(|&g| g < FIT_SHARE * best + 1e-5), "a smaller strength reaches the share: {gains:?}");
            } else {
                assert!(gains[at] >= best - 1e-5, "{gains:?}");
            }
        }

        // A stack: every enabled edit and both ends of the blend fitted alone, the rest kept.
        let bald = edit("a bald face", 3.0, 0.0);
        let stack = EditStack {
            edits: vec![StackedEdit { edit: red.clone(), enabled: true }, StackedEdit { edit: bald.clone(), enabled: false }],
            blend: Some(Blend { a: bald.clone(), b: edit("a face with a smile", 0.0, 0.0), lambda: 0.4 }),
            keep_unedited: None,
        };
        let fitted_stack = session.fit_strengths(&stack).unwrap();
        assert_eq!(fitted_stack.edits[0].edit, TextEdit { strength: session.fit_strength(&red, None).unwrap(), ..red });
        assert_eq!(fitted_stack.edits[1], stack.edits[1]);
        let blend = fitted_stack.blend.unwrap();
        assert_eq!(blend.lambda, 0.4);
        assert_eq!(blend.a.strength, session.fit_strength(&bald, None).unwrap());
        assert_eq!(blend.b.strength, session.fit_strength(&edit("a face with a smile", 1.0, 0.0), None).unwrap());
    }

    #[test]
    fn an_empty_target_is_refused() {
        let mut session = session(Method::DeltaEdit);
        assert!(session.render(&EditStack::single(edit("  ", 1.0, 0.0))).is_err());
    }
}
