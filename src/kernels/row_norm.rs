//! The per-row L∞ / L1 norm kernel (`shaders/row_norm_forward.wgsl`, `row_norm_backward.wgsl`).
//!
//! `max_i |g[r, i]|` with its arg-max (ties: the **lowest** index), or `Σ_i |g[r, i]|`; the
//! backward scatters the upstream gradient times `sign(g)` at the arg-max (L∞) or over the row
//! (L1). f32, any row length, any number of rows.

use burn::tensor::Tensor;

/// Which norm the kernel computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelNorm {
    Linf,
    L1,
}

impl KernelNorm {
    /// The `mode` the shaders read from their info buffer.
    #[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
    pub(crate) fn mode(self) -> u32 {
        match self {
            KernelNorm::Linf => 0,
            KernelNorm::L1 => 1,
        }
    }
}

/// Plain-tensor reference: `(‖g_r‖, arg-max_r)` with the arg-max as f32 (0 for L1).
/// The arg-max is the lowest index of the maximum of `|g_r|`.
pub fn row_norm_argmax_reference(g: Tensor<2>, norm: KernelNorm) -> (Tensor<1>, Tensor<1>) {
    let [rows, cols] = g.dims();
    let device = g.device();
    match norm {
        KernelNorm::L1 => (
            g.abs().sum_dim(1).flatten(0, 1),
            Tensor::zeros([rows], &device),
        ),
        KernelNorm::Linf => {
            let a = g.abs();
            let max = a.clone().max_dim(1);
            // Lowest index attaining the maximum: min over (index where equal, else cols).
            let idx = Tensor::<1, burn::tensor::Int>::arange(0..cols as i64, &device)
                .float()
                .reshape([1, cols])
                .expand([rows, cols]);
            let masked = idx.mask_fill(
                a.equal(max.clone().expand([rows, cols])).bool_not(),
                cols as f64,
            );
            (max.flatten(0, 1), masked.min_dim(1).flatten(0, 1))
        }
    }
}

/// Plain-tensor reference of the backward: `dg[r, i] = up[r] · sign(g[r, i])` at the lowest
/// arg-max `i` of `|g_r|` (L∞) or at every `i` (L1); `sign(0) = 0`.
pub fn row_norm_backward_reference(g: Tensor<2>, up: Tensor<1>, norm: KernelNorm) -> Tensor<2> {
    let [rows, cols] = g.dims();
    let device = g.device();
    let scaled = g.clone().sign() * up.reshape([rows, 1]).expand([rows, cols]);
    match norm {
        KernelNorm::L1 => scaled,
        KernelNorm::Linf => {
            let (_, argmax) = row_norm_argmax_reference(g, norm);
            let idx = Tensor::<1, burn::tensor::Int>::arange(0..cols as i64, &device)
                .float()
                .reshape([1, cols])
                .expand([rows, cols]);
            let onehot = idx.equal(argmax.reshape([rows, 1]).expand([rows, cols]));
            scaled.mask_fill(onehot.bool_not(), 0.0)
        }
    }
}

/// `(‖g_r‖, arg-max_r)` by the WGSL kernel, for `g: [rows, cols]`, or `[N, C, H, W]` with a
/// row per sample (its values in C, H, W order, the arg-max indexing them so), read through its
/// strides. Differentiable in `g` through the hand-written backward kernel; the arg-max output
/// carries no gradient.
///
/// # Panics
/// When `g` is not on a wgpu device (check with [`super::has_kernels`]), is not f32, or is
/// neither 2- nor 4-D.
#[cfg(feature = "wgpu")]
pub fn row_norm_argmax_kernel<const D: usize>(
    g: Tensor<D>,
    norm: KernelNorm,
) -> (Tensor<1>, Tensor<1>) {
    use super::row_norm_cube::RowNormOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&g.device()),
        "the row-norm kernel runs on the wgpu backend only"
    );
    let (norms, argmax) =
        <Dispatch as RowNormOps>::row_norm_forward(g.into_dispatch(), norm.mode());
    (Tensor::from_dispatch(norms), Tensor::from_dispatch(argmax))
}
