//! `margan::device::wgpu_adapter` reports the adapter wgpu came up on, and classifies Mesa's
//! lavapipe (the adapter CI runs on) as a software rasterizer — what keeps the trainer's
//! `--device auto` on the CPU there.
#![cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]

mod common;

use burn::tensor::Tensor;

#[test]
fn adapter_is_named_and_lavapipe_counts_as_software() {
    let Some(device) = common::gpu() else { return };
    let (same, adapter) = margan::device::wgpu_adapter().expect("wgpu came up once already");
    assert!(
        !adapter.name.is_empty() && !adapter.api.is_empty(),
        "{adapter:?}"
    );
    let shown = adapter.to_string();
    assert!(
        shown.contains(&adapter.name) && shown.contains(&adapter.kind),
        "{shown}"
    );
    // One device per process: both entry points hand out the same one.
    let a = Tensor::<1>::from_floats([1.0, 2.0], &device);
    let b = Tensor::<1>::from_floats([3.0, 4.0], &same);
    assert_eq!(margan::device::to_vec(a + b), vec![4.0, 6.0]);
    assert_eq!(
        adapter.software,
        adapter.kind == "software rasterizer",
        "{adapter:?}"
    );
    if adapter.name.contains("llvmpipe") {
        assert!(
            adapter.software,
            "lavapipe is Mesa's CPU Vulkan driver: {adapter:?}"
        );
    }
    eprintln!("wgpu adapter: {adapter}");
}
