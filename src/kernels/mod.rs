//! Hand-written GPU kernels and their plain-tensor references.
//!
//! Each kernel is a WGSL compute shader under `shaders/`, launched through burn's `template`
//! feature as a backend extension (the differentiable ones with a hand-written autodiff
//! backward; the Adam step is not differentiated). The Adam step, the ReLU / LeakyReLU op,
//! BatchNorm and the patch ops also run as loops on the flex CPU backend (`*_flex.rs`). The
//! public functions here take high-level tensors; where neither runs (burn's ndarray backend,
//! f64 tensors) callers use the `*_reference` composition instead.

pub mod adam;
pub mod batch_norm;
pub mod batch_norm_act;
pub mod critic_batch;
pub mod leaky_scale;
pub mod matmul;
pub mod mean_terms;
pub mod patches;
pub mod product_flex;
pub mod row_norm;
pub mod tanh;

#[cfg(feature = "wgpu")]
mod adam_cube;
mod adam_flex;
mod adam_ops;
#[cfg(feature = "wgpu")]
mod adapter;
mod batch_norm_autodiff;
#[cfg(feature = "wgpu")]
mod batch_norm_cube;
mod batch_norm_flex;
mod batch_norm_ops;
#[cfg(feature = "wgpu")]
mod batch_norm_plan;
#[cfg(feature = "wgpu")]
mod critic_batch_cube;
mod flex;
#[cfg(test)]
mod flex_layouts;
#[cfg(feature = "wgpu")]
mod launch;
#[cfg(feature = "wgpu")]
mod leaky_scale_cube;
mod leaky_scale_flex;
mod leaky_scale_ops;
#[cfg(feature = "wgpu")]
mod matmul_cube;
#[cfg(feature = "wgpu")]
mod matmul_shader;
#[cfg(feature = "wgpu")]
mod matmul_split;
#[cfg(feature = "wgpu")]
mod matmul_tc;
#[cfg(feature = "wgpu")]
mod matmul_tune;
mod matmul_variant;
#[cfg(feature = "wgpu")]
mod mean_terms_autodiff;
#[cfg(feature = "wgpu")]
mod mean_terms_cube;
mod patches_autodiff;
#[cfg(feature = "wgpu")]
mod patches_cube;
mod patches_flex;
mod patches_ops;
#[cfg(feature = "wgpu")]
mod row_norm_autodiff;
#[cfg(feature = "wgpu")]
mod row_norm_cube;
#[cfg(feature = "wgpu")]
mod tanh_cube;

use burn::tensor::Device;

/// Whether `device` runs on the wgpu (CubeCL) backend, where the WGSL kernels are available.
pub fn has_kernels(device: &Device) -> bool {
    #[cfg(feature = "wgpu")]
    {
        matches!(
            device.as_dispatch().clone().inner(),
            burn::backend::DispatchDevice::Cube(_)
        )
    }
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = device;
        false
    }
}

/// Whether `device` runs on burn's flex CPU backend, where some ops have a one-loop
/// implementation (`*_flex.rs`).
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        burn::backend::DispatchDevice::Flex(_)
    )
}

/// Whether the ops with a flex implementation (ReLU / LeakyReLU, BatchNorm) take `t`: f32 on
/// wgpu (the WGSL kernels) or on flex (loops). Elsewhere, and for other float types, the
/// plain-tensor references run.
pub fn runs_f32_ops<const D: usize>(t: &burn::tensor::Tensor<D>) -> bool {
    let device = t.device();
    t.dtype() == burn::tensor::DType::F32 && (has_kernels(&device) || is_flex(&device))
}

/// Whether the WGSL kernels take `t`: an f32 tensor on the wgpu backend (elsewhere, and for other
/// float types, the plain-tensor references run).
pub fn runs_f32_kernels<const D: usize>(t: &burn::tensor::Tensor<D>) -> bool {
    t.dtype() == burn::tensor::DType::F32 && has_kernels(&t.device())
}
