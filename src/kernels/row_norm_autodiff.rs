//! Hand-written autodiff for the row-norm kernel: the forward runs the WGSL reduction, the
//! backward the WGSL scatter. Only `g` receives a gradient (the arg-max output is a constant).

use super::row_norm_cube::RowNormOps;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{tensor::FloatTensor, Autodiff, AutodiffBackend};

#[derive(Debug)]
struct RowNormBackward {
    mode: u32,
}

impl<B: RowNormOps> Backward<B, 1> for RowNormBackward {
    /// The forward's input and arg-max.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let up = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            let (g, argmax) = ops.state;
            grads.register::<B>(parent.id, B::row_norm_backward(g, argmax, up, self.mode));
        }
    }
}

impl<B: RowNormOps, C: CheckpointStrategy> RowNormOps for Autodiff<B, C> {
    fn row_norm_forward(g: FloatTensor<Self>, mode: u32) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let prep = RowNormBackward { mode }
            .prepare::<C>([g.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => {
                let (norms, argmax) = B::row_norm_forward(g.primitive().clone(), mode);
                let state = (g.into_primitive(), argmax.clone());
                (prep.finish(state, norms), Self::from_inner(argmax))
            }
            OpsKind::UnTracked(prep) => {
                let (norms, argmax) = B::row_norm_forward(g.into_primitive(), mode);
                (prep.finish(norms), Self::from_inner(argmax))
            }
        }
    }

    fn row_norm_backward(
        g: FloatTensor<Self>,
        argmax: FloatTensor<Self>,
        up: FloatTensor<Self>,
        mode: u32,
    ) -> FloatTensor<Self> {
        // First-order autodiff only: the VJP itself is not differentiated again.
        Self::from_inner(B::row_norm_backward(
            g.into_primitive(),
            argmax.into_primitive(),
            up.into_primitive(),
            mode,
        ))
    }
}
