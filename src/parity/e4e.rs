//! Parity runner for `e4e` fixtures: op `encode` (image → w+ with `latent_avg` added) and op
//! `invert` (image → the checkpoint's generator's synthesis of that w+, with its stored noise).
use burn::prelude::{Device, Tensor};

use super::{Array, Fixture, Inputs, ModelRunner, Outputs};
use crate::models::e4e::E4eConfig;
use crate::models::stylegan2::Noise;
use crate::weights::e4e::{E4eModel, load};
use crate::{Error, Result};

struct E4eRunner {
    model: E4eModel,
    device: Device,
}

pub fn runner(fixture: &Fixture, device: &Device) -> Result<Box<dyn ModelRunner>> {
    let config: E4eConfig = super::config(fixture)?;
    let model = load(&fixture.checkpoint_path()?, Some(&config), device)?;
    Ok(Box::new(E4eRunner { model, device: device.clone() }))
}

impl ModelRunner for E4eRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        let encode =
            || -> Result<Tensor<3>> { Ok(self.model.encoder.encode(inputs.array("image")?.float::<4>(&self.device)?)) };
        match op {
            "encode" => Ok(Outputs::from([("wplus".to_owned(), Array::from_float(encode()?))])),
            "invert" => {
                let image = self.model.decoder.synthesis(encode()?, &Noise::Stored);
                Ok(Outputs::from([("image".to_owned(), Array::from_float(image))]))
            }
            other => Err(Error::Invalid(format!("e4e: unknown op `{other}`"))),
        }
    }
}
