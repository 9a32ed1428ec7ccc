//! `deltastudio edit`: what the editor does, headless — stacked text edits, an interpolation
//! between two edits, batches of images, and replaying the recipe of an exported PNG. Every PNG
//! it writes embeds its recipe.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::Device;
use deltastudio::device::{self, DevicePreference};
use deltastudio::engine::align::{DEFAULT_FEATHER, FaceLandmarks, Quad, align, paste_back};
use deltastudio::engine::composite::CompositeOptions;
use deltastudio::engine::delta_space::Domain;
use deltastudio::engine::export::{read_recipe, side_by_side_scaled, strip, write_png};
use deltastudio::engine::gan::{Method, TextEdit};
use deltastudio::engine::models::GanModels;
use deltastudio::engine::recipe::{InputSource, Layout, ModelFile, Recipe};
use deltastudio::engine::session::{Blend, EditSession, EditStack, InversionSteps, StackedEdit};
use deltastudio::weights::registry::WeightsPath;
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct Args {
    /// Aligned portraits (built-in renders are aligned; FFHQ photos must be FFHQ-aligned): one
    /// image, several, or a folder of them (then `-o` is a folder).
    #[arg(long, value_name = "IMAGE|DIR", num_args = 1.., required_unless_present_any = ["seed", "recipe"])]
    input: Vec<PathBuf>,
    /// Edit a built-in portrait of this seed instead of an input image.
    #[arg(long, conflicts_with = "input")]
    seed: Option<u64>,
    /// The built-in portrait's size in pixels.
    #[arg(long, default_value_t = 64, requires = "seed")]
    size: u32,
    /// Replay the recipe embedded in a PNG that DeltaStudio exported: same input (its hash is
    /// checked), models, edits and layout.
    #[arg(long, value_name = "PNG", conflicts_with_all = ["input", "seed", "edit", "target", "interpolate", "source", "beta", "domain", "method", "refine", "tune", "reconstruction", "keep_unedited", "fit_strength"])]
    recipe: Option<PathBuf>,
    /// An edit, "target[:strength]", e.g. "a face with a smile:0.5" (repeatable: edits stack).
    #[arg(long, value_name = "TARGET[:STRENGTH]")]
    edit: Vec<String>,
    /// What the image should show, e.g. "a face with a smile" (one edit of strength --strength).
    #[arg(long)]
    target: Option<String>,
    /// The strength of --target: how far to move along the edit direction (0 = the reconstruction).
    #[arg(long, default_value_t = 1.0, requires = "target")]
    strength: f32,
    /// Fit the strength of every edit to the image: the smallest that reaches most of the best
    /// CLIP similarity to its target prompt (given strengths are ignored; the recipe records the
    /// fitted ones).
    #[arg(long)]
    fit_strength: bool,
    /// The neutral description every edit starts from (default: the domain's, "a face" / "face").
    #[arg(long)]
    source: Option<String>,
    /// Disentanglement threshold β of every edit: S channels less relevant to the text change are
    /// left alone (default: the domain's).
    #[arg(long)]
    beta: Option<f32>,
    /// Interpolate from edit A to edit B ("target[:strength]" each), on top of the stacked edits.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    interpolate: Vec<String>,
    /// Frames of the interpolation, λ from 0 to 1.
    #[arg(long, default_value_t = 5, requires = "interpolate", value_parser = clap::value_parser!(u32).range(1..))]
    steps: u32,
    /// Write each interpolation frame as its own PNG (NAME_00.png, …) instead of one strip.
    #[arg(long, requires = "interpolate")]
    frames: bool,
    /// Align a real photo for the FFHQ models: the eye centres and mouth corners in pixels, as
    /// "LEFT_EYE_X,Y,RIGHT_EYE_X,Y,MOUTH_LEFT_X,Y,MOUTH_RIGHT_X,Y" (left = nearer the image's left
    /// edge). The edit is made on the FFHQ crop and pasted back into the photo.
    #[arg(long, value_name = "8 NUMBERS", value_parser = parse_landmarks)]
    landmarks: Option<FaceLandmarks>,
    /// Which models: the built-in domain's or the official FFHQ files.
    #[arg(long, value_enum, default_value_t = Domain::Builtin)]
    domain: Domain,
    #[arg(long, value_enum, default_value_t = Method::DeltaEdit)]
    method: Method,
    /// Per-image latent refinement: optimisation steps on w+ after the encoder (a closer likeness
    /// in pixels and CLIP features; slower inversion, and edits reach a little less far).
    #[arg(long, default_value_t = 0)]
    refine: usize,
    /// Pivotal tuning (PTI): optimisation steps on the generator's weights at the inverted code,
    /// for this image only (a closer likeness; a step costs about as much as a refinement step).
    #[arg(long, default_value_t = 0)]
    tune: usize,
    /// Keep the input's own pixels wherever the edits leave the synthesis unchanged: the
    /// inversion's blur and lost detail stay out of the parts the edit does not touch.
    #[arg(long)]
    keep_unedited: bool,
    /// Also save the reconstruction (the inversion without edits) here (one input only).
    #[arg(long, value_name = "PNG")]
    reconstruction: Option<PathBuf>,
    /// Where to write the result (PNG); a folder when the input is several images or a folder.
    #[arg(short, long, value_name = "PNG|DIR")]
    output: PathBuf,
}

/// Splits "target[:strength]" at its last colon when what follows is a number; otherwise the
/// whole text is the target ("a face: smiling" has no strength) and the strength is 1.
pub fn parse_edit_spec(spec: &str) -> (String, f32) {
    if let Some((target, strength)) = spec.rsplit_once(':')
        && let Ok(strength) = strength.trim().parse::<f32>()
        && strength.is_finite()
    {
        return (target.trim().to_string(), strength);
    }
    (spec.trim().to_string(), 1.0)
}

impl Args {
    fn inversion_steps(&self) -> InversionSteps {
        InversionSteps { refine_steps: self.refine, tune_steps: self.tune }
    }
}

/// One image to edit and where its result goes.
struct Job {
    input: InputSource,
    output: PathBuf,
}

pub fn run(args: Args, device_preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    if let Some(path) = &args.recipe {
        return replay(path, &args.output, device_preference, weights);
    }
    let (stack, layout) = stack_and_layout(&args)?;
    let (jobs, batch) = jobs(&args)?;
    if batch && args.reconstruction.is_some() {
        bail!("--reconstruction takes one input image");
    }
    let device = select_device(device_preference)?;
    let (models, model_files) = load_models(weights, args.domain, args.method, &device)?;
    let editor = Editor { args: &args, stack, layout, models, model_files, device };
    if batch { run_batch(&jobs, |job| editor.edit(job, false)) } else { report_written(&editor.edit(&jobs[0], true)?) }
}

/// What every job of one run shares.
struct Editor<'a> {
    args: &'a Args,
    stack: EditStack,
    layout: Layout,
    models: Arc<GanModels>,
    model_files: Vec<ModelFile>,
    device: Device,
}

impl Editor<'_> {
    /// Inverts the job's image, writes its edit (and the reconstruction when asked), with the
    /// timings when `timed`. Returns the files written.
    fn edit(&self, job: &Job, timed: bool) -> anyhow::Result<Vec<PathBuf>> {
        let args = self.args;
        // Errors name the file they are about: a batch prints them as they are.
        let image = job.input.load()?;
        let start = Instant::now();
        let (mut session, quad) = invert(self.models.clone(), &image, args.landmarks.as_ref(), args.inversion_steps(), &self.device)
            .with_context(|| format!("cannot invert {}", job.input.describe()))?;
        if timed {
            println!("inversion: {:.1} ms", start.elapsed().as_secs_f64() * 1000.0);
        }
        let stack = if args.fit_strength {
            let fitted = session.fit_strengths(&self.stack).with_context(|| format!("cannot fit the strengths on {}", job.input.describe()))?;
            if timed {
                println!("fitted strengths: {}", describe_strengths(&fitted));
            }
            fitted
        } else {
            self.stack.clone()
        };
        let recipe = Recipe {
            layout: self.layout,
            alignment: args.landmarks,
            ..Recipe::new(args.domain, args.method, job.input.clone(), &image, self.model_files.clone(), args.inversion_steps(), stack)
        };
        let start = Instant::now();
        let mut written = export(&mut session, &image, quad.as_ref(), &recipe, &job.output, args.frames)?;
        if timed {
            println!("edit: {:.1} ms (text features, mapper, synthesis, PNG)", start.elapsed().as_secs_f64() * 1000.0);
        }
        if let Some(path) = &args.reconstruction {
            let recipe = Recipe { stack: EditStack::default(), layout: Layout::Single, ..recipe };
            written.extend(export(&mut session, &image, quad.as_ref(), &recipe, path, false)?);
        }
        Ok(written)
    }
}

/// "target: strength" of every enabled edit and of the blend's two, separated by "; ".
fn describe_strengths(stack: &EditStack) -> String {
    stack.applied().map(|e| format!("{}: {}", e.target, e.strength)).collect::<Vec<_>>().join("; ")
}

/// Renders the recipe embedded in `recipe_path` again into `output`.
fn replay(recipe_path: &Path, output: &Path, device_preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let recipe = read_recipe(recipe_path).with_context(|| format!("cannot replay {}", recipe_path.display()))?;
    let image = recipe.load_input().context("cannot rebuild the recipe's input")?;
    let device = select_device(device_preference)?;
    let (models, files) = load_models(weights, recipe.domain, recipe.method, &device)?;
    warn_about_changed_models(&recipe.models, &files);
    let recipe = Recipe { models: files, ..recipe };
    let (mut session, quad) = invert(models, &image, recipe.alignment.as_ref(), recipe.inversion, &device)?;
    report_written(&export(&mut session, &image, quad.as_ref(), &recipe, output, false)?)
}

/// Inverts `image`, or its FFHQ crop when `alignment` is given (then also the crop's square).
fn invert(
    models: Arc<GanModels>,
    image: &RgbImage,
    alignment: Option<&FaceLandmarks>,
    steps: InversionSteps,
    device: &Device,
) -> anyhow::Result<(EditSession, Option<Quad>)> {
    let aligned = alignment.map(|landmarks| align(image, landmarks)).transpose().context("cannot align the face")?;
    let seen = aligned.as_ref().map_or(image, |a| &a.crop);
    let session = EditSession::refined(models, seen, steps, device)?;
    Ok((session, aligned.map(|a| a.quad)))
}

fn select_device(preference: DevicePreference) -> anyhow::Result<Device> {
    let selected = device::select(preference)?;
    println!("device: {} ({})", selected.label, selected.reason);
    Ok(selected.device)
}

/// The models and the hashes of their files (recorded in every recipe).
fn load_models(weights: &WeightsPath, domain: Domain, method: Method, device: &Device) -> anyhow::Result<(Arc<GanModels>, Vec<ModelFile>)> {
    let start = Instant::now();
    let models = GanModels::load(weights, domain, method, device).context("cannot load the GAN-path models")?;
    let files = ModelFile::hash_all(&models.base.paths).context("cannot hash the model files")?;
    println!("models loaded and hashed in {:.2} s", start.elapsed().as_secs_f64());
    Ok((Arc::new(models), files))
}

/// The stacked edits (--target, then each --edit) and the blend of --interpolate.
fn stack_and_layout(args: &Args) -> anyhow::Result<(EditStack, Layout)> {
    let beta = args.beta.unwrap_or(args.domain.default_beta());
    let edit = |(target, strength): (String, f32)| TextEdit { source: args.source.clone(), target, strength, beta };
    let specs = args.target.iter().map(|t| (t.clone(), args.strength)).chain(args.edit.iter().map(|s| parse_edit_spec(s)));
    let edits: Vec<StackedEdit> = specs.map(|spec| StackedEdit { edit: edit(spec), enabled: true }).collect();
    let blend = match args.interpolate.as_slice() {
        [a, b] => Some(Blend { a: edit(parse_edit_spec(a)), b: edit(parse_edit_spec(b)), lambda: 0.0 }),
        _ => None,
    };
    if edits.is_empty() && blend.is_none() {
        bail!("nothing to do: give --edit, --target or --interpolate");
    }
    let layout = if blend.is_some() { Layout::InterpolationStrip { frames: args.steps } } else { Layout::Single };
    let keep_unedited = args.keep_unedited.then(CompositeOptions::default);
    Ok((EditStack { edits, blend, keep_unedited }, layout))
}

/// The images to edit and their outputs; `true` for a batch (several images or a folder), whose
/// outputs go into the `-o` folder under their input's name.
fn jobs(args: &Args) -> anyhow::Result<(Vec<Job>, bool)> {
    if let Some(seed) = args.seed {
        return Ok((vec![Job { input: InputSource::Builtin { seed, size: args.size }, output: args.output.clone() }], false));
    }
    let batch = args.input.len() > 1 || args.input.iter().any(|p| p.is_dir());
    if !batch {
        return Ok((vec![Job { input: file_source(&args.input[0])?, output: args.output.clone() }], false));
    }
    let mut images = Vec::new();
    for path in &args.input {
        if path.is_dir() { images.extend(images_in(path)?) } else { images.push(path.clone()) }
    }
    if images.is_empty() {
        bail!("no images (png, jpg, webp, bmp, tif) in {}", args.input.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    std::fs::create_dir_all(&args.output).with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    let jobs = images
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap_or(path.as_os_str());
            Ok(Job { input: file_source(path)?, output: args.output.join(name).with_extension("png") })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((jobs, true))
}

/// The image files directly in `dir`, sorted by name.
fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    const EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"];
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut images: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|x| EXTENSIONS.contains(&x.to_string_lossy().to_lowercase().as_str())))
        .collect();
    images.sort();
    Ok(images)
}

/// A file input by its absolute path, so that a recipe finds it from any working directory.
fn file_source(path: &Path) -> anyhow::Result<InputSource> {
    let absolute = std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    Ok(InputSource::File { path: absolute.display().to_string() })
}

/// Edits every job with a progress bar; a failed image is reported and the batch goes on.
fn run_batch(jobs: &[Job], mut edit: impl FnMut(&Job) -> anyhow::Result<Vec<PathBuf>>) -> anyhow::Result<()> {
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(ProgressStyle::with_template("edit [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta} left)").expect("valid template"));
    let mut failed = 0;
    for job in jobs {
        if let Err(e) = edit(job) {
            failed += 1;
            // println() of a hidden bar (output not a terminal) prints nothing.
            bar.suspend(|| eprintln!("error: {e:#}"));
        }
        bar.inc(1);
    }
    bar.finish();
    println!("{} of {} images edited into {}", jobs.len() - failed, jobs.len(), jobs[0].output.parent().unwrap_or(Path::new(".")).display());
    if failed > 0 {
        bail!("{failed} of {} images failed", jobs.len());
    }
    Ok(())
}

/// Renders `recipe` on the session of `input` and writes it to `output` (a strip as one PNG, or
/// with `separate_frames` each frame as NAME_ii.png carrying its own single-image recipe).
/// With an aligned input (`quad`), every render is pasted back into the photo.
fn export(
    session: &mut EditSession,
    input: &RgbImage,
    quad: Option<&Quad>,
    recipe: &Recipe,
    output: &Path,
    separate_frames: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    // write_png's errors name the file.
    let write = |path: &Path, image: &RgbImage, recipe: &Recipe| write_png(path, image, Some(recipe));
    let failed = || format!("cannot edit {}", recipe.input.describe());
    let placed = |crop: RgbImage| match quad {
        Some(quad) => paste_back(input, &crop, quad, DEFAULT_FEATHER),
        None => crop,
    };
    let frames = match recipe.layout {
        Layout::Single => {
            write(output, &placed(session.render(&recipe.stack).with_context(failed)?), recipe)?;
            return Ok(vec![output.to_path_buf()]);
        }
        Layout::CompareView => {
            let reconstruction = placed(session.render(&EditStack::default()).with_context(failed)?);
            let edited = placed(session.render(&recipe.stack).with_context(failed)?);
            write(output, &side_by_side_scaled(&[input, &reconstruction, &edited]), recipe)?;
            return Ok(vec![output.to_path_buf()]);
        }
        Layout::InterpolationStrip { frames } => frames,
    };
    let images: Vec<RgbImage> = session.interpolation_frames(&recipe.stack, frames as usize).with_context(failed)?.into_iter().map(placed).collect();
    if !separate_frames {
        write(output, &strip(&images), recipe)?;
        return Ok(vec![output.to_path_buf()]);
    }
    let blend = recipe.stack.blend.as_ref().expect("a strip has a blend");
    let mut written = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let lambda = if frames > 1 { i as f32 / (frames - 1) as f32 } else { 0.0 };
        let stack = EditStack { blend: Some(Blend { lambda, ..blend.clone() }), ..recipe.stack.clone() };
        let path = frame_path(output, i);
        write(&path, image, &Recipe { stack, layout: Layout::Single, ..recipe.clone() })?;
        written.push(path);
    }
    Ok(written)
}

fn parse_landmarks(text: &str) -> Result<FaceLandmarks, String> {
    let numbers: Vec<f32> = text.split(',').map(|n| n.trim().parse::<f32>().map_err(|e| format!("{n:?}: {e}"))).collect::<Result<_, _>>()?;
    let [a, b, c, d, e, f, g, h] = numbers[..] else {
        return Err(format!("expected 8 numbers (x,y of the two eyes and the two mouth corners), got {}", numbers.len()));
    };
    Ok(FaceLandmarks { left_eye: [a, b], right_eye: [c, d], mouth_left: [e, f], mouth_right: [g, h] })
}

/// `dir/name.png` → `dir/name_03.png`.
fn frame_path(output: &Path, i: usize) -> PathBuf {
    let stem = output.file_stem().map_or_else(|| "frame".into(), |s| s.to_string_lossy().into_owned());
    output.with_file_name(format!("{stem}_{i:02}.png"))
}

fn report_written(paths: &[PathBuf]) -> anyhow::Result<()> {
    for path in paths {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Replaying with other model files gives another result: say which differ.
fn warn_about_changed_models(recorded: &[ModelFile], loaded: &[ModelFile]) {
    for file in loaded {
        match recorded.iter().find(|r| r.name == file.name) {
            Some(r) if r.sha256 == file.sha256 => {}
            Some(r) => eprintln!("warning: {} differs from the recipe's (sha256 {} ≠ {}): the result may differ", file.name, r.sha256, file.sha256),
            None => eprintln!("warning: the recipe did not use {}: the result may differ", file.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_spec_takes_a_strength_only_after_its_last_colon() {
        assert_eq!(parse_edit_spec("red hair:0.5"), ("red hair".into(), 0.5));
        assert_eq!(parse_edit_spec("a face with a smile : -1.5 "), ("a face with a smile".into(), -1.5));
        assert_eq!(parse_edit_spec("a: b"), ("a: b".into(), 1.0));
        assert_eq!(parse_edit_spec("a face: smiling:2"), ("a face: smiling".into(), 2.0));
        assert_eq!(parse_edit_spec("a bald face"), ("a bald face".into(), 1.0));
        assert_eq!(parse_edit_spec("odd:inf"), ("odd:inf".into(), 1.0));
    }

    #[test]
    fn landmarks_take_eight_numbers() {
        let landmarks = parse_landmarks("10, 20,30,20, 12,40,28,40").unwrap();
        assert_eq!(landmarks.right_eye, [30.0, 20.0]);
        assert_eq!(landmarks.mouth_right, [28.0, 40.0]);
        assert!(parse_landmarks("1,2,3").unwrap_err().contains("got 3"));
        assert!(parse_landmarks("1,2,3,4,5,6,7,x").is_err());
    }

    #[test]
    fn frames_are_numbered_beside_the_output() {
        assert_eq!(frame_path(Path::new("out/smile.png"), 3), PathBuf::from("out/smile_03.png"));
    }
}
