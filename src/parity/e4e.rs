//! Parity runner for `e4e` fixtures: op `encode` (image → w+ with `latent_avg` added).
use burn::prelude::Device;

use super::{Array, Fixture, Inputs, ModelRunner, Outputs};
use crate::models::e4e::{E4eConfig, Encoder4Editing};
use crate::weights::e4e::load_encoder;
use crate::{Error, Result};

struct E4eRunner {
    encoder: Encoder4Editing,
    device: Device,
}

pub fn runner(fixture: &Fixture, device: &Device) -> Result<Box<dyn ModelRunner>> {
    let config: E4eConfig = super::config(fixture)?;
    let encoder = load_encoder(&fixture.checkpoint_path()?, Some(&config), device)?;
    Ok(Box::new(E4eRunner { encoder, device: device.clone() }))
}

impl ModelRunner for E4eRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        match op {
            "encode" => {
                let image = inputs.array("image")?.float::<4>(&self.device)?;
                Ok(Outputs::from([("wplus".to_owned(), Array::from_float(self.encoder.encode(image)))]))
            }
            other => Err(Error::Invalid(format!("e4e: unknown op `{other}`"))),
        }
    }
}
