//! Hand-written autodiff for the BatchNorm extension: the forward's backward is the backward
//! op, the backward's (the gradient penalty differentiates it) the VJP op. Running
//! statistics and the backward's parameter gradients carry no gradient.

use super::batch_norm_ops::{BatchNormOps, NO_ACTIVATION};
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{tensor::FloatTensor, Autodiff, AutodiffBackend};

/// Backward of the forward `y(x, γ, β)` (with its activation fused in, if any).
#[derive(Debug)]
struct ForwardBackward {
    eps_groups: [u32; 2],
    activation: u32,
}

impl<B: BatchNormOps> Backward<B, 3> for ForwardBackward {
    /// The forward's `x`, `γ`, and its output where an activation was fused in: the
    /// activation's mask `y > 0` is the same as that of its input (slope ≥ 0).
    type State = (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, gamma_node, beta_node] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        let (x, gamma, y) = ops.state;
        let (gx, grad_gamma, grad_beta) = match y {
            // The activation's backward in the BatchNorm backward's reads of gy.
            Some(y) => {
                let [eps, groups] = self.eps_groups;
                B::batch_norm_backward_masked(x, gy, gamma, y, [eps, groups, self.activation])
            }
            None => B::batch_norm_backward(x, gy, gamma, self.eps_groups),
        };
        for (node, grad) in [
            (x_node, gx),
            (gamma_node, grad_gamma),
            (beta_node, grad_beta),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// Backward of the backward's `gx(x, gy, γ)`.
#[derive(Debug)]
struct BackwardBackward {
    eps_groups: [u32; 2],
}

impl<B: BatchNormOps> Backward<B, 3> for BackwardBackward {
    /// The backward's `x`, `gy` and `γ`.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, gy_node, gamma_node] = ops.parents;
        let u = grads.consume::<B>(&ops.node);
        let (x, gy, gamma) = ops.state;
        let (dx, dgy, dgamma) = B::batch_norm_backward_vjp(x, gy, gamma, u, self.eps_groups);
        for (node, grad) in [(x_node, dx), (gy_node, dgy), (gamma_node, dgamma)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: BatchNormOps, C: CheckpointStrategy> BatchNormOps for Autodiff<B, C> {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        eps_momentum_groups_activation: [u32; 4],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [eps, _, groups, activation] = eps_momentum_groups_activation;
        let prep = ForwardBackward {
            eps_groups: [eps, groups],
            activation,
        }
        .prepare::<C>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful();
        let run = |x, gamma| {
            B::batch_norm_forward(
                x,
                gamma,
                beta.primitive().clone(),
                running_mean.into_primitive(),
                running_var.into_primitive(),
                eps_momentum_groups_activation,
            )
        };
        match prep {
            OpsKind::Tracked(prep) => {
                let (x, gamma) = (x.into_primitive(), gamma.into_primitive());
                let (y, rm, rv) = run(x.clone(), gamma.clone());
                let mask = (activation != NO_ACTIVATION).then(|| y.clone());
                (
                    prep.finish((x, gamma, mask), y),
                    Self::from_inner(rm),
                    Self::from_inner(rv),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (y, rm, rv) = run(x.into_primitive(), gamma.into_primitive());
                (prep.finish(y), Self::from_inner(rm), Self::from_inner(rv))
            }
        }
    }

    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prep = BackwardBackward { eps_groups }
            .prepare::<C>([x.node(), gy.node(), gamma.node()])
            .compute_bound()
            .stateful();
        let (x, gy, gamma) = (
            x.into_primitive(),
            gy.into_primitive(),
            gamma.into_primitive(),
        );
        let (gx, grad_gamma, grad_beta) =
            B::batch_norm_backward(x.clone(), gy.clone(), gamma.clone(), eps_groups);
        let gx = match prep {
            OpsKind::Tracked(prep) => prep.finish((x, gy, gamma), gx),
            OpsKind::UnTracked(prep) => prep.finish(gx),
        };
        (
            gx,
            Self::from_inner(grad_gamma),
            Self::from_inner(grad_beta),
        )
    }

    fn batch_norm_backward_masked(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        y: FloatTensor<Self>,
        eps_groups_slope: [u32; 3],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // Only the forward's own backward calls it, on the inner backend: never tracked.
        let (gx, grad_gamma, grad_beta) = B::batch_norm_backward_masked(
            x.into_primitive(),
            gy.into_primitive(),
            gamma.into_primitive(),
            y.into_primitive(),
            eps_groups_slope,
        );
        (
            Self::from_inner(gx),
            Self::from_inner(grad_gamma),
            Self::from_inner(grad_beta),
        )
    }

    fn batch_norm_backward_vjp(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        u: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // First-order autodiff only: the VJP itself is not differentiated again.
        let (dx, dgy, dgamma) = B::batch_norm_backward_vjp(
            x.into_primitive(),
            gy.into_primitive(),
            gamma.into_primitive(),
            u.into_primitive(),
            eps_groups,
        );
        (
            Self::from_inner(dx),
            Self::from_inner(dgy),
            Self::from_inner(dgamma),
        )
    }
}
