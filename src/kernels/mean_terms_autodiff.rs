//! Hand-written autodiff for the mean-terms kernel: the forward runs the WGSL reduction, the
//! backward the WGSL elementwise gradient (first order: a loss is differentiated once).

use super::mean_terms::MeanTerms;
use super::mean_terms_cube::MeanTermsOps;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{tensor::FloatTensor, Autodiff, AutodiffBackend};

#[derive(Debug)]
struct MeanTermsBackward {
    spec: MeanTerms,
}

impl<B: MeanTermsOps> Backward<B, 1> for MeanTermsBackward {
    /// The forward's input.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let up = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            let dx = B::mean_terms_backward(ops.state, up, self.spec);
            grads.register::<B>(parent.id, dx);
        }
    }
}

impl<B: MeanTermsOps, C: CheckpointStrategy> MeanTermsOps for Autodiff<B, C> {
    fn mean_terms_forward(x: FloatTensor<Self>, spec: MeanTerms) -> FloatTensor<Self> {
        let prep = MeanTermsBackward { spec: spec.clone() }
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::mean_terms_forward(x.primitive().clone(), spec);
                prep.finish(x.into_primitive(), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::mean_terms_forward(x.into_primitive(), spec))
            }
        }
    }

    fn mean_terms_backward(
        x: FloatTensor<Self>,
        up: FloatTensor<Self>,
        spec: MeanTerms,
    ) -> FloatTensor<Self> {
        // First-order autodiff only: the VJP itself is not differentiated again.
        Self::from_inner(B::mean_terms_backward(
            x.into_primitive(),
            up.into_primitive(),
            spec,
        ))
    }
}
