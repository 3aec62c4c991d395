//! The ReLU / LeakyReLU extension's WGSL launch on the CubeCL (wgpu) backend (the trait and its
//! autodiff: `leaky_scale_ops.rs`), and the same kernel with tanh's derivative as its factor.

use super::launch::{
    cube_count, empty_in_layout_of, info_buffer, same_memory, shape_strides4, unaliased,
};
use super::leaky_scale_ops::LeakyScaleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::tensor::DType;
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments};

/// Invocations per workgroup (one element each).
const WORKGROUP: u32 = 256;

/// The factor `t` is scaled by, a function of `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Factor {
    /// `x > 0 ? 1 : slope` (ReLU / LeakyReLU), the slope's f32 bits read from the info buffer.
    Leaky,
    /// `1 − x²`: tanh's derivative from its output `x`.
    TanhDerivative,
}

/// `shaders/leaky_scale.wgsl` with `factor`, for the forward (`t` is `x`, bound once) or with its
/// own `t`.
struct LeakyShader {
    forward: bool,
    factor: Factor,
}

impl KernelSource for LeakyShader {
    fn source(&self) -> SourceTemplate {
        let factor = match self.factor {
            Factor::Leaky => "select(slope, 1.0, xv > 0.0)",
            Factor::TanhDerivative => "(1.0 - xv * xv)",
        };
        let t = SourceTemplate::new(include_str!("../../shaders/leaky_scale.wgsl"))
            .register("workgroup_size", WORKGROUP.to_string())
            .register("factor", factor);
        if self.forward {
            t.register("t_binding", "")
                .register("out_binding", "1")
                .register("info_binding", "2")
                .register("t_value", "xv")
        } else {
            t.register(
                "t_binding",
                "@group(0) @binding(1) var<storage, read_write> t: array<f32>;",
            )
            .register("out_binding", "2")
            .register("info_binding", "3")
            .register(
                "t_value",
                "t[i0 * info[10] + i1 * info[11] + i2 * info[12] + i3 * info[13]]",
            )
        }
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>(("leaky_scale", WORKGROUP, self.forward, self.factor))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

impl LeakyScaleOps for CubeBackend {
    fn leaky_scale(x: FloatTensor<Self>, t: FloatTensor<Self>, slope: u32) -> FloatTensor<Self> {
        scale(x, t, Factor::Leaky, slope)
    }
}

/// `t · factor(x)` in one launch (`slope`: the LeakyReLU slope's f32 bits, or unused), written in
/// `x`'s order of dimensions.
pub(super) fn scale(x: CubeTensor, t: CubeTensor, factor: Factor, slope: u32) -> CubeTensor {
    for v in [&x, &t] {
        assert_eq!(v.dtype, DType::F32, "the leaky_scale kernel is f32 only");
    }
    assert_eq!(
        x.meta.shape(),
        t.meta.shape(),
        "leaky_scale: x and t have different shapes"
    );
    // Views of rank ≤ 4 are read through their strides; higher ranks are copied first.
    let [x, t] = [x, t].map(|v| {
        if v.meta.shape().num_dims() <= 4 {
            v
        } else {
            into_contiguous(v)
        }
    });
    let n = t.meta.shape().num_elements();
    assert!(
        n < u32::MAX as usize,
        "leaky_scale: {n} elements exceed u32 indexing"
    );
    let (dims, xs) = shape_strides4(&x, "leaky_scale");
    let (_, ts) = shape_strides4(&t, "leaky_scale");
    // The forward passes x as t: bind it once. (Another t in x's memory is copied.)
    let forward = same_memory(&x, &t) && xs == ts && x.handle.offset_start == t.handle.offset_start;
    let t = if forward { t } else { unaliased(t, &[&x]) };
    // The output in x's order of dimensions: the activation of a channel-major
    // convolution output stays channel-major, and its gradient follows the activation.
    let out = empty_in_layout_of(&x);
    let (_, os) = shape_strides4(&out, "leaky_scale");
    let mut info = vec![n as u32, slope];
    info.extend(dims);
    info.extend(xs);
    info.extend(ts);
    info.extend(os);
    let info = info_buffer(&t, &info);
    let mut buffers = vec![x.handle.clone().binding()];
    if !forward {
        buffers.push(t.handle.clone().binding());
    }
    buffers.extend([out.handle.clone().binding(), info.binding()]);
    t.client.launch(
        Box::new(SourceKernel::new(
            LeakyShader { forward, factor },
            CubeDim::new_1d(WORKGROUP),
        )),
        cube_count((n as u32).div_ceil(WORKGROUP)),
        KernelArguments::new().with_buffers(buffers),
    );
    out
}
