//! Parity runner for `stylegan2` fixtures (layout `rosinality`): ops `mapping` (optional inline
//! `truncation` ψ, toward the file's `latent_avg`), `synthesis`, `styles`, `synthesis_s` (S with
//! w+ for ToRGB, or with `s_rgb`). Noise is always the checkpoint's stored maps.
use burn::prelude::Device;

use super::{Array, Fixture, Inputs, ModelRunner, Outputs};
use crate::models::stylegan2::mapping::truncate;
use crate::models::stylegan2::{Noise, SLayers, StyleGan2Config};
use crate::weights::stylegan2::{self, LoadedGenerator};
use crate::{Error, Result};

pub fn runner(fixture: &Fixture, device: &Device) -> Result<Box<dyn ModelRunner>> {
    if fixture.manifest.layout != "rosinality" {
        return Err(Error::Invalid(format!(
            "fixture {}: stylegan2 layout `{}` is not supported",
            fixture.name(),
            fixture.manifest.layout
        )));
    }
    let config: StyleGan2Config = super::config(fixture)?;
    let path = fixture.checkpoint_path()?;
    let loaded = stylegan2::load(&path, fixture.manifest.checkpoint_key.as_deref(), Some(&config), device)?;
    Ok(Box::new(Runner { loaded, device: device.clone() }))
}

struct Runner {
    loaded: LoadedGenerator,
    device: Device,
}

impl ModelRunner for Runner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        let g = &self.loaded.generator;
        let device = &self.device;
        let mut outputs = Outputs::new();
        match op {
            "mapping" => {
                let mut w = g.mapping(inputs.array("z")?.float(device)?);
                if let Ok(psi) = inputs.get("truncation") {
                    let latent_avg = self.loaded.latent_avg.clone().ok_or_else(|| {
                        Error::Invalid("truncation needs the checkpoint's `latent_avg`, which it lacks".into())
                    })?;
                    w = truncate(w, latent_avg, psi.number("truncation")?);
                }
                outputs.insert("w".into(), Array::from_float(w));
            }
            "synthesis" => {
                let image = g.synthesis(inputs.array("wplus")?.float(device)?, &Noise::Stored);
                outputs.insert("image".into(), Array::from_float(image));
            }
            "styles" => {
                let styles = g.styles(inputs.array("wplus")?.float(device)?);
                outputs.insert("s".into(), Array::from_float(styles.s()));
                outputs.insert("s_rgb".into(), Array::from_float(styles.s_rgb()));
            }
            "synthesis_s" => {
                let s = inputs.array("s")?.float(device)?;
                let image = match inputs.get("s_rgb") {
                    Ok(s_rgb) => g.synthesis_full_s(s, s_rgb.array("s_rgb")?.float(device)?, &Noise::Stored)?,
                    Err(_) => g.synthesis_s(s, inputs.array("wplus")?.float(device)?, SLayers::Conv, &Noise::Stored)?,
                };
                outputs.insert("image".into(), Array::from_float(image));
            }
            other => return Err(Error::Invalid(format!("stylegan2: unknown op `{other}`"))),
        }
        Ok(outputs)
    }
}
