//! The row-norm backend extension and its WGSL launch on the CubeCL (wgpu) backend.

use super::launch::{cube_count, empty_like, info_buffer, Shader, MAX_GROUPS};
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeDim, CubeTensor, SourceKernel};
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{server::KernelArguments, CubeCount};

/// Backend extension: the per-row L∞ / L1 norm and its vector-Jacobian product.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait RowNormOps: burn::backend::Backend {
    /// `g: [rows, cols]` → `(norms [rows], argmax [rows] as f32)`; `mode` 0 = L∞, 1 = L1.
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

fn rows_cols(t: &CubeTensor) -> (usize, usize) {
    let shape = t.meta.shape();
    assert_eq!(
        shape.num_dims(),
        2,
        "row norm expects a [rows, cols] tensor"
    );
    assert_eq!(t.dtype, DType::F32, "the row-norm kernel is f32 only");
    (shape[0], shape[1])
}

impl RowNormOps for CubeBackend {
    fn row_norm_forward(g: FloatTensor<Self>, mode: u32) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let g = into_contiguous(g);
        let (rows, cols) = rows_cols(&g);
        let norms = empty_like(&g, Shape::new([rows]));
        let argmax = empty_like(&g, Shape::new([rows]));
        let info = info_buffer(&g, &[rows as u32, cols as u32, mode]);
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
        let g = into_contiguous(g);
        let argmax = into_contiguous(argmax);
        let up = into_contiguous(up);
        let (rows, cols) = rows_cols(&g);
        let dg = empty_like(&g, Shape::new([rows, cols]));
        let info = info_buffer(&g, &[rows as u32, cols as u32, mode]);
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
