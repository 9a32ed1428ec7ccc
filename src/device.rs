//! Device selection shared by every command: a hardware wgpu adapter when there is one, else
//! burn's `flex` CPU backend. Software adapters (lavapipe, llvmpipe, WARP) count as "no GPU":
//! flex is 35–80× faster than them for compute.
use burn::prelude::Device;
use burn::tensor::wgpu::{WgpuBackend, WgpuSetup, wgpu};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// A hardware GPU if there is one, else the CPU.
    #[default]
    Auto,
    /// A GPU; fails if none can be initialised (software adapters are accepted when asked for).
    Gpu,
    /// burn's pure-Rust `flex` CPU backend.
    Cpu,
}

/// The device every model of this process runs on, and why it was chosen.
pub struct SelectedDevice {
    pub device: Device,
    /// What the user sees: the GPU adapter name, or "CPU (flex)".
    pub label: String,
    /// Why this device was chosen.
    pub reason: String,
    /// The wgpu handles, so that the editor can render on the same device.
    pub wgpu_setup: Option<WgpuSetup>,
}

impl SelectedDevice {
    pub fn flex(reason: impl Into<String>) -> Self {
        SelectedDevice { device: Device::flex(), label: "CPU (flex)".into(), reason: reason.into(), wgpu_setup: None }
    }
    pub fn is_gpu(&self) -> bool {
        self.wgpu_setup.is_some()
    }
}

/// The graphics API we pin per platform: `Auto` would fall back to GL on Linux, where burn's
/// reductions panic.
fn platform_api() -> WgpuBackend {
    if cfg!(target_os = "macos") {
        WgpuBackend::Metal
    } else if cfg!(target_os = "windows") {
        WgpuBackend::Dx12
    } else {
        WgpuBackend::Vulkan
    }
}

/// Picks the device for `preference`. Only `Gpu` can fail; `Auto` always ends on a device.
pub fn select(preference: DevicePreference) -> crate::Result<SelectedDevice> {
    let selected = match preference {
        DevicePreference::Cpu => SelectedDevice::flex("CPU requested"),
        DevicePreference::Auto => match init_wgpu() {
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                if info.device_type == wgpu::DeviceType::Cpu {
                    SelectedDevice::flex(format!(
                        "the only GPU adapter, {} ({:?}), is a software renderer; flex is much faster",
                        info.name, info.backend
                    ))
                } else {
                    gpu(device, setup, "hardware GPU found")
                }
            }
            Err(reason) => SelectedDevice::flex(format!("no usable GPU: {reason}")),
        },
        DevicePreference::Gpu => match init_wgpu() {
            Ok((device, setup)) => gpu(device, setup, "GPU requested"),
            Err(reason) => return Err(crate::Error::Invalid(format!("--device gpu: no usable GPU: {reason}"))),
        },
    };
    log::info!("device: {} ({})", selected.label, selected.reason);
    Ok(selected)
}

fn init_wgpu() -> Result<(Device, WgpuSetup), String> {
    // wgpu may panic inside a broken driver; treat that as "no GPU" rather than dying.
    std::panic::catch_unwind(|| Device::wgpu_options().graphics_api(platform_api()).init_with_setup())
        .map_err(|_| "the wgpu driver panicked during initialisation".to_string())?
        .map_err(|e| e.to_string())
}

fn gpu(device: Device, setup: WgpuSetup, why: &str) -> SelectedDevice {
    let info = setup.adapter.get_info();
    SelectedDevice {
        device,
        label: format!("{} ({:?})", info.name, info.backend),
        reason: why.to_string(),
        wgpu_setup: Some(setup),
    }
}
