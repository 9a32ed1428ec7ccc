//! Parity runner for `clip` fixtures.
use burn::prelude::Device;

use super::{Fixture, ModelRunner};
use crate::{Error, Result};

pub fn runner(fixture: &Fixture, _device: &Device) -> Result<Box<dyn ModelRunner>> {
    Err(Error::Invalid(format!("fixture {}: model `clip` is not implemented yet", fixture.name())))
}
