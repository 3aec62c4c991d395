//! Device helpers: which backend to run on, and reading tensors back to the host.

use burn::tensor::{Device, Tensor};

/// Whether burn's autotune is compiled in (feature `autotune`): wgpu matmuls and burn's own
/// convolutions pick the fastest candidate kernel per shape, timed on first use.
pub const AUTOTUNE: bool = cfg!(feature = "autotune");

/// Whether burn's operation fusion is compiled in (experimental feature `fusion`).
pub const FUSION: bool = cfg!(feature = "fusion");

/// The portable CPU backend with autodiff (works natively and in wasm32).
pub fn cpu() -> Device {
    Device::flex().autodiff()
}

/// Copies a tensor's values to the host as `f32` (synchronous; native only on WebGPU).
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("tensor data converts to f32")
}

/// Copies a tensor's values to the host as `f32`, asynchronously (works on every backend,
/// including WebGPU in the browser, where synchronous reads are impossible).
pub async fn to_vec_async<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async()
        .await
        .expect("tensor data reads back")
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("tensor data converts to f32")
}

/// Reads a one-element tensor as `f64` (at the tensor's own precision).
pub fn scalar<const D: usize>(t: Tensor<D>) -> f64 {
    let v = t
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("tensor data converts to f64");
    debug_assert_eq!(v.len(), 1, "scalar() on a tensor with {} elements", v.len());
    v[0]
}

/// The wgpu backend (Vulkan/Metal/DX12 natively) with autodiff, or why it is unavailable.
/// Initialised once per process; later calls return the same device (or the same error).
#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
pub fn wgpu() -> Result<Device, String> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options()
                .init()
                .map(Device::autodiff)
                .map_err(|e| format!("no wgpu adapter: {e}"))
        })
        .clone()
}
