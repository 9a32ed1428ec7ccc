//! Parity runner for `e4e` fixtures.
use burn::prelude::Device;

use super::{Fixture, ModelRunner};
use crate::{Error, Result};

pub fn runner(fixture: &Fixture, _device: &Device) -> Result<Box<dyn ModelRunner>> {
    Err(Error::Invalid(format!("fixture {}: model `e4e` is not implemented yet", fixture.name())))
}
