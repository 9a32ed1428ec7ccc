//! `deltastudio world`: the built-in domain.
use deltastudio::device::DevicePreference;
use deltastudio::weights::registry::WeightsPath;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _device: DevicePreference, _weights: &WeightsPath) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
