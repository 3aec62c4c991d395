//! Autodiff of the patch kernels: both are linear, and each is the other's adjoint, so the
//! backward of `im2col` is `col2im` of the upstream gradient and vice versa (no saved state).

use super::patches_ops::PatchOps;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::{tensor::FloatTensor, Autodiff};

#[derive(Debug)]
struct Im2colBackward {
    info: [u32; 9],
}

#[derive(Debug)]
struct Col2imBackward {
    info: [u32; 9],
}

impl<B: PatchOps> Backward<B, 1> for Im2colBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let up = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, B::col2im(up, self.info));
        }
    }
}

impl<B: PatchOps> Backward<B, 1> for Col2imBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let up = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, B::im2col(up, self.info));
        }
    }
}

impl<B: PatchOps, C: CheckpointStrategy> PatchOps for Autodiff<B, C> {
    fn im2col(x: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let out = B::im2col(x.primitive().clone(), info);
        Im2colBackward { info }
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateless(out)
    }

    fn col2im(cols: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let out = B::col2im(cols.primitive().clone(), info);
        Col2imBackward { info }
            .prepare::<C>([cols.node()])
            .compute_bound()
            .stateless(out)
    }
}
