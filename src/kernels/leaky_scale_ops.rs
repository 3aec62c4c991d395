//! The ReLU / LeakyReLU backend extension, `out = t · (x > 0 ? 1 : slope)`, on wgpu (the WGSL
//! kernel, `leaky_scale_cube.rs`) and on the flex CPU backend (one loop, `leaky_scale_flex.rs`),
//! and its autodiff: `out` is linear in `t` and piecewise constant in `x` (derivative 0 almost
//! everywhere), so its backward is the same op on the upstream gradient, and only `t` receives
//! one.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff};

/// Backend extension: `t · (x > 0 ? 1 : slope)` (`slope`: f32 bits), `x` and `t` of one shape.
#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex,
    Fusion: cfg(feature = "fusion"),
    Autodiff
)]
pub trait LeakyScaleOps: burn::backend::Backend {
    #[fusion(dtype = t, shape = t)]
    fn leaky_scale(x: FloatTensor<Self>, t: FloatTensor<Self>, slope: u32) -> FloatTensor<Self>;
}

/// Backward: the upstream gradient through the same op; `x` is a constant.
#[derive(Debug)]
struct LeakyScaleBackward {
    slope: u32,
}

impl<B: LeakyScaleOps> Backward<B, 1> for LeakyScaleBackward {
    /// The mask source `x`.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [t_node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        if let Some(node) = t_node {
            grads.register::<B>(node.id, B::leaky_scale(ops.state, g, self.slope));
        }
    }
}

impl<B: LeakyScaleOps, C: CheckpointStrategy> LeakyScaleOps for Autodiff<B, C> {
    fn leaky_scale(x: FloatTensor<Self>, t: FloatTensor<Self>, slope: u32) -> FloatTensor<Self> {
        let prep = LeakyScaleBackward { slope }
            .prepare::<C>([t.node()])
            .compute_bound()
            .stateful();
        let (x, t) = (x.into_primitive(), t.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::leaky_scale(x.clone(), t, slope);
                prep.finish(x, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::leaky_scale(x, t, slope)),
        }
    }
}
