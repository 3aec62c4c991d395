//! The fused Adam step as a backend extension: one pass over a parameter tensor, on wgpu (the
//! WGSL kernel, `adam_cube.rs`) and on the flex CPU backend (one loop, `adam_flex.rs`).

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff, AutodiffBackend};

/// Backend extension: one Adam step of a parameter tensor. `scalars` is
/// [`super::adam::AdamScalars::bits`]. Not differentiable (an optimiser step).
#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex,
    Fusion: cfg(feature = "fusion"),
    Autodiff
)]
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
