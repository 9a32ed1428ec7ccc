//! A session recipe: everything needed to replay an edit — the input, the models and their
//! hashes, the edit stack — as versioned JSON, plus the A1111-style `parameters` text that other
//! tools show for a PNG.
use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::align::FaceLandmarks;
use super::delta_space::Domain;
use super::gan::{Method, TextEdit};
use super::session::{EditStack, InversionSteps};
use crate::weights::registry::sha256_file;
use crate::world::dataset::sample;
use crate::{Error, Result};

/// The recipe layout this version writes; readers accept this and older ones.
pub const RECIPE_FORMAT: u32 = 1;

/// Where the edited image came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InputSource {
    /// A built-in portrait: `world::dataset::sample(seed, size, false)`.
    Builtin { seed: u64, size: u32 },
    /// An image file (an absolute path, as it was on the machine that made the recipe).
    File { path: String },
}

impl InputSource {
    /// The input image: a built-in portrait is rendered again, a file is read from its path.
    pub fn load(&self) -> Result<RgbImage> {
        match self {
            InputSource::Builtin { seed, size } => Ok(sample(*seed, *size, false).image),
            InputSource::File { path } => super::image_input::load_image(Path::new(path)),
        }
    }

    /// A short description for messages and the `parameters` text.
    pub fn describe(&self) -> String {
        match self {
            InputSource::Builtin { seed, size } => format!("built-in portrait seed {seed} at {size}x{size}"),
            InputSource::File { path } => path.clone(),
        }
    }
}

/// A model file the edit used, by name (its path differs between machines) and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFile {
    pub name: String,
    pub sha256: String,
}

impl ModelFile {
    /// Hashes every file (the engine's `GanBase::paths`). Large official checkpoints take a
    /// second or two: hash once per loaded model set, not per export.
    pub fn hash_all(paths: &[PathBuf]) -> Result<Vec<ModelFile>> {
        paths
            .iter()
            .map(|path| {
                let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
                Ok(ModelFile { name, sha256: sha256_file(path)? })
            })
            .collect()
    }
}

/// How the exported picture is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layout {
    /// One image: the stack applied to the input.
    #[default]
    Single,
    /// `frames` images side by side, λ from 0 to 1 over the stack's blend (whose own λ is unused).
    InterpolationStrip { frames: u32 },
    /// Input | reconstruction | edit side by side, scaled to the input's height.
    CompareView,
}

/// Everything needed to replay a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// The JSON layout version ([`RECIPE_FORMAT`] when written by this build).
    pub format: u32,
    /// The DeltaStudio version that made it.
    pub app_version: String,
    pub domain: Domain,
    pub method: Method,
    pub input: InputSource,
    /// [`image_sha256`] of the decoded input: a re-encoded copy with the same pixels still matches.
    pub input_sha256: String,
    pub models: Vec<ModelFile>,
    /// Latent refinement and pivotal tuning steps after the encoder (none = encoder only).
    #[serde(flatten)]
    pub inversion: InversionSteps,
    pub stack: EditStack,
    #[serde(default)]
    pub layout: Layout,
    /// The face's landmarks when the photo was aligned: the models saw the FFHQ crop they define,
    /// and the edit was pasted back into the photo.
    #[serde(default)]
    pub alignment: Option<FaceLandmarks>,
}

/// SHA-256 of an image's decoded content: width and height (u32 little-endian), then the RGB
/// bytes row by row. It ignores the file format, so a PNG and a lossless re-encode agree.
pub fn image_sha256(image: &RgbImage) -> String {
    let mut hasher = Sha256::new();
    hasher.update(image.width().to_le_bytes());
    hasher.update(image.height().to_le_bytes());
    hasher.update(image.as_raw());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The first characters of a hash, as A1111's "Model hash" shows them.
fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(10)]
}

/// A1111 quotes a value that contains the separator.
fn quoted(value: String) -> String {
    if value.contains(',') || value.contains(':') { format!("\"{}\"", value.replace('"', "'")) } else { value }
}

impl Recipe {
    /// A recipe of this build's format and version for `input_image` read from `input`.
    pub fn new(
        domain: Domain,
        method: Method,
        input: InputSource,
        input_image: &RgbImage,
        models: Vec<ModelFile>,
        inversion: InversionSteps,
        stack: EditStack,
    ) -> Recipe {
        Recipe {
            format: RECIPE_FORMAT,
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            domain,
            method,
            input,
            input_sha256: image_sha256(input_image),
            models,
            inversion,
            stack,
            layout: Layout::Single,
            alignment: None,
        }
    }

    /// The input image, checked against the recorded hash: a changed file is an error, not a
    /// silently different result.
    pub fn load_input(&self) -> Result<RgbImage> {
        let image = self.input.load()?;
        if image_sha256(&image) != self.input_sha256 {
            return Err(Error::Recipe(format!(
                "the input {} has changed since the recipe was made (its pixels' hash differs)",
                self.input.describe()
            )));
        }
        Ok(image)
    }

    /// Enabled stacked edits, then the blend's two edits.
    fn active_edits(&self) -> Vec<&TextEdit> {
        let stacked = self.stack.edits.iter().filter(|e| e.enabled).map(|e| &e.edit);
        stacked.chain(self.stack.blend.iter().flat_map(|b| [&b.a, &b.b])).collect()
    }

    /// The A1111-style `parameters` text: the target prompts on the first line (joined by
    /// " AND "), then one line of `Key: value` pairs (values with commas quoted). Lists follow
    /// the prompts' order.
    pub fn parameters_text(&self) -> String {
        let edits = self.active_edits();
        let prompts = edits.iter().map(|e| e.target.replace('\n', " ")).collect::<Vec<_>>().join(" AND ");
        let list = |f: &dyn Fn(&TextEdit) -> String| quoted(edits.iter().map(|e| f(e)).collect::<Vec<_>>().join(", "));
        let neutral = self.domain.neutral_prompt();
        let mut pairs = vec![
            ("Method", self.method.name().to_string()),
            ("Domain", format!("{:?}", self.domain).to_lowercase()),
            ("Strength", list(&|e| format!("{}", e.strength))),
            ("Beta", list(&|e| format!("{}", e.beta))),
        ];
        if edits.iter().any(|e| e.source.as_deref().is_some_and(|s| s != neutral)) {
            pairs.push(("Source", list(&|e| e.source.as_deref().unwrap_or(neutral).to_string())));
        }
        if let Some(blend) = &self.stack.blend {
            let lambda = match self.layout {
                Layout::Single | Layout::CompareView => format!("{}", blend.lambda),
                Layout::InterpolationStrip { frames } => format!("0 to 1 in {frames} frames"),
            };
            pairs.push(("Lambda", lambda));
        }
        pairs.push(("Refine steps", self.inversion.refine_steps.to_string()));
        if self.inversion.tune_steps > 0 {
            pairs.push(("Tune steps", self.inversion.tune_steps.to_string()));
        }
        if self.stack.keep_unedited.is_some() {
            pairs.push(("Unedited pixels", "kept".to_string()));
        }
        pairs.push(("Input", quoted(self.input.describe())));
        pairs.push(("Input hash", short_hash(&self.input_sha256).to_string()));
        let models = self.models.iter().map(|m| format!("{}: {}", m.name, short_hash(&m.sha256))).collect::<Vec<_>>();
        pairs.push(("Model hashes", quoted(models.join(", "))));
        pairs.push(("Version", format!("DeltaStudio {}", self.app_version)));
        let pairs = pairs.into_iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
        format!("{prompts}\n{pairs}")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a recipe is plain data")
    }

    /// Reads a recipe; refuses JSON without a `format` field and formats newer than this build's.
    pub fn from_json(text: &str) -> Result<Recipe> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Recipe(format!("not JSON: {e}")))?;
        let format = value
            .get("format")
            .ok_or_else(|| Error::Recipe("not a DeltaStudio recipe (no `format` field)".into()))?
            .as_u64()
            .ok_or_else(|| Error::Recipe("the `format` field is not a number".into()))?;
        if format == 0 || format > RECIPE_FORMAT as u64 {
            return Err(Error::Recipe(format!(
                "recipe format {format} is unknown to DeltaStudio {} (it reads formats 1 to {RECIPE_FORMAT}); a newer version may read it",
                env!("CARGO_PKG_VERSION")
            )));
        }
        serde_json::from_value(value).map_err(|e| Error::Recipe(format!("malformed recipe: {e}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::composite::CompositeOptions;
    use crate::engine::session::{Blend, StackedEdit};

    fn edit(target: &str, strength: f32) -> TextEdit {
        TextEdit { source: None, target: target.into(), strength, beta: 0.05 }
    }

    /// A recipe with a disabled edit and a blend: every part of the format in use.
    pub(crate) fn example() -> Recipe {
        let input = InputSource::Builtin { seed: 7, size: 64 };
        let image = input.load().unwrap();
        let stack = EditStack {
            edits: vec![
                StackedEdit { edit: edit("a face with red hair", 1.0), enabled: true },
                StackedEdit { edit: edit("a bald face", 2.0), enabled: false },
            ],
            blend: Some(Blend { a: edit("a smiling face", 0.5), b: edit("a face, frowning", 1.5), lambda: 0.25 }),
            keep_unedited: Some(CompositeOptions::default()),
        };
        let models = vec![ModelFile { name: "stylegan2.safetensors".into(), sha256: "0123456789abcdef".repeat(4) }];
        Recipe::new(Domain::Builtin, Method::DeltaEdit, input, &image, models, InversionSteps { refine_steps: 3, tune_steps: 40 }, stack)
    }

    #[test]
    fn json_round_trips() {
        let recipe = example();
        assert_eq!(Recipe::from_json(&recipe.to_json()).unwrap(), recipe);
        let strip = Recipe { layout: Layout::InterpolationStrip { frames: 5 }, ..example() };
        assert_eq!(Recipe::from_json(&strip.to_json()).unwrap(), strip);
        // Recipes written before pivotal tuning have no `tune_steps`: they read as no tuning.
        let mut older: serde_json::Value = serde_json::from_str(&example().to_json()).unwrap();
        older.as_object_mut().unwrap().remove("tune_steps").expect("written beside refine_steps");
        let read = Recipe::from_json(&older.to_string()).unwrap();
        assert_eq!(read.inversion, InversionSteps { refine_steps: 3, tune_steps: 0 });
    }

    #[test]
    fn malformed_or_unknown_json_is_a_recipe_error() {
        let mut newer: serde_json::Value = serde_json::from_str(&example().to_json()).unwrap();
        newer["format"] = (RECIPE_FORMAT + 1).into();
        let mut broken: serde_json::Value = serde_json::from_str(&example().to_json()).unwrap();
        broken["stack"] = "red hair".into();
        for (text, expected) in [
            ("{\"format\": 1", "not JSON"),
            ("{\"app_version\": \"0.1.0\"}", "no `format` field"),
            (&newer.to_string(), "unknown"),
            (&broken.to_string(), "malformed recipe"),
        ] {
            match Recipe::from_json(text) {
                Err(Error::Recipe(reason)) => assert!(reason.contains(expected), "{reason:?} lacks {expected:?}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn parameters_text_lists_prompts_then_settings() {
        let text = example().parameters_text();
        let (prompts, settings) = text.split_once('\n').unwrap();
        assert_eq!(prompts, "a face with red hair AND a smiling face AND a face, frowning");
        for expected in [
            "Method: deltaedit",
            "Domain: builtin",
            "Strength: \"1, 0.5, 1.5\"",
            "Beta: \"0.05, 0.05, 0.05\"",
            "Lambda: 0.25",
            "Refine steps: 3",
            "Tune steps: 40",
            "Unedited pixels: kept",
            "Input: built-in portrait seed 7 at 64x64",
            "Model hashes: \"stylegan2.safetensors: 0123456789\"",
            &format!("Version: DeltaStudio {}", env!("CARGO_PKG_VERSION")),
        ] {
            assert!(settings.contains(expected), "{settings:?} lacks {expected:?}");
        }
        assert!(!text.contains("bald"), "disabled edits do nothing and are not listed");
        assert!(!settings.contains("Source"), "default sources are not listed");
    }

    #[test]
    fn a_file_input_must_still_exist_with_the_same_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portrait.png");
        let image = sample(11, 32, false).image;
        image.save(&path).unwrap();
        let input = InputSource::File { path: path.display().to_string() };
        let recipe = Recipe::new(Domain::Builtin, Method::Global, input, &image, vec![], InversionSteps::default(), EditStack::default());
        assert_eq!(recipe.load_input().unwrap(), image);
        image::imageops::flip_horizontal(&image).save(&path).unwrap();
        assert!(matches!(recipe.load_input(), Err(Error::Recipe(reason)) if reason.contains("changed")));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(recipe.load_input(), Err(Error::Io { .. })));
    }

    #[test]
    fn the_input_hash_depends_on_pixels_and_shape_only() {
        let image = example().input.load().unwrap();
        assert_eq!(image_sha256(&image), example().input_sha256);
        let mut changed = image.clone();
        changed.get_pixel_mut(3, 5)[1] ^= 1;
        assert_ne!(image_sha256(&changed), image_sha256(&image));
        let flat = RgbImage::from_raw(64 * 64, 1, image.as_raw().clone()).unwrap();
        assert_ne!(image_sha256(&flat), image_sha256(&image));
    }
}
