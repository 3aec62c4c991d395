//! The f16×3 variants of the tensor-core product ([`super::matmul::TcVariant::split`]): f32's
//! precision on f16 tensor cores. Each operand is scaled by a power of two that brings its
//! largest magnitude just under 2¹⁵ and staged as two f16 parts, `h` (x rounded to what f16
//! keeps of it) and `l = f16((x − h)·2¹¹)` — 22 significant bits between them, f32 has 24 — and
//! `C = (AₕBₕ + 2⁻¹¹(AₕB_l + A_lBₕ)) / (scales)`, the two sums in f32 accumulators (the
//! `A_lB_l` term is 2⁻²² of C). The scaling keeps small operands (a gradient of 10⁻⁸) out of
//! f16's subnormals, where the plain f16 kernel loses them, and large ones below its 65504.
//! A launch of its own (`shaders/operand_scale.wgsl`) finds each operand's largest magnitude,
//! one partial maximum per workgroup; the product's workgroups reduce those
//! (`shaders/tc_split.wgsl`).

use super::launch::{empty_like, info_buffer};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::tensor::Shape;
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments, CubeCount};

/// Workgroups of the maxima's launch (each writes one partial maximum per operand).
pub(crate) const SCALE_GROUPS: u32 = 256;
const SCALE_WORKGROUP: u32 = 256;

struct ScaleShader;

impl KernelSource for ScaleShader {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("../../shaders/operand_scale.wgsl"))
            .register("groups", SCALE_GROUPS.to_string())
            .register("workgroup_size", SCALE_WORKGROUP.to_string())
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>(("operand_scale", SCALE_GROUPS, SCALE_WORKGROUP))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// The largest magnitudes of `a [m, k]` and `b [k, n]` (any strides), as
/// [`SCALE_GROUPS`] partial maxima of each (f32 bit patterns): A's, then B's.
pub(crate) fn operand_maxima(a: &CubeTensor, b: &CubeTensor) -> CubeTensor {
    let (sa, sb) = (a.meta.shape(), b.meta.shape());
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    let [sa_m, sa_k] = super::matmul_cube::strides(a);
    let [sb_k, sb_n] = super::matmul_cube::strides(b);
    let out = empty_like(a, Shape::new([2 * SCALE_GROUPS as usize]));
    let info = [m, k, sa_m, sa_k, n, sb_k, sb_n].map(|v| {
        u32::try_from(v).unwrap_or_else(|_| panic!("f16x3 product: size {v} exceeds u32"))
    });
    let info = info_buffer(a, &info);
    a.client.launch(
        Box::new(SourceKernel::new(
            ScaleShader,
            CubeDim::new_1d(SCALE_WORKGROUP),
        )),
        CubeCount::Static(SCALE_GROUPS, 1, 1),
        KernelArguments::new().with_buffers(vec![
            a.handle.clone().binding(),
            b.handle.clone().binding(),
            out.handle.clone().binding(),
            info.binding(),
        ]),
    );
    out
}

/// `tc_matmul.wgsl`'s `split_decl`: the f16×3 bindings, staging and scaling
/// (`shaders/tc_split.wgsl`, for staging arrays of `a_len` and `b_len` values and workgroups of
/// `invocations`), or, for the plain f16 kernel, the stores that round to f16.
pub(crate) fn declarations(split: bool, [a_len, b_len]: [u32; 2], invocations: u32) -> String {
    if !split {
        return "fn put_a(i: u32, v: f32) {\n    a_s[i] = f16(v);\n}\n\n\
                fn put_b(i: u32, v: f32) {\n    b_s[i] = f16(v);\n}\n"
            .into();
    }
    include_str!("../../shaders/tc_split.wgsl")
        .replace("{{ scale_groups }}", &SCALE_GROUPS.to_string())
        .replace("{{ a_len }}", &a_len.to_string())
        .replace("{{ b_len }}", &b_len.to_string())
        .replace("{{ invocations }}", &invocations.to_string())
}

/// Workgroup memory the f16×3 staging adds: the low parts (f16, as many as the high ones).
pub(crate) fn extra_shared_bytes(split: bool, [a_len, b_len]: [u32; 2]) -> u32 {
    if split {
        2 * (a_len + b_len)
    } else {
        0
    }
}
