//! The GEMM path's three matrix products on the flex CPU backend — `a·b`, `aᵀ·b`, `a·bᵀ` —
//! each differentiated into the other two, so that every product of a step (forward, backward,
//! and the penalty's double backward) is one of them, in the orientation below.
//!
//! - `aᵀ·b` (the input gradient, and transposed convolution, `Wᵀ·dy`): through burn's `matmul`
//!   of the transposed view, the weight's gradient came back as a transposed view of
//!   `[C·k², C_out]`, and the reshape to `[C_out, C, k, k]` copied it value by value (6.3M
//!   values of a DCGAN-32 iteration). Here `a`'s gradient is `b·Gᵀ`, in `a`'s orientation.
//! - `a·bᵀ` (every weight gradient, `dy·colsᵀ`: both operands contiguous along the shared
//!   dimension `K`): with fewer output rows than columns (`M < N`), the gemm crate's AVX-512
//!   kernels slow down as `K` grows, to 220–240 GFLOP/s on 2 cores of a Zen 5 EPYC for
//!   DCGAN-32's `[256, 2048]` weight at `K` ≥ 1024 (430–440 at `K` = 128–256), and to 60–150
//!   for thinner outputs; the same product as `b·aᵀ`, written `[N, M]` and transposed
//!   ([`super::flex`]'s tiled transpose, 0.25 ns a value), stays at 380–420: 1.05–3.9× faster
//!   at `K` ≥ 512 over the 27 such shapes timed (`M` 64–512, `N` 512–8192; one at 0.98×), 0.7–0.9×
//!   below. With more rows than columns (`[128, 48]`, the first layer's) the direct product is
//!   the faster one, by 2×. Hence the rule: **`(b·aᵀ)ᵀ` when `N > M` and `K` ≥ 512, where gemm
//!   runs its AVX-512 kernels**. With its AVX2 kernels (CPUs without AVX-512F) the transposed
//!   orientation, its transpose included, ran at 0.71–1.16× the direct one at `K` = 512 and
//!   0.89–1.27× at `K` ≥ 1024 (0.97–0.98× on DCGAN-32's shapes): there the product is direct. Both
//!   orientations sum over `K` in the same order (gemm's blocks of it depend on `K` alone), so
//!   the values are bit-identical whichever is taken (`tests/product_flex.rs`).

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::Flex;
use burn::backend::ops::FloatTensorOps;
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff};
use burn::tensor::Tensor;
use std::cell::Cell;

/// Backend extension: the three products of 2-D tensors.
#[backend_extension(Flex, Autodiff)]
pub trait ProductFlexOps: burn::backend::Backend {
    /// `a [M, K]`, `b [K, N]` → `a·b [M, N]`.
    fn product_nn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `a [K, M]`, `b [K, N]` → `aᵀ·b [M, N]`.
    fn product_tn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `a [M, K]`, `b [N, K]` → `a·bᵀ [M, N]`.
    fn product_nt(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

thread_local! {
    /// [`with_nt_transposed`]'s override on this thread.
    static NT_TRANSPOSED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Runs `f` with every f32 `a·bᵀ` on this thread taken as `(b·aᵀ)ᵀ` (`true`) or directly
/// (`false`), whatever the shape and CPU: the tests compare the two orientations this way.
pub fn with_nt_transposed<R>(transposed: bool, f: impl FnOnce() -> R) -> R {
    crate::scoped::with_override(&NT_TRANSPOSED, transposed, f)
}

/// Whether gemm runs its AVX-512 kernels here (the CPU has AVX-512F and the `fast-cpu` build
/// has them), where the rule was measured to pay.
fn avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "fast-cpu"))]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "fast-cpu")))]
    {
        false
    }
}

/// Whether `a·bᵀ` of an `[M, N]` output over a shared dimension `K` is taken as `(b·aᵀ)ᵀ`:
/// the module's rule, with gemm's AVX-512 kernels only (unless [`with_nt_transposed`] says).
pub fn nt_transposed(m: usize, n: usize, k: usize) -> bool {
    NT_TRANSPOSED
        .with(Cell::get)
        .unwrap_or_else(|| n > m && k >= 512 && avx512())
}

impl ProductFlexOps for Flex {
    fn product_nn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        Flex::float_matmul(a, b)
    }

    fn product_tn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        Flex::float_matmul(Flex::float_swap_dims(a, 0, 1), b)
    }

    fn product_nt(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let (m, n, k) = (
            a.layout().shape()[0],
            b.layout().shape()[0],
            a.layout().shape()[1],
        );
        // The transpose is f32's; f64 tensors (the gradient checks') take the direct product.
        if a.dtype() == burn::tensor::DType::F32 && nt_transposed(m, n, k) {
            let ct = Flex::float_matmul(b, Flex::float_swap_dims(a, 0, 1));
            super::flex::transposed(&super::flex::contiguous(ct))
        } else {
            Flex::float_matmul(a, Flex::float_swap_dims(b, 0, 1))
        }
    }
}

/// Which product a backward step differentiates.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// `C = A·B`: `∂A = G·Bᵀ`, `∂B = Aᵀ·G`.
    Nn,
    /// `C = Aᵀ·B`: `∂A = B·Gᵀ`, `∂B = A·G`.
    Tn,
    /// `C = A·Bᵀ`: `∂A = G·B`, `∂B = Gᵀ·A`.
    Nt,
}

#[derive(Debug)]
struct ProductBackward(Form);

impl<B: ProductFlexOps> Backward<B, 2> for ProductBackward {
    /// `A` and `B`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [a_node, b_node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (a, b) = ops.state;
        if let Some(node) = a_node {
            let ga = match self.0 {
                Form::Nn => B::product_nt(g.clone(), b.clone()),
                Form::Tn => B::product_nt(b.clone(), g.clone()),
                Form::Nt => B::product_nn(g.clone(), b.clone()),
            };
            grads.register::<B>(node.id, ga);
        }
        if let Some(node) = b_node {
            let gb = match self.0 {
                Form::Nn => B::product_tn(a, g),
                Form::Tn => B::product_nn(a, g),
                Form::Nt => B::product_tn(g, a),
            };
            grads.register::<B>(node.id, gb);
        }
    }
}

/// The tracked product `form` of `a` and `b` on `Autodiff<B>`.
fn tracked<B: ProductFlexOps, C: CheckpointStrategy>(
    form: Form,
    a: FloatTensor<Autodiff<B, C>>,
    b: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let inner = |a, b| match form {
        Form::Nn => B::product_nn(a, b),
        Form::Tn => B::product_tn(a, b),
        Form::Nt => B::product_nt(a, b),
    };
    let prep = ProductBackward(form)
        .prepare::<C>([a.node(), b.node()])
        .compute_bound()
        .stateful();
    let (a, b) = (a.into_primitive(), b.into_primitive());
    match prep {
        OpsKind::Tracked(prep) => {
            let out = inner(a.clone(), b.clone());
            prep.finish((a, b), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(inner(a, b)),
    }
}

impl<B: ProductFlexOps, C: CheckpointStrategy> ProductFlexOps for Autodiff<B, C> {
    fn product_nn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked::<B, C>(Form::Nn, a, b)
    }

    fn product_tn(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked::<B, C>(Form::Tn, a, b)
    }

    fn product_nt(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked::<B, C>(Form::Nt, a, b)
    }
}

/// Runs one of the extension's products on high-level tensors.
fn dispatch(
    a: Tensor<2>,
    b: Tensor<2>,
    op: fn(
        FloatTensor<burn::backend::Dispatch>,
        FloatTensor<burn::backend::Dispatch>,
    ) -> FloatTensor<burn::backend::Dispatch>,
) -> Tensor<2> {
    assert!(super::is_flex(&a.device()), "the flex products run on flex");
    Tensor::from_dispatch(op(a.into_dispatch(), b.into_dispatch()))
}

/// `a·b` (`a [M, K]`, `b [K, N]`), differentiable.
///
/// # Panics
/// Unless `a` lies on the flex backend ([`super::is_flex`]).
pub fn product_nn(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    dispatch(a, b, <Dispatch as ProductFlexOps>::product_nn)
}

/// `aᵀ·b` (`a [K, M]`, `b [K, N]`), differentiable, with `a`'s gradient in `a`'s orientation.
///
/// # Panics
/// Unless `a` lies on the flex backend ([`super::is_flex`]).
pub fn product_tn(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    dispatch(a, b, <Dispatch as ProductFlexOps>::product_tn)
}

/// `a·bᵀ` (`a [M, K]`, `b [N, K]`), differentiable, row-major, in the faster orientation
/// ([`nt_transposed`]).
///
/// # Panics
/// Unless `a` lies on the flex backend ([`super::is_flex`]).
pub fn product_nt(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    dispatch(a, b, <Dispatch as ProductFlexOps>::product_nt)
}
