//! What every WGSL kernel launch here shares: the templated shader source, the workgroup grid,
//! the info buffer and output allocation.

use burn::backend::wgpu::{CubeTensor, KernelSource, SourceTemplate};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::Handle, CubeCount, ExecutionMode};
use burn_cubecl::CubeDevice;
use std::cell::RefCell;
use std::collections::HashMap;

/// Largest workgroup count in one dispatch dimension (WebGPU's guaranteed limit).
pub(crate) const MAX_GROUPS: u32 = 65_535;

/// The id of one of margan's WGSL kernels, `info` naming everything its source depends on.
///
/// Compiled in CubeCL's unchecked mode, as burn's own kernels are: in its checked mode wgpu has
/// naga put a counter and a break on every loop (`force_loop_bounding`, a guard against
/// infinite loops), which keeps drivers from unrolling and costs a few instructions per
/// iteration of a matrix product's inner loop (gfx-rs/wgpu issue 7698 measured 100× on one
/// pipeline). Every loop here has a bound known at launch, and every shader checks its own
/// indices, so the guard buys nothing.
pub(crate) fn kernel_id<T: 'static, I>(info: I) -> KernelId
where
    I: 'static + PartialEq + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync,
{
    KernelId::new::<T>()
        .info(info)
        .mode(ExecutionMode::Unchecked)
}

/// A WGSL shader under `shaders/`, templated with its workgroup size (`{{ workgroup_size }}`).
pub(crate) struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    pub workgroup: u32,
}

impl KernelSource for Shader {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(self.source).register("workgroup_size", self.workgroup.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self, _>((self.name, self.workgroup))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `groups` workgroups laid out as x (≤ 65535) × y; shaders index `x + y · num_x`.
pub(crate) fn cube_count(groups: u32) -> CubeCount {
    let x = groups.clamp(1, MAX_GROUPS);
    CubeCount::Static(x, groups.div_ceil(x).max(1), 1)
}

/// Little-endian bytes of the `u32`s a shader reads from its info buffer.
pub(crate) fn info_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Info buffers kept per thread and device (each thread is its own stream of work for
/// CubeCL); past this many the device's cache starts over.
const INFO_KEPT: usize = 2048;

thread_local! {
    static INFO: RefCell<HashMap<CubeDevice, HashMap<Vec<u32>, Handle>>> =
        RefCell::new(HashMap::new());
}

/// A device buffer holding `values`, for a shader's read-only info binding: uploaded the first
/// time these values come by on `t`'s device and reused after (a lookup that allocates
/// nothing). A training run launches the same shapes every iteration, and each upload costs
/// the host a staging write and an allocation per launch (for values that change every launch,
/// such as Adam's step, use `create_from_slice` directly).
pub(crate) fn info_buffer(t: &CubeTensor, values: &[u32]) -> Handle {
    INFO.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(h) = cache.get(&t.device).and_then(|c| c.get(values)) {
            return h.clone();
        }
        let kept = cache.entry(t.device.clone()).or_default();
        if kept.len() >= INFO_KEPT {
            kept.clear();
        }
        let h = t.client.create_from_slice(&info_bytes(values));
        kept.insert(values.to_vec(), h.clone());
        h
    })
}

/// An uninitialised contiguous f32 tensor of `shape` on `t`'s device.
pub(crate) fn empty_like(t: &CubeTensor, shape: Shape) -> CubeTensor {
    let handle = t.client.empty(shape.num_elements() * DType::F32.size());
    CubeTensor::new_contiguous(
        t.client.clone(),
        t.device.clone(),
        shape,
        handle,
        DType::F32,
    )
}

/// Where a view of `len` f32 may start in a buffer laid out for views (a tensor that is a view
/// into another must start at a multiple of the device's offset alignment): `len` rounded up.
pub(crate) fn aligned_len(t: &CubeTensor, len: usize) -> usize {
    let align = (t.client.properties().memory.alignment as usize / DType::F32.size()).max(1);
    len.next_multiple_of(align)
}

/// The `len` values of the contiguous f32 tensor `t` from `start` (a multiple of
/// [`aligned_len`]'s alignment) as a tensor of their own that shares `t`'s memory, bound as
/// exactly that range (so that two such views of one buffer never overlap in a dispatch).
pub(crate) fn view_1d(t: &CubeTensor, start: usize, len: usize) -> CubeTensor {
    let size = DType::F32.size() as u64;
    let total = t.meta.shape().num_elements();
    assert!(
        start + len <= total,
        "view {start}..{} of {total} values",
        start + len
    );
    let handle = t
        .handle
        .clone()
        .offset_start(start as u64 * size)
        .offset_end((total - start - len) as u64 * size);
    CubeTensor::new_contiguous(
        t.client.clone(),
        t.device.clone(),
        Shape::new([len]),
        handle,
        DType::F32,
    )
}

/// Strides for an output of `t`'s shape whose dimensions lie in memory in the order `t`'s do
/// (by decreasing stride), with no gaps: `t`'s own strides where `t` is dense (NCHW, or the
/// channel-major `[N, C, H, W]` views a GEMM convolution hands out), the same order packed
/// where `t` is a slice of such a tensor (one group's rows of a critic pass over several
/// batches), contiguous where `t` broadcasts. An elementwise kernel writing its output in its
/// input's order keeps reads and writes coalesced alike, and a channel-major activation stays
/// channel-major through BatchNorm and the activation, and so do their gradients: the next
/// GEMM convolution then takes its `[C, N·H·W]` operand as a view instead of a copy.
pub(crate) fn layout_of(t: &CubeTensor) -> Vec<usize> {
    let (dims, strides) = (t.meta.shape(), t.meta.strides());
    let rank = dims.num_dims();
    packed_strides(&dims[..rank], &strides[..rank])
}

/// [`layout_of`] for a view of sizes `dims` and strides `strides`.
fn packed_strides(dims: &[usize], strides: &[usize]) -> Vec<usize> {
    let rank = dims.len();
    let mut order: Vec<usize> = (0..rank).collect();
    if (0..rank).all(|d| dims[d] == 1 || strides[d] > 0) {
        // Innermost first: increasing stride, the later dimension first among equals.
        order.sort_by_key(|&d| (strides[d], std::cmp::Reverse(d)));
    } else {
        order.reverse();
    }
    let mut out = vec![0; rank];
    let mut next = 1;
    for d in order {
        out[d] = next;
        next *= dims[d];
    }
    out
}

/// An uninitialised f32 tensor of `t`'s shape in [`layout_of`]`(t)`.
pub(crate) fn empty_in_layout_of(t: &CubeTensor) -> CubeTensor {
    empty_with_strides(t, &layout_of(t))
}

/// An uninitialised f32 tensor of `t`'s shape on its device, with `strides` (a dense layout
/// of that shape, such as [`layout_of`] gives).
pub(crate) fn empty_with_strides(t: &CubeTensor, strides: &[usize]) -> CubeTensor {
    let mut out = empty_like(t, t.meta.shape().clone());
    *out.meta.strides_mut() = strides.iter().copied().collect();
    out
}

/// Whether two tensors live in the same memory. WebGPU refuses a dispatch that binds one buffer
/// range twice as writable storage (and CubeCL declares every binding writable).
pub(crate) fn same_memory(a: &CubeTensor, b: &CubeTensor) -> bool {
    a.handle.memory.descriptor().id == b.handle.memory.descriptor().id
}

/// `t`, or a copy of it where it shares memory with one of `others` (one extra launch, only
/// then), so that a kernel can bind them side by side.
pub(crate) fn unaliased(t: CubeTensor, others: &[&CubeTensor]) -> CubeTensor {
    if others.iter().any(|o| same_memory(&t, o)) {
        t.copy()
    } else {
        t
    }
}

/// A tensor of rank ≤ 4 as its shape and strides (in elements) padded in front to rank 4 with
/// size 1, stride 0: what the shaders that read a strided view take in their info buffer.
pub(crate) fn shape_strides4(t: &CubeTensor, what: &str) -> ([u32; 4], [u32; 4]) {
    let (dims, strides) = (t.meta.shape(), t.meta.strides());
    let pad = 4 - dims.num_dims();
    let mut out = ([1; 4], [0; 4]);
    for d in pad..4 {
        out.0[d] = dims[d - pad] as u32;
        out.1[d] = u32::try_from(strides[d - pad])
            .unwrap_or_else(|_| panic!("{what}: stride exceeds u32"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::packed_strides;

    #[test]
    fn packed_strides_follow_the_view() {
        // NCHW and a GEMM convolution's channel-major view of [C, N, H, W] keep their strides.
        assert_eq!(
            packed_strides(&[2, 3, 4, 5], &[60, 20, 5, 1]),
            [60, 20, 5, 1]
        );
        assert_eq!(
            packed_strides(&[2, 3, 4, 5], &[20, 40, 5, 1]),
            [20, 40, 5, 1]
        );
        // Rows 1..3 of a channel-major [N = 4, ...] tensor: channel-major, packed.
        assert_eq!(
            packed_strides(&[2, 3, 4, 5], &[20, 80, 5, 1]),
            [20, 40, 5, 1]
        );
        // NHWC viewed as NCHW.
        assert_eq!(
            packed_strides(&[2, 3, 4, 5], &[60, 1, 15, 3]),
            [60, 1, 15, 3]
        );
        // A broadcast gets contiguous NCHW.
        assert_eq!(
            packed_strides(&[2, 3, 4, 5], &[0, 20, 5, 1]),
            [60, 20, 5, 1]
        );
        // Size-1 dimensions, whatever their strides, take no room.
        assert_eq!(packed_strides(&[4, 3, 1, 1], &[1, 4, 1, 1]), [1, 4, 1, 1]);
        assert_eq!(packed_strides(&[4, 1, 2, 2], &[4, 1, 2, 1]), [4, 2, 2, 1]);
    }
}
