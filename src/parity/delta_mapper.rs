//! Parity runner for `delta_mapper` fixtures: op `forward` (s, c → Δs).
use burn::prelude::Device;

use super::{Array, Fixture, Inputs, ModelRunner, Outputs};
use crate::models::delta_mapper::{DeltaMapper, DeltaMapperConfig};
use crate::weights::delta_mapper::load_delta_mapper;
use crate::{Error, Result};

struct DeltaMapperRunner {
    mapper: DeltaMapper,
    device: Device,
}

pub fn runner(fixture: &Fixture, device: &Device) -> Result<Box<dyn ModelRunner>> {
    let config: DeltaMapperConfig = super::config(fixture)?;
    let prefix = fixture.manifest.checkpoint_key.as_ref().map(|k| format!("{k}.")).unwrap_or_default();
    let (mapper, _) = load_delta_mapper(&fixture.checkpoint_path()?, &config, &prefix, device)?;
    Ok(Box::new(DeltaMapperRunner { mapper, device: device.clone() }))
}

impl ModelRunner for DeltaMapperRunner {
    fn run(&self, op: &str, inputs: &Inputs) -> Result<Outputs> {
        match op {
            "forward" => {
                let s = inputs.array("s")?.float::<2>(&self.device)?;
                let c = inputs.array("c")?.float::<2>(&self.device)?;
                Ok(Outputs::from([("delta_s".to_owned(), Array::from_float(self.mapper.forward(s, c)))]))
            }
            other => Err(Error::Invalid(format!("delta_mapper: unknown op `{other}`"))),
        }
    }
}
