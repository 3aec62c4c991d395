//! The optional f16 tensor-core product (`shaders/tc_matmul.wgsl`): wgpu's cooperative
//! matrices, 16×16×16 with f16 operands and f32 accumulators, where the adapter offers them
//! (NVIDIA's Vulkan driver does, through VK_KHR_cooperative_matrix) and subgroups are 32 wide.
//! Never picked unless asked for ([`super::matmul::MatmulTuning::MeasureF16`] or `Fixed`):
//! rounding the operands to f16 changes the numbers.

use super::launch::{empty_like, info_bytes, unaliased};
use super::matmul::split_k_blocks;
use super::matmul_cube::{split_sum, strides};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments, CubeCount};
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
    let (sa, sb) = (a.meta.shape().clone(), b.meta.shape().clone());
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    let b = unaliased(b, &[&a]);
    let [sa_m, sa_k] = strides(&a);
    let [sb_k, sb_n] = strides(&b);
    let (ranges, range) = split_k_blocks(m, n, k, BLOCK, BLOCK);
    assert!(
        m.div_ceil(BLOCK) <= 65_535 && n.div_ceil(BLOCK) <= 65_535,
        "tensor-core matmul: [{m}, {n}] has more blocks than one dispatch takes"
    );
    let partial = empty_like(&a, Shape::new([ranges * m, n]));
    let info = [m, n, k, sa_m, sa_k, sb_k, sb_n, range].map(|v| {
        u32::try_from(v).unwrap_or_else(|_| panic!("tensor-core matmul: size {v} exceeds u32"))
    });
    let info = a.client.create_from_slice(&info_bytes(&info));
    a.client.launch(
        Box::new(SourceKernel::new(
            TcShader {
                a_kfast: sa_k == 1,
                b_nfast: sb_n == 1,
            },
            CubeDim::new_1d(128),
        )),
        CubeCount::Static(
            n.div_ceil(BLOCK) as u32,
            m.div_ceil(BLOCK) as u32,
            ranges as u32,
        ),
        KernelArguments::new().with_buffers(vec![
            a.handle.clone().binding(),
            b.handle.clone().binding(),
            partial.handle.clone().binding(),
            info.binding(),
        ]),
    );
    if ranges == 1 {
        return CubeTensor::new_contiguous(
            partial.client,
            partial.device,
            Shape::new([m, n]),
            partial.handle,
            DType::F32,
        );
    }
    split_sum(&a, partial, m, n, ranges)
}

/// The shader's complete WGSL for one layout (tests validate it with naga on machines whose
/// adapter has no cooperative matrices).
pub fn wgsl(a_kfast: bool, b_nfast: bool) -> String {
    TcShader { a_kfast, b_nfast }.source().complete()
}
