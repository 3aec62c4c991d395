//! Backend choice: the flex CPU backend, or wgpu when the binary is built with `--features wgpu`.

use crate::config::DeviceChoice;
use burn::tensor::Device;

pub fn select(choice: DeviceChoice) -> Result<(Device, String), String> {
    match choice {
        DeviceChoice::Cpu => Ok((margan::device::cpu(), "cpu (flex)".into())),
        DeviceChoice::Wgpu => wgpu().ok_or_else(|| {
            "this margan was built without GPU support; rebuild with `cargo build --release -p margan-trainer --features wgpu`, or use --device cpu".to_string()
        }),
        DeviceChoice::Auto => Ok(wgpu().unwrap_or_else(|| (margan::device::cpu(), "cpu (flex)".into()))),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Option<(Device, String)> {
    let on = |b: bool| if b { "on" } else { "off" };
    let name = format!(
        "wgpu (burn autotune {}, fusion {})",
        on(margan::device::AUTOTUNE),
        on(margan::device::FUSION)
    );
    margan::device::wgpu().ok().map(|d| (d, name))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Option<(Device, String)> {
    None
}
