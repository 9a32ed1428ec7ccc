//! The edit-quality benchmark of the built-in domain: text edits applied to held-out renders and
//! measured against exact ground truth by the attribute judge.
//!
//! Per edit, over N held-out renders whose every expected factor has another value:
//! - accuracy: the judge sees every expected value after the edit;
//! - preservation: the share of the other factors the judge sees as it saw them on the input;
//! - PSNR outside the edited parts (the union of the affected parts' masks on the input render
//!   and on the ground-truth edited render);
//! - time per edit (direction + synthesis, and the fit when strengths are fitted; the inversion
//!   is cached, as in the editor).
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::composite::CompositeOptions;
use super::gan::TextEdit;
use super::models::GanModels;
use super::session::{EditSession, EditStack, InversionSteps};
use crate::world::dataset::held_out_seed;
use crate::world::factors::{Attributes, Factor};
use crate::world::judge::Judge;
use crate::world::render::{PartMask, affected_parts, render};
use crate::world::sample_attributes;
use crate::{Error, Result};

/// Renders are 64², the judge's and the built-in generator's size.
const SIZE: u32 = 64;

/// One line of a prompt file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptCase {
    #[serde(default)]
    pub source: Option<String>,
    pub target: String,
    /// factor name → value name
    pub expect: BTreeMap<String, String>,
}

impl PromptCase {
    /// The expected (factor, value index) pairs.
    pub fn expected(&self) -> Result<Vec<(Factor, usize)>> {
        if self.expect.is_empty() {
            return Err(Error::Invalid("`expect` names no factor".into()));
        }
        self.expect
            .iter()
            .map(|(factor, value)| {
                let factor = Factor::from_name(factor)?;
                Ok((factor, factor.value_index(value)?))
            })
            .collect()
    }
}

/// Reads a JSON Lines prompt file (blank lines and `#` comments skipped); errors name the line.
pub fn read_prompts(path: &Path) -> Result<Vec<PromptCase>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: String| Error::Invalid(format!("{}:{}: {reason}", path.display(), i + 1));
        let case: PromptCase = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        case.expected().map_err(|e| bad(e.to_string()))?;
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(Error::Invalid(format!("{}: no edits", path.display())));
    }
    Ok(cases)
}

/// How strong every edit of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// The same strength on every render.
    Given(f32),
    /// Each edit's strength fitted to each render, as the stack shows it (`EditSession::fit_strengths`).
    Fitted,
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strength::Given(strength) => write!(f, "{strength}"),
            Strength::Fitted => f.write_str("fitted"),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct BenchmarkOptions {
    /// Renders per edit.
    pub n: usize,
    pub strength: Strength,
    pub beta: f32,
    /// Latent refinement and pivotal tuning steps after the encoder (none: encoder only).
    #[serde(flatten)]
    pub inversion: InversionSteps,
    /// Keep the input's pixels where the edit changes nothing (`super::composite`); None shows
    /// the synthesis alone, as the paper does.
    pub keep_unedited: Option<CompositeOptions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub source: Option<String>,
    pub target: String,
    pub expect: BTreeMap<String, String>,
    pub n: usize,
    pub accuracy: f64,
    pub preservation: f64,
    /// Per other factor, the share of renders on which the judge sees it unchanged: which
    /// factors an edit drags along.
    pub kept_by_factor: BTreeMap<String, f64>,
    /// NaN (null in JSON) when the edited parts cover the whole image.
    pub psnr_outside_db: f64,
    /// The strength applied, averaged over the renders (fitted ones differ per render).
    pub mean_strength: f64,
    pub ms_per_edit: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub method: String,
    pub options: BenchmarkOptions,
    pub cases: Vec<CaseReport>,
    /// Means over the cases (PSNR: over the cases where it is defined).
    pub accuracy: f64,
    pub preservation: f64,
    pub psnr_outside_db: f64,
    pub ms_per_edit: f64,
    /// Mean inversion time per render (encoder + S + CLIP image feature).
    pub ms_per_inversion: f64,
}

/// A held-out render and its inversion, shared by every edit that uses it.
struct Subject {
    seed: u64,
    attributes: Attributes,
    image: image::RgbImage,
    mask: PartMask,
    session: EditSession,
}

/// Runs every case; `progress(done, total)` after each case.
pub fn run(
    models: Arc<GanModels>,
    judge: &Judge,
    cases: &[PromptCase],
    options: BenchmarkOptions,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<Report> {
    let mut subjects: Vec<Subject> = Vec::new();
    let mut inversion_time = 0.0;
    let mut verdict_cache: HashMap<u64, Attributes> = HashMap::new();
    let mut reports = Vec::with_capacity(cases.len());
    for (done, case) in cases.iter().enumerate() {
        let expected = case.expected()?;
        let eligible = |a: &Attributes| expected.iter().all(|&(f, v)| a.get(f) != v);
        // The first n held-out seeds that qualify; inverted once, reused by later edits.
        let mut chosen = Vec::with_capacity(options.n);
        let mut index = 0u64;
        while chosen.len() < options.n {
            let seed = held_out_seed(index);
            index += 1;
            if !eligible(&sample_attributes(seed)) {
                continue;
            }
            let position = match subjects.iter().position(|s| s.seed == seed) {
                Some(p) => p,
                None => {
                    let attributes = sample_attributes(seed);
                    let portrait = render(seed, &attributes, SIZE);
                    let start = Instant::now();
                    let session = EditSession::refined(models.clone(), &portrait.image, options.inversion, device)?;
                    inversion_time += start.elapsed().as_secs_f64();
                    subjects.push(Subject { seed, attributes, image: portrait.image, mask: portrait.mask, session });
                    subjects.len() - 1
                }
            };
            chosen.push(position);
        }

        // A fitted run replaces the strength per render.
        let strength = match options.strength {
            Strength::Given(strength) => strength,
            Strength::Fitted => 1.0,
        };
        let edit = TextEdit { source: case.source.clone(), target: case.target.clone(), strength, beta: options.beta };
        let stack = EditStack { keep_unedited: options.keep_unedited, ..EditStack::single(edit) };
        let mut edited = Vec::with_capacity(chosen.len());
        let mut strength_sum = 0.0;
        let start = Instant::now();
        for &p in &chosen {
            let session = &mut subjects[p].session;
            let stack = match options.strength {
                Strength::Given(_) => stack.clone(),
                Strength::Fitted => session.fit_strengths(&stack)?,
            };
            strength_sum += f64::from(stack.edits[0].edit.strength);
            edited.push(session.render(&stack)?);
        }
        let ms_per_edit = start.elapsed().as_secs_f64() * 1000.0 / chosen.len() as f64;

        // The judge's view of the inputs (cached per seed) and of the edits.
        let unjudged: Vec<usize> = chosen.iter().copied().filter(|&p| !verdict_cache.contains_key(&subjects[p].seed)).collect();
        let inputs: Vec<image::RgbImage> = unjudged.iter().map(|&p| subjects[p].image.clone()).collect();
        for (&p, verdict) in unjudged.iter().zip(judge.judge(&inputs)) {
            verdict_cache.insert(subjects[p].seed, verdict.attributes);
        }
        let after = judge.judge(&edited);

        let (mut hits, mut psnr) = (0usize, 0.0f64);
        let others: Vec<Factor> = Factor::ALL.into_iter().filter(|f| expected.iter().all(|(e, _)| e != f)).collect();
        let mut kept_counts = vec![0usize; others.len()];
        for ((&p, image), verdict) in chosen.iter().zip(&edited).zip(&after) {
            let subject = &subjects[p];
            let seen = verdict.attributes;
            if expected.iter().all(|&(f, v)| seen.get(f) == v) {
                hits += 1;
            }
            let before = verdict_cache[&subject.seed];
            for (count, &f) in kept_counts.iter_mut().zip(&others) {
                *count += usize::from(seen.get(f) == before.get(f));
            }
            let target = expected.iter().fold(subject.attributes, |a, &(f, v)| a.with(f, v));
            let target_mask = render(subject.seed, &target, SIZE).mask;
            psnr += psnr_outside(&subject.image, image, &[&subject.mask, &target_mask], &expected);
        }
        let n = chosen.len() as f64;
        reports.push(CaseReport {
            source: case.source.clone(),
            target: case.target.clone(),
            expect: case.expect.clone(),
            n: chosen.len(),
            accuracy: hits as f64 / n,
            preservation: kept_counts.iter().sum::<usize>() as f64 / (n * others.len().max(1) as f64),
            kept_by_factor: others.iter().zip(&kept_counts).map(|(f, &c)| (f.name().to_string(), c as f64 / n)).collect(),
            psnr_outside_db: psnr / n,
            mean_strength: strength_sum / n,
            ms_per_edit,
        });
        progress(done + 1, cases.len());
    }
    // PSNR is undefined for edits whose parts cover the whole image; means skip undefined values.
    let mean = |f: fn(&CaseReport) -> f64| {
        let values: Vec<f64> = reports.iter().map(f).filter(|v| v.is_finite()).collect();
        values.iter().sum::<f64>() / values.len().max(1) as f64
    };
    Ok(Report {
        method: models.direction.method().name().to_string(),
        options,
        accuracy: mean(|c| c.accuracy),
        preservation: mean(|c| c.preservation),
        psnr_outside_db: mean(|c| c.psnr_outside_db),
        ms_per_edit: mean(|c| c.ms_per_edit),
        ms_per_inversion: inversion_time * 1000.0 / subjects.len().max(1) as f64,
        cases: reports,
    })
}

/// PSNR between `a` and `b` over the pixels that no mask labels with a part `expected` affects,
/// nor touches such a pixel (part edges are anti-aliased into their neighbours).
fn psnr_outside(a: &image::RgbImage, b: &image::RgbImage, masks: &[&PartMask], expected: &[(Factor, usize)]) -> f64 {
    let parts: Vec<_> = expected.iter().flat_map(|(f, _)| affected_parts(*f).iter().copied()).collect();
    let (w, h) = a.dimensions();
    let edited = |x: u32, y: u32| masks.iter().any(|m| parts.contains(&m.get(x, y)));
    let near_edit = |x: u32, y: u32| {
        (x.saturating_sub(1)..=(x + 1).min(w - 1)).any(|nx| (y.saturating_sub(1)..=(y + 1).min(h - 1)).any(|ny| edited(nx, ny)))
    };
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (x, y, pa) in a.enumerate_pixels() {
        if near_edit(x, y) {
            continue;
        }
        let pb = b.get_pixel(x, y);
        sum += (0..3).map(|c| (pa[c] as f64 - pb[c] as f64).powi(2)).sum::<f64>();
        count += 3;
    }
    if count == 0 {
        return f64::NAN;
    }
    let mse = (sum / count as f64).max(1e-10);
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_prompt_file_covers_every_factor_value_and_combinations() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prompts/builtin.jsonl");
        let cases = read_prompts(&path).unwrap();
        assert!(cases.len() >= 40, "{} edits", cases.len());
        let expected: Vec<Vec<(Factor, usize)>> = cases.iter().map(|c| c.expected().unwrap()).collect();
        for factor in Factor::ALL {
            for value in 0..factor.count() {
                assert!(expected.iter().flatten().any(|&e| e == (factor, value)), "{} = {}", factor.name(), factor.values()[value]);
            }
        }
        assert!(expected.iter().filter(|e| e.len() > 1).count() >= 3, "multi-attribute targets");
        assert!(cases.iter().any(|c| c.source.is_some()), "an explicit source prompt");
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        for (line, needle) in [
            (r#"{"target": "a face", "expect": {"hair_colour": "red"}}"#, "hair_colour"),
            (r#"{"target": "a face", "expect": {"hair_color": "green"}}"#, "green"),
            (r#"{"target": "a face", "expect": {}}"#, "no factor"),
            (r#"{"target": "a face", "expect": {"hat": "cap"}, "strength": 2}"#, "strength"),
        ] {
            std::fs::write(&path, format!("# header\n{line}\n")).unwrap();
            let message = read_prompts(&path).unwrap_err().to_string();
            assert!(message.contains("p.jsonl:2") && message.contains(needle), "{message}");
        }
    }

    #[test]
    fn psnr_ignores_the_edited_parts() {
        let seed = held_out_seed(0);
        let attributes = sample_attributes(seed);
        let portrait = render(seed, &attributes, SIZE);
        let hair = [(Factor::HairColor, (attributes.get(Factor::HairColor) + 1) % Factor::HairColor.count())];
        let recoloured = render(seed, &attributes.with(hair[0].0, hair[0].1), SIZE);
        let masks = [&portrait.mask, &recoloured.mask];
        // The ground-truth edit changes hair (masked out) and little else (eyebrows follow the
        // hair colour): ≈45 dB.
        let untouched = psnr_outside(&portrait.image, &recoloured.image, &masks, &hair);
        assert!(untouched > 40.0, "{untouched}");
        let mut darker = recoloured.image.clone();
        darker.pixels_mut().for_each(|p| p.0 = p.0.map(|v| v / 2));
        let psnr = psnr_outside(&portrait.image, &darker, &masks, &hair);
        assert!(psnr.is_finite() && psnr < 20.0, "{psnr}");
    }
}
