//! Backend choice: the flex CPU backend, or wgpu when the binary is built with `--features wgpu`
//! (burn's ndarray CPU backend, with `--features ndarray`, is there to be benchmarked).
//!
//! `--device auto` takes wgpu only on a hardware adapter: a software rasterizer (Mesa's
//! lavapipe, the usual Vulkan driver on a Linux machine without a GPU) runs the same step many
//! times slower than flex, so auto trains on the CPU there and says why.

use crate::config::DeviceChoice;
use burn::tensor::Device;
use margan::device::GpuAdapter;

/// The CPU backend's name in messages and bench headers.
const CPU_NAME: &str = "cpu (flex)";

pub fn select(choice: DeviceChoice) -> Result<(Device, String), String> {
    match choice {
        DeviceChoice::Cpu => Ok((margan::device::cpu(), CPU_NAME.into())),
        DeviceChoice::Wgpu => match wgpu() {
            Some(Ok((device, adapter))) => Ok((device, wgpu_name(&adapter))),
            Some(Err(e)) => Err(format!(
                "--device wgpu: {e}; install your GPU's Vulkan driver (or Mesa's lavapipe, \
                 mesa-vulkan-drivers, for a slow software one), or use --device cpu"
            )),
            None => Err("this margan was built without GPU support; rebuild with `cargo build --release -p margan-trainer --features wgpu`, or use --device cpu".into()),
        },
        DeviceChoice::Ndarray => margan::device::ndarray().map(|d| (d, "ndarray (cpu)".into())),
        DeviceChoice::Auto => {
            let found = wgpu();
            let adapter = found.as_ref().map(|r| r.as_ref().map(|(_, a)| a));
            match (auto_choice(adapter), found) {
                (AutoChoice::Wgpu, Some(Ok((device, adapter)))) => {
                    Ok((device, wgpu_name(&adapter)))
                }
                (AutoChoice::Cpu(why), _) => Ok((
                    margan::device::cpu(),
                    match why {
                        Some(why) => format!("{CPU_NAME}; {why}"),
                        None => CPU_NAME.into(),
                    },
                )),
                (AutoChoice::Wgpu, _) => unreachable!("auto_choice picks wgpu only with an adapter"),
            }
        }
    }
}

/// What `--device auto` runs on.
#[derive(Debug, PartialEq, Eq)]
pub enum AutoChoice {
    Wgpu,
    /// The CPU, and why not wgpu (`None`: not built in, nothing to say).
    Cpu(Option<String>),
}

/// `--device auto`'s rule, given what a wgpu build found (`None`: built without wgpu).
pub fn auto_choice(found: Option<Result<&GpuAdapter, &String>>) -> AutoChoice {
    match found {
        None => AutoChoice::Cpu(None),
        Some(Err(e)) => AutoChoice::Cpu(Some(format!("wgpu: {e}"))),
        Some(Ok(a)) if a.software => AutoChoice::Cpu(Some(format!(
            "the wgpu adapter {} is a software rasterizer, slower than flex; --device wgpu uses it anyway",
            a.name
        ))),
        Some(Ok(_)) => AutoChoice::Wgpu,
    }
}

fn wgpu_name(adapter: &GpuAdapter) -> String {
    let on = |b: bool| if b { "on" } else { "off" };
    format!(
        "wgpu on {adapter}; burn autotune {}, fusion {}, f16 tensor cores: {}",
        on(margan::device::AUTOTUNE),
        on(margan::device::FUSION),
        margan::kernels::matmul::tensor_core_report()
    )
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Option<Result<(Device, GpuAdapter), String>> {
    Some(margan::device::wgpu_adapter())
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Option<Result<(Device, GpuAdapter), String>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(software: bool) -> GpuAdapter {
        GpuAdapter {
            name: if software { "llvmpipe" } else { "NVIDIA H200" }.into(),
            api: "vulkan".into(),
            kind: if software {
                "software rasterizer"
            } else {
                "discrete GPU"
            }
            .into(),
            software,
        }
    }

    #[test]
    fn auto_takes_hardware_gpus_only() {
        assert_eq!(auto_choice(Some(Ok(&adapter(false)))), AutoChoice::Wgpu);
        match auto_choice(Some(Ok(&adapter(true)))) {
            AutoChoice::Cpu(Some(why)) => {
                assert!(
                    why.contains("llvmpipe") && why.contains("software"),
                    "{why}"
                )
            }
            other => panic!("software adapter: {other:?}"),
        }
        let err = "no wgpu adapter: none found".to_string();
        match auto_choice(Some(Err(&err))) {
            AutoChoice::Cpu(Some(why)) => assert!(why.contains("none found"), "{why}"),
            other => panic!("no adapter: {other:?}"),
        }
        assert_eq!(auto_choice(None), AutoChoice::Cpu(None));
    }
}
