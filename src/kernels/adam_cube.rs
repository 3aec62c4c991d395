//! The fused Adam backend extension and its WGSL launch on the CubeCL (wgpu) backend.

use super::launch::{cube_count, empty_like, info_bytes, shape_strides4, unaliased, Shader};
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeDim, SourceKernel};
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff, AutodiffBackend};
use burn::tensor::DType;
use burn_cubecl::cubecl::server::KernelArguments;

/// Backend extension: one Adam step of a parameter tensor. `scalars` is
/// [`super::adam::AdamScalars::bits`]. Not differentiable (an optimiser step).
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait AdamOps: burn::backend::Backend {
    /// `(p, g, m, v)` → `(p', m', v')`, all of one shape. (Under burn's fusion `FusedAdam`
    /// leaves Adam to fusion; the op is declared to it so that fusion builds compile and run.)
    #[fusion(meta = |p: &burn::backend::fusion::custom::TensorSpec,
                     _g: &burn::backend::fusion::custom::TensorSpec,
                     _m: &burn::backend::fusion::custom::TensorSpec,
                     _v: &burn::backend::fusion::custom::TensorSpec,
                     _s: &[u32; 7]| (p.clone(), p.clone(), p.clone()))]
    fn adam_step(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        scalars: [u32; 7],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Invocations per workgroup (one element each).
const WORKGROUP: u32 = 256;

const ADAM: Shader = Shader {
    name: "adam_step",
    source: include_str!("../../shaders/adam_step.wgsl"),
    workgroup: WORKGROUP,
};

impl AdamOps for CubeBackend {
    fn adam_step(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        scalars: [u32; 7],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        for t in [&p, &g, &m, &v] {
            assert_eq!(t.dtype, DType::F32, "the Adam kernel is f32 only");
        }
        let [p, m, v] = [p, m, v].map(into_contiguous);
        // One buffer bound twice is refused by WebGPU (the moments of a first step are zeros).
        let m = unaliased(m, &[&p, &g]);
        let v = unaliased(v, &[&p, &g, &m]);
        // The gradient is read through its strides (up to rank 4): no copy of a strided view.
        let g = if g.meta.shape().num_dims() <= 4 {
            g
        } else {
            into_contiguous(g)
        };
        let shape = p.meta.shape().clone();
        let n = shape.num_elements();
        assert!(
            n < u32::MAX as usize,
            "Adam kernel: {n} elements exceed u32 indexing"
        );
        let n = n as u32;
        let (dims, strides) = shape_strides4(&g, "Adam kernel");
        let mut info = [0u32; 16];
        info[0] = n;
        info[1..8].copy_from_slice(&scalars);
        info[8..12].copy_from_slice(&dims);
        info[12..16].copy_from_slice(&strides);
        let outs = [(); 3].map(|_| empty_like(&p, shape.clone()));
        let info_buf = p.client.create_from_slice(&info_bytes(&info));
        let mut buffers = vec![
            p.handle.clone().binding(),
            g.handle.clone().binding(),
            m.handle.clone().binding(),
            v.handle.clone().binding(),
        ];
        buffers.extend(outs.iter().map(|o| o.handle.clone().binding()));
        buffers.push(info_buf.binding());
        p.client.launch(
            Box::new(SourceKernel::new(ADAM, CubeDim::new_1d(WORKGROUP))),
            cube_count(n.div_ceil(WORKGROUP)),
            KernelArguments::new().with_buffers(buffers),
        );
        let [p, m, v] = outs;
        (p, m, v)
    }
}

impl<B: AdamOps, C: CheckpointStrategy> AdamOps for Autodiff<B, C> {
    fn adam_step(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        scalars: [u32; 7],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // An optimiser step is not part of any graph: run it on the inner tensors.
        let (p, m, v) = B::adam_step(
            p.into_primitive(),
            g.into_primitive(),
            m.into_primitive(),
            v.into_primitive(),
            scalars,
        );
        (
            Self::from_inner(p),
            Self::from_inner(m),
            Self::from_inner(v),
        )
    }
}
