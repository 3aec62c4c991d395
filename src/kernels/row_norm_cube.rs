//! The row-norm backend extension and its WGSL launch on the CubeCL (wgpu) backend.

use super::launch::{cube_count, empty_like, info_buffer, Shader, MAX_GROUPS};
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeDim, CubeTensor, SourceKernel};
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{server::KernelArguments, CubeCount};

/// Backend extension: the per-row L∞ / L1 norm and its vector-Jacobian product.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait RowNormOps: burn::backend::Backend {
    /// `g: [rows, cols]` or `[N, C, H, W]` (a row per sample, its values in C, H, W order) →
    /// `(norms [rows], argmax [rows] as f32)`; `mode` 0 = L∞, 1 = L1.
    #[fusion(meta = |g: &burn::backend::fusion::custom::TensorSpec, _mode: &u32| {
        let spec = burn::backend::fusion::custom::TensorSpec::new(Shape::new([g.shape[0]]), g.dtype);
        (spec.clone(), spec)
    })]
    fn row_norm_forward(g: FloatTensor<Self>, mode: u32) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `dg[r, i] = up[r] · sign(g[r, i])` at `i = argmax[r]` (L∞) or everywhere (L1).
    #[fusion(dtype = g, shape = g)]
    fn row_norm_backward(
        g: FloatTensor<Self>,
        argmax: FloatTensor<Self>,
        up: FloatTensor<Self>,
        mode: u32,
    ) -> FloatTensor<Self>;
}

/// Invocations per workgroup of both shaders (64 measured fastest of 64/128/256 on lavapipe).
const WORKGROUP: u32 = 64;

const FORWARD: Shader = Shader {
    name: "row_norm_forward",
    source: include_str!("../../shaders/row_norm_forward.wgsl"),
    workgroup: WORKGROUP,
};
const BACKWARD: Shader = Shader {
    name: "row_norm_backward",
    source: include_str!("../../shaders/row_norm_backward.wgsl"),
    workgroup: WORKGROUP,
};

/// `(rows, cols, info)` of `g`: `[rows, cols]` or `[N, C, H, W]` (a row per sample), any
/// strides; `info` as the shaders read it.
fn layout(g: &CubeTensor, mode: u32) -> (usize, usize, Vec<u32>) {
    assert_eq!(g.dtype, DType::F32, "the row-norm kernel is f32 only");
    let (dims, strides) = (g.meta.shape(), g.meta.strides());
    let (d, s) = match dims.num_dims() {
        2 => ([1, 1, dims[1]], [strides[0], 0, 0, strides[1]]),
        4 => (
            [dims[1], dims[2], dims[3]],
            [strides[0], strides[1], strides[2], strides[3]],
        ),
        r => panic!("row norm expects [rows, cols] or [N, C, H, W], got rank {r}"),
    };
    let (rows, cols) = (dims[0], d.iter().product::<usize>());
    let u = |v: usize| u32::try_from(v).expect("row norm: sizes and strides must fit u32");
    let mut info = vec![u(rows), u(cols), mode];
    info.extend(d.map(u));
    info.extend(s.map(u));
    (rows, cols, info)
}

impl RowNormOps for CubeBackend {
    fn row_norm_forward(g: FloatTensor<Self>, mode: u32) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (rows, _, info) = layout(&g, mode);
        let norms = empty_like(&g, Shape::new([rows]));
        let argmax = empty_like(&g, Shape::new([rows]));
        let info = info_buffer(&g, &info);
        g.client.launch(
            Box::new(SourceKernel::new(FORWARD, CubeDim::new_1d(WORKGROUP))),
            cube_count(rows as u32),
            KernelArguments::new().with_buffers(vec![
                g.handle.clone().binding(),
                norms.handle.clone().binding(),
                argmax.handle.clone().binding(),
                info.binding(),
            ]),
        );
        (norms, argmax)
    }

    fn row_norm_backward(
        g: FloatTensor<Self>,
        argmax: FloatTensor<Self>,
        up: FloatTensor<Self>,
        mode: u32,
    ) -> FloatTensor<Self> {
        let argmax = into_contiguous(argmax);
        let up = into_contiguous(up);
        let (rows, cols, info) = layout(&g, mode);
        // Contiguous, in g's shape.
        let dg = empty_like(&g, g.meta.shape().clone());
        let info = info_buffer(&g, &info);
        let rows = rows as u32;
        let (y, z) = (rows.clamp(1, MAX_GROUPS), rows.div_ceil(MAX_GROUPS).max(1));
        g.client.launch(
            Box::new(SourceKernel::new(BACKWARD, CubeDim::new_1d(WORKGROUP))),
            CubeCount::Static((cols as u32).div_ceil(WORKGROUP), y, z),
            KernelArguments::new().with_buffers(vec![
                g.handle.clone().binding(),
                argmax.handle.clone().binding(),
                up.handle.clone().binding(),
                dg.handle.clone().binding(),
                info.binding(),
            ]),
        );
        dg
    }
}
