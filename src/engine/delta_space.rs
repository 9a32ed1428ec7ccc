//! DeltaSpace (paper 000, §3.1): the CLIP side of DeltaEdit. Image and text features, the text
//! delta between a source and a target prompt, and the condition the Delta Mapper reads.
//!
//! The two domains feed CLIP differently: the official FFHQ path follows DeltaEdit's code
//! (images resized ×7-nearest/avg-pool to 224² without mean/std; prompts averaged over the 79
//! ImageNet templates; neutral text "face"); the built-in domain uses its own CLIP's training
//! input (CLIP mean/std at the model's size; a prompt as written, as the captions it learnt from).
use std::collections::HashMap;
use std::sync::Mutex;

use burn::prelude::*;

use crate::models::clip::preprocess::{DELTAEDIT_SIZE, clip_input_from_signed, deltaedit_resize};
use crate::models::clip::tokenizer::ClipTokenizer;
use crate::models::clip::{Clip, ClipConfig, l2_normalize};
use crate::models::delta_alignment::DeltaAlignment;
use crate::models::delta_mapper::DeltaSubspace;
use crate::models::stylegan2::SLayers;
use crate::world::captions::NEUTRAL;
use crate::{Error, Result};

/// DeltaEdit's prompt ensemble (`utils/map_tool.py`): CLIP's ImageNet templates without
/// "a photo of many {}.".
const IMAGENET_TEMPLATES: &str = include_str!("../../assets/imagenet_templates.txt");

/// Which world the models come from; decides how CLIP is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Our procedural portraits and the models trained on them.
    #[default]
    Builtin,
    /// The official FFHQ StyleGAN2, e4e, CLIP ViT-B/32 and DeltaEdit files.
    Ffhq,
}

impl Domain {
    /// The source prompt of the paper's text-prompt setting when the user gives none.
    pub fn neutral_prompt(self) -> &'static str {
        match self {
            Domain::Builtin => NEUTRAL,
            Domain::Ffhq => "face",
        }
    }

    /// The relevance threshold β an edit starts with: DeltaEdit's default for FFHQ; for the
    /// built-in domain, the value chosen on the benchmark (docs/deltaedit_builtin.md).
    pub fn default_beta(self) -> f32 {
        match self {
            Domain::Builtin => 0.04,
            Domain::Ffhq => 0.03,
        }
    }

    /// The layers DeltaEdit's S covers: the paper's conv layers for the official files; conv and
    /// ToRGB for the built-in generator, which draws its backgrounds through ToRGB
    /// (docs/deltaedit_builtin.md, class-mean directions).
    pub fn s_layers(self) -> SLayers {
        match self {
            Domain::Builtin => SLayers::ConvAndToRgb,
            Domain::Ffhq => SLayers::Conv,
        }
    }

    /// Templates a prompt is averaged over.
    pub fn templates(self) -> Vec<&'static str> {
        match self {
            Domain::Builtin => vec!["{}"],
            Domain::Ffhq => IMAGENET_TEMPLATES.lines().filter(|l| !l.is_empty()).collect(),
        }
    }
}

/// CLIP with its tokenizer, fed the way `domain` needs.
pub struct DeltaSpace {
    pub clip: Clip,
    pub config: ClipConfig,
    pub domain: Domain,
    tokenizer: ClipTokenizer,
    /// Carries text deltas towards image deltas, where the domain has one (the built-in one).
    alignment: Option<DeltaAlignment>,
    /// Text features already computed, by prompt: typing a prompt once is enough.
    text_cache: Mutex<HashMap<String, Tensor<2>>>,
    device: Device,
}

impl DeltaSpace {
    pub fn new(clip: Clip, config: ClipConfig, domain: Domain, device: &Device) -> Result<Self> {
        if domain == Domain::Ffhq && config.vision.image_size != DELTAEDIT_SIZE {
            return Err(Error::Config(format!(
                "the FFHQ path feeds CLIP {DELTAEDIT_SIZE}² images; this CLIP takes {}²",
                config.vision.image_size
            )));
        }
        Ok(DeltaSpace { clip, config, domain, tokenizer: ClipTokenizer::new()?, alignment: None, text_cache: Mutex::default(), device: device.clone() })
    }

    /// Unit image features of `images` ([B, 3, H, W] in [−1, 1]) → [B, E].
    pub fn image_features(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        let pixels = match self.domain {
            Domain::Ffhq => deltaedit_resize(images)?,
            Domain::Builtin => clip_input_from_signed(images, self.config.vision.image_size),
        };
        Ok(self.clip.encode_image_normalized(pixels))
    }

    /// The unit text features of `prompts` ([N, E]), each the normalised mean of its unit
    /// features over the domain's templates (CLIP's `zeroshot_classifier`).
    pub fn text_features(&self, prompts: &[&str]) -> Result<Tensor<2>> {
        let templates = self.domain.templates();
        let context = self.config.text.context_length;
        let mut rows = Vec::with_capacity(prompts.len());
        for prompt in prompts {
            if let Some(cached) = self.text_cache.lock().expect("text cache").get(*prompt) {
                rows.push(cached.clone());
                continue;
            }
            let texts: Vec<String> = templates.iter().map(|t| t.replace("{}", prompt)).collect();
            let ids = self.tokenizer.tokenize_batch(&texts, context)?;
            let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [texts.len(), context]), &self.device);
            let mean = self.clip.encode_text_normalized(tokens).mean_dim(0);
            let feature = l2_normalize(mean);
            self.text_cache.lock().expect("text cache").insert(prompt.to_string(), feature.clone());
            rows.push(feature);
        }
        Ok(Tensor::cat(rows, 0))
    }

    /// Uses `alignment` for every text delta from now on.
    pub fn set_alignment(&mut self, alignment: DeltaAlignment) -> Result<()> {
        if alignment.width() != self.config.embed_dim {
            return Err(Error::Config(format!(
                "the delta alignment is {0}×{0}; this CLIP's features are {1}-d",
                alignment.width(),
                self.config.embed_dim
            )));
        }
        self.alignment = Some(alignment.to_device(&self.device));
        Ok(())
    }

    /// The text delta the engine edits with ([1, E]): DeltaEdit's `GetDt`, carried by the
    /// domain's delta alignment when it has one.
    pub fn text_delta(&self, source: &str, target: &str) -> Result<Tensor<2>> {
        let delta = self.clip_text_delta(source, target)?;
        Ok(match &self.alignment {
            Some(alignment) => alignment.apply(delta),
            None => delta,
        })
    }

    /// DeltaEdit's `GetDt`: t(target) − t(source), not normalised ([1, E]).
    pub fn clip_text_delta(&self, source: &str, target: &str) -> Result<Tensor<2>> {
        let features = self.text_features(&[source, target])?;
        Ok(features.clone().slice([1..2]) - features.slice([0..1]))
    }
}

/// The Delta Mapper's condition: [unit image feature ‖ delta / max(‖delta‖, 1e-5)] ([B, 2E]),
/// the delta first projected onto the mapper's `subspace` when it has one. `image_features` must
/// already be unit rows.
pub fn condition(image_features: Tensor<2>, delta: Tensor<2>, subspace: Option<&DeltaSubspace>) -> Tensor<2> {
    let delta = match subspace {
        Some(subspace) => subspace.project(delta),
        None => delta,
    };
    let norm = delta.clone().square().sum_dim(1).sqrt().clamp_min(1e-5);
    Tensor::cat(vec![image_features, delta / norm], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffhq_prompts_average_deltaedits_79_templates() {
        let templates = Domain::Ffhq.templates();
        assert_eq!(templates.len(), 79);
        assert!(templates.iter().all(|t| t.contains("{}")));
        assert!(!templates.contains(&"a photo of many {}."));
        assert_eq!(Domain::Builtin.templates(), vec!["{}"]);
    }

    #[test]
    fn delta_is_the_difference_of_unit_features_and_the_condition_is_unit_halves() {
        let device = Device::flex();
        let config = ClipConfig::tiny();
        let space = DeltaSpace::new(config.init(&device), config, Domain::Builtin, &device).unwrap();
        let features = space.text_features(&["a face", "a face with red hair"]).unwrap();
        let norms: Vec<f32> = features.clone().square().sum_dim(1).sqrt().into_data().try_to_vec::<f32>().unwrap();
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
        let delta = space.text_delta("a face", "a face with red hair").unwrap();
        let expected = features.clone().slice([1..2]) - features.slice([0..1]);
        delta.clone().into_data().assert_approx_eq::<f32>(&expected.into_data(), Default::default());

        // An image of another size is resized to the model's input first.
        let image = space.image_features(Tensor::random([1, 3, 32, 32], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device)).unwrap();
        let cond = condition(image, delta, None);
        let halves: Vec<f32> = cond.reshape([2, 8]).square().sum_dim(1).sqrt().into_data().try_to_vec::<f32>().unwrap();
        assert!(halves.iter().all(|n| (n - 1.0).abs() < 1e-4), "{halves:?}");
    }

    #[test]
    fn an_alignment_carries_every_text_delta_and_must_fit_the_clip() {
        let device = Device::flex();
        let config = ClipConfig::tiny();
        let mut space = DeltaSpace::new(config.init(&device), config, Domain::Builtin, &device).unwrap();
        let map = Tensor::<2>::random([8, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let wrong = DeltaAlignment { text_to_image: Tensor::zeros([4, 4], &device) };
        assert!(space.set_alignment(wrong).is_err());
        space.set_alignment(DeltaAlignment { text_to_image: map.clone() }).unwrap();
        let clip = space.clip_text_delta("a face", "a face with red hair").unwrap();
        let aligned = space.text_delta("a face", "a face with red hair").unwrap();
        let expected = DeltaAlignment { text_to_image: map }.apply(clip.clone());
        aligned.clone().into_data().assert_approx_eq::<f32>(&expected.into_data(), Default::default());
        let norm = |t: Tensor<2>| t.square().sum().sqrt().into_scalar::<f32>();
        assert!((norm(aligned) - norm(clip)).abs() < 1e-5, "the alignment keeps the delta's length");
    }

    #[test]
    fn the_ffhq_path_needs_a_224_clip() {
        let device = Device::flex();
        let config = ClipConfig::tiny();
        assert!(DeltaSpace::new(config.init(&device), config, Domain::Ffhq, &device).is_err());
    }
}
