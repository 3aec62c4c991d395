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

/// burn's ndarray CPU backend with autodiff (feature `ndarray`; native only), or why not.
/// Kept for comparison: flex, [`cpu`], is the faster CPU backend (`margan bench --device
/// cpu,ndarray` measures both).
pub fn ndarray() -> Result<Device, String> {
    #[cfg(all(feature = "ndarray", not(target_arch = "wasm32")))]
    {
        #[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of flex
        Ok(Device::ndarray().autodiff())
    }
    #[cfg(not(all(feature = "ndarray", not(target_arch = "wasm32"))))]
    {
        Err(
            "this build has no ndarray backend; rebuild with `--features ndarray` \
             (margan-trainer) or use the flex CPU backend"
                .into(),
        )
    }
}

/// Whether `device` is burn's ndarray backend (always false without the `ndarray` feature).
pub fn is_ndarray(device: &Device) -> bool {
    #[cfg(all(feature = "ndarray", not(target_arch = "wasm32")))]
    {
        matches!(
            device.as_dispatch().clone().inner(),
            burn::backend::DispatchDevice::NdArray(_)
        )
    }
    #[cfg(not(all(feature = "ndarray", not(target_arch = "wasm32"))))]
    {
        let _ = device;
        false
    }
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

/// The adapter wgpu runs on: what the trainer prints, and how `--device auto` tells a real GPU
/// from a software rasterizer (Mesa's lavapipe, SwiftShader, WARP), which runs compute shaders
/// on the CPU many times slower than the flex backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuAdapter {
    /// The adapter's name, e.g. "NVIDIA H200" or "llvmpipe (LLVM 19.1.7, 256 bits)".
    pub name: String,
    /// The graphics API, e.g. "vulkan", "metal".
    pub api: String,
    /// The adapter's kind as wgpu reports it: "discrete GPU", "integrated GPU",
    /// "virtual GPU", "software rasterizer" or "other".
    pub kind: String,
    /// wgpu reports the adapter as a CPU implementation (a software rasterizer).
    pub software: bool,
}

impl std::fmt::Display for GpuAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.kind, self.api)
    }
}

/// The wgpu backend (Vulkan/Metal/DX12 natively) with autodiff, or why it is unavailable.
/// Initialised once per process; later calls return the same device (or the same error).
#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
pub fn wgpu() -> Result<Device, String> {
    wgpu_adapter().map(|(device, _)| device)
}

/// [`wgpu`] with the adapter it came up on.
#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
pub fn wgpu_adapter() -> Result<(Device, GpuAdapter), String> {
    use burn::tensor::wgpu::wgpu::DeviceType;
    static DEVICE: std::sync::OnceLock<Result<(Device, GpuAdapter), String>> =
        std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let (device, setup) = Device::wgpu_options()
                .init_with_setup()
                .map_err(|e| format!("no wgpu adapter: {e}"))?;
            let info = setup.adapter.get_info();
            crate::kernels::matmul::detect_tensor_cores(&setup.adapter, &setup.device);
            let kind = match info.device_type {
                DeviceType::DiscreteGpu => "discrete GPU",
                DeviceType::IntegratedGpu => "integrated GPU",
                DeviceType::VirtualGpu => "virtual GPU",
                DeviceType::Cpu => "software rasterizer",
                DeviceType::Other => "other",
            };
            let adapter = GpuAdapter {
                name: info.name.clone(),
                api: format!("{:?}", info.backend).to_lowercase(),
                kind: kind.into(),
                software: info.device_type == DeviceType::Cpu,
            };
            Ok((device.autodiff(), adapter))
        })
        .clone()
}
