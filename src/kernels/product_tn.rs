//! `Aᵀ·B` on the flex CPU backend, differentiated so that `A`'s gradient comes out in `A`'s own
//! orientation: `B·Gᵀ` (`[K, M]`) rather than `G·Bᵀ` transposed. The GEMM path's input
//! gradient (and transposed convolution) multiplies by the weight transposed, `Wᵀ·dy`; through
//! burn's `matmul` of the transposed view, the weight's gradient came back as a transposed view
//! of `[C·k², C_out]`, and the reshape to `[C_out, C, k, k]` copied it, value by value, once
//! per such weight and step (6.3M values of a DCGAN-32 iteration, on flex a strided copy of
//! about 6% of its time). Both orientations are one product; only the layout differs.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::Flex;
use burn::backend::ops::FloatTensorOps;
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff};
use burn::tensor::Tensor;

/// Backend extension: `a [K, M]`, `b [K, N]` → `aᵀ·b [M, N]`.
#[backend_extension(Flex, Autodiff)]
pub trait ProductTnOps: burn::backend::Backend {
    fn product_tn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl ProductTnOps for Flex {
    fn product_tn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        Flex::float_matmul(Flex::float_swap_dims(a, 0, 1), b)
    }
}

/// Backward of `C = Aᵀ·B` with upstream `G [M, N]`: `∂A = B·Gᵀ [K, M]`, `∂B = A·G [K, N]`.
#[derive(Debug)]
struct ProductTnBackward;

impl<B: ProductTnOps> Backward<B, 2> for ProductTnBackward {
    /// `A` and `B`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [a_node, b_node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (a, b) = ops.state;
        if let Some(node) = a_node {
            let gt = B::float_swap_dims(g.clone(), 0, 1);
            grads.register::<B>(node.id, B::float_matmul(b, gt));
        }
        if let Some(node) = b_node {
            grads.register::<B>(node.id, B::float_matmul(a, g));
        }
    }
}

impl<B: ProductTnOps, C: CheckpointStrategy> ProductTnOps for Autodiff<B, C> {
    fn product_tn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = ProductTnBackward
            .prepare::<C>([a.node(), b.node()])
            .compute_bound()
            .stateful();
        let (a, b) = (a.into_primitive(), b.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::product_tn(a.clone(), b.clone());
                prep.finish((a, b), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::product_tn(a, b)),
        }
    }
}

/// `aᵀ·b` (`a [K, M]`, `b [K, N]`), differentiable, with `a`'s gradient in `a`'s orientation.
///
/// # Panics
/// Unless `a` lies on the flex backend ([`super::is_flex`]).
pub fn product_tn(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    assert!(super::is_flex(&a.device()), "product_tn runs on flex");
    Tensor::from_dispatch(<Dispatch as ProductTnOps>::product_tn(
        a.into_dispatch(),
        b.into_dispatch(),
    ))
}
