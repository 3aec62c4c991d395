//! The optional f16 tensor-core product (`shaders/tc_matmul.wgsl`): wgpu's cooperative
//! matrices, 16×16×16 with f16 operands and f32 accumulators, where the adapter offers them
//! (NVIDIA's Vulkan driver does, through VK_KHR_cooperative_matrix) and subgroups are 32 wide.
//! Never picked unless asked for ([`super::matmul::MatmulTuning::MeasureF16`] or `Fixed`):
//! rounding the operands to f16 changes the numbers.

use super::matmul_cube::launch_blocked;
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use std::sync::atomic::{AtomicBool, Ordering};

static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Whether the wgpu device margan set up (`margan::device::wgpu`) offers the product.
pub(crate) fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

/// Records what the adapter and device offer (called once, when the device is set up):
/// cooperative matrices, f16 and subgroup built-ins enabled on the device, a 16×16×16 f16 × f16
/// → f32 configuration, and subgroups of exactly 32 invocations.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn detect(
    adapter: &burn::tensor::wgpu::wgpu::Adapter,
    device: &burn::tensor::wgpu::wgpu::Device,
) {
    use burn::tensor::wgpu::wgpu::{CooperativeScalarType as T, Features};
    let features = device.features();
    let info = adapter.get_info();
    let ok = features.contains(
        Features::EXPERIMENTAL_COOPERATIVE_MATRIX | Features::SHADER_F16 | Features::SUBGROUP,
    ) && adapter.cooperative_matrix_properties().iter().any(|p| {
        (p.m_size, p.n_size, p.k_size) == (16, 16, 16) && p.ab_type == T::F16 && p.cr_type == T::F32
    }) && info.subgroup_min_size == 32
        && info.subgroup_max_size == 32;
    AVAILABLE.store(ok, Ordering::Relaxed);
}

/// `shaders/tc_matmul.wgsl` for one layout of the operands.
pub(crate) struct TcShader {
    pub a_kfast: bool,
    pub b_nfast: bool,
}

impl KernelSource for TcShader {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("../../shaders/tc_matmul.wgsl"))
            .register("a_kfast", self.a_kfast.to_string())
            .register("b_nfast", self.b_nfast.to_string())
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>(("tc_matmul", self.a_kfast, self.b_nfast))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Rows and columns of C per workgroup.
pub(crate) const BLOCK: usize = 64;

/// `a · b` on tensor cores (and the split sum when K is split).
///
/// # Panics
/// When the device does not offer the product ([`available`]).
pub(crate) fn launch(a: CubeTensor, b: CubeTensor) -> CubeTensor {
    assert!(
        available(),
        "f16 tensor-core products need a wgpu adapter with 16×16×16 f16 cooperative matrices and \
         32-wide subgroups (an NVIDIA GPU through Vulkan), set up by margan::device::wgpu; this \
         one has none: use the f32 products (MatmulTuning::Measure)"
    );
    launch_blocked(a, b, [BLOCK, BLOCK], 128, |a_kfast, b_nfast| TcShader {
        a_kfast,
        b_nfast,
    })
}

/// The shader's complete WGSL for one layout (tests validate it with naga on machines whose
/// adapter has no cooperative matrices).
pub fn wgsl(a_kfast: bool, b_nfast: bool) -> String {
    TcShader { a_kfast, b_nfast }.source().complete()
}
