//! Parity fixtures (format: shared/specs/parity-fixtures.md): a directory with `manifest.json`, a
//! checkpoint in an official format, and `.npy` inputs and expected outputs. Each model family
//! provides a [`ModelRunner`] that loads the checkpoint once and runs the manifest's ops.
mod array;
mod clip;
mod delta_mapper;
mod e4e;
mod stylegan2;

pub use array::Array;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub model: String,
    #[serde(default)]
    pub layout: String,
    #[serde(default)]
    pub config: serde_json::Value,
    pub checkpoint: Option<String>,
    #[serde(default)]
    pub checkpoint_key: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub op: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, serde_json::Value>,
    pub outputs: BTreeMap<String, String>,
    #[serde(default = "default_tolerance")]
    pub atol: f64,
    #[serde(default = "default_tolerance")]
    pub rtol: f64,
}

fn default_tolerance() -> f64 {
    1e-4
}

/// An input of a case: a `.npy` array, or an inline JSON value (a list of strings, a number).
#[derive(Debug, Clone)]
pub enum Input {
    Array(Array),
    Texts(Vec<String>),
    Number(f64),
}

impl Input {
    pub fn array(&self, name: &str) -> Result<&Array> {
        match self {
            Input::Array(a) => Ok(a),
            _ => Err(Error::Invalid(format!("input `{name}` must be an .npy file"))),
        }
    }
    pub fn texts(&self, name: &str) -> Result<&[String]> {
        match self {
            Input::Texts(t) => Ok(t),
            _ => Err(Error::Invalid(format!("input `{name}` must be a list of strings"))),
        }
    }
    pub fn number(&self, name: &str) -> Result<f64> {
        match self {
            Input::Number(n) => Ok(*n),
            _ => Err(Error::Invalid(format!("input `{name}` must be a number"))),
        }
    }
}

/// The named inputs of one case.
pub struct Inputs(BTreeMap<String, Input>);

impl Inputs {
    pub fn get(&self, name: &str) -> Result<&Input> {
        self.0.get(name).ok_or_else(|| Error::Invalid(format!("case has no input `{name}`")))
    }
    pub fn array(&self, name: &str) -> Result<&Array> {
        self.get(name)?.array(name)
    }
}

pub type Outputs = BTreeMap<String, Array>;

/// A model loaded from a fixture's checkpoint, ready to run the fixture's ops.
pub trait ModelRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs>;
}

pub struct Fixture {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Fixture {
    pub fn load(dir: &Path) -> Result<Fixture> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let manifest = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        Ok(Fixture { dir: dir.to_path_buf(), manifest })
    }

    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    pub fn checkpoint_path(&self) -> Result<PathBuf> {
        self.manifest
            .checkpoint
            .as_ref()
            .map(|c| self.dir.join(c))
            .ok_or_else(|| Error::Invalid(format!("fixture {} has no checkpoint", self.name())))
    }

    /// Reads the inputs of `case`: strings ending in `.npy` are files, other JSON values inline.
    pub fn inputs(&self, case: &Case) -> Result<Inputs> {
        let mut inputs = BTreeMap::new();
        for (name, value) in &case.inputs {
            let input = match value {
                serde_json::Value::String(file) if file.ends_with(".npy") => {
                    Input::Array(Array::read_npy(&self.dir.join(file))?)
                }
                serde_json::Value::Number(n) => Input::Number(n.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::Array(items) => Input::Texts(
                    items
                        .iter()
                        .map(|v| {
                            v.as_str().map(str::to_owned).ok_or_else(|| {
                                Error::Invalid(format!("input `{name}`: only lists of strings are supported"))
                            })
                        })
                        .collect::<Result<_>>()?,
                ),
                other => return Err(Error::Invalid(format!("input `{name}`: unsupported value {other}"))),
            };
            inputs.insert(name.clone(), input);
        }
        Ok(Inputs(inputs))
    }

    /// Loads the model of this fixture for its layout.
    pub fn runner(&self, device: &Device) -> Result<Box<dyn ModelRunner>> {
        match self.manifest.model.as_str() {
            "clip" | "clip_text" | "clip_tokenizer" => clip::runner(self, device),
            "stylegan2" => stylegan2::runner(self, device),
            "e4e" => e4e::runner(self, device),
            "delta_mapper" => delta_mapper::runner(self, device),
            other => Err(Error::Invalid(format!("fixture {}: unknown model `{other}`", self.name()))),
        }
    }
}

/// The comparison of one output with its expected value.
#[derive(Debug, Clone)]
pub struct OutputReport {
    pub name: String,
    pub max_abs_error: f64,
    pub bound: f64,
    pub exact: bool,
    pub passed: bool,
}

#[derive(Debug, Clone)]
pub struct CaseReport {
    pub fixture: String,
    pub index: usize,
    pub op: String,
    pub outputs: Vec<OutputReport>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.outputs.iter().all(|o| o.passed)
    }
}

impl std::fmt::Display for CaseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for o in &self.outputs {
            let verdict = if o.passed { "ok  " } else { "FAIL" };
            if o.exact {
                writeln!(f, "{verdict} {}[{}] {} {}: exact match required, {} mismatches",
                    self.fixture, self.index, self.op, o.name, o.max_abs_error)?;
            } else {
                writeln!(f, "{verdict} {}[{}] {} {}: max abs error {:.3e} (bound {:.3e})",
                    self.fixture, self.index, self.op, o.name, o.max_abs_error, o.bound)?;
            }
        }
        Ok(())
    }
}

/// Compares an actual output with the expected one: integer outputs must match exactly, float
/// outputs within `atol + rtol · max|expected|`.
pub fn compare(name: &str, actual: &Array, expected: &Array, atol: f64, rtol: f64) -> Result<OutputReport> {
    if actual.shape() != expected.shape() {
        return Err(Error::Invalid(format!(
            "output `{name}`: shape {:?}, expected {:?}",
            actual.shape(),
            expected.shape()
        )));
    }
    Ok(match (actual, expected) {
        (Array::I64 { data: a, .. }, Array::I64 { data: e, .. }) => {
            let mismatches = a.iter().zip(e).filter(|(x, y)| x != y).count();
            OutputReport { name: name.into(), max_abs_error: mismatches as f64, bound: 0.0, exact: true, passed: mismatches == 0 }
        }
        _ => {
            let a = actual.to_f64();
            let e = expected.to_f64();
            let max_expected = e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let max_abs_error = a.iter().zip(&e).fold(0.0f64, |m, (x, y)| {
                let d = (x - y).abs();
                if d.is_nan() { f64::INFINITY } else { m.max(d) }
            });
            let bound = atol + rtol * max_expected;
            OutputReport { name: name.into(), max_abs_error, bound, exact: false, passed: max_abs_error <= bound }
        }
    })
}

/// Runs every case of the fixture in `dir`.
pub fn check_fixture(dir: &Path, device: &Device) -> Result<Vec<CaseReport>> {
    let fixture = Fixture::load(dir)?;
    let runner = fixture.runner(device)?;
    let mut reports = Vec::new();
    for (index, case) in fixture.manifest.cases.iter().enumerate() {
        let inputs = fixture.inputs(case)?;
        let actual = runner.run(&case.op, &inputs)?;
        let mut outputs = Vec::new();
        for (name, file) in &case.outputs {
            let expected = Array::read_npy(&fixture.dir.join(file))?;
            let got = actual
                .get(name)
                .ok_or_else(|| Error::Invalid(format!("op `{}` produced no output `{name}`", case.op)))?;
            outputs.push(compare(name, got, &expected, case.atol, case.rtol)?);
        }
        reports.push(CaseReport { fixture: fixture.name(), index, op: case.op.clone(), outputs });
    }
    Ok(reports)
}

/// Fixture directories under `root`: `root` itself if it has a manifest, else its sub-directories
/// that have one (sorted).
pub fn discover(root: &Path) -> Vec<PathBuf> {
    if root.join("manifest.json").is_file() {
        return vec![root.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The model config of a fixture as a typed value.
pub fn config<T: serde::de::DeserializeOwned>(fixture: &Fixture) -> Result<T> {
    serde_json::from_value(fixture.manifest.config.clone())
        .map_err(|e| Error::Config(format!("fixture {}: {e}", fixture.name())))
}
