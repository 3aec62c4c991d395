//! The tanh backend extension on the CubeCL (wgpu) backend and its autodiff: burn's `tanh`
//! forward, the backward `gy · (1 − y²)` in one launch of the ReLU kernel.

use super::leaky_scale_cube::{scale, Factor};
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::wgpu::CubeBackend;
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff, AutodiffBackend};

/// Backend extension: `tanh` and its input gradient from the output.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait TanhOps: burn::backend::Backend {
    #[fusion(dtype = x, shape = x)]
    fn tanh_forward(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `gy · (1 − y²)`, `y = tanh(x)`.
    #[fusion(dtype = gy, shape = gy)]
    fn tanh_backward(y: FloatTensor<Self>, gy: FloatTensor<Self>) -> FloatTensor<Self>;
}

fn burn_tanh<B: burn::backend::Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_tanh(x)
}

impl TanhOps for CubeBackend {
    fn tanh_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        burn_tanh::<CubeBackend>(x)
    }

    fn tanh_backward(y: FloatTensor<Self>, gy: FloatTensor<Self>) -> FloatTensor<Self> {
        scale(y, gy, Factor::TanhDerivative, 0)
    }
}

#[derive(Debug)]
struct TanhBackward;

impl<B: TanhOps> Backward<B, 1> for TanhBackward {
    /// The forward's output.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, B::tanh_backward(ops.state, gy));
        }
    }
}

impl<B: TanhOps, C: CheckpointStrategy> TanhOps for Autodiff<B, C> {
    fn tanh_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = TanhBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => {
                let y = B::tanh_forward(x.into_primitive());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tanh_forward(x.into_primitive())),
        }
    }

    fn tanh_backward(y: FloatTensor<Self>, gy: FloatTensor<Self>) -> FloatTensor<Self> {
        // First-order autodiff only: the backward is not differentiated again.
        Self::from_inner(B::tanh_backward(y.into_primitive(), gy.into_primitive()))
    }
}
