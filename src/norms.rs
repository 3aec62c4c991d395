//! Per-sample (row) norms of input gradients, the quantity every margin penalty is built on.
//!
//! `row_norm` is the entry point: on the wgpu backend the L∞ and L1 norms of f32 gradients run
//! as the hand-written WGSL kernel ([`crate::kernels::row_norm`]); everywhere else (CPU, wasm
//! CPU fallback, L2, f64) it is the plain-tensor [`row_norm_reference`].

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Gradient norm of the penalty. L1, L2, L∞ gradient norms are dual to L∞, L2, L1 margins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    L1,
    L2,
    Linf,
}

impl Norm {
    pub const ALL: [Norm; 3] = [Norm::L1, Norm::L2, Norm::Linf];

    pub fn name(self) -> &'static str {
        match self {
            Norm::L1 => "l1",
            Norm::L2 => "l2",
            Norm::Linf => "linf",
        }
    }
}

/// Below this squared L2 norm the gradient of `‖g‖₂` is taken as zero (PyTorch's convention at 0).
const L2_FLOOR: f64 = 1e-24;

/// `‖gᵢ‖` for every row `i` of `g: [N, M]`, as `[N]`.
pub fn row_norm(g: Tensor<2>, norm: Norm) -> Tensor<1> {
    #[cfg(feature = "wgpu")]
    if let Some(kernel) = kernel_norm(&g, norm) {
        return crate::kernels::row_norm::row_norm_argmax_kernel(g, kernel).0;
    }
    row_norm_reference(g, norm)
}

/// `‖gᵢ‖` for every sample `i` of `g: [N, C, H, W]` (its values in C, H, W order), as `[N]`. The
/// kernel reads the 4-D tensor through its strides: a GEMM convolution's input gradient is a
/// channel-major view, which the reshape to `[N, C·H·W]` that the other paths take would copy.
pub fn sample_row_norm(g: Tensor<4>, norm: Norm) -> Tensor<1> {
    #[cfg(feature = "wgpu")]
    if let Some(kernel) = kernel_norm(&g, norm) {
        return crate::kernels::row_norm::row_norm_argmax_kernel(g, kernel).0;
    }
    let [n, c, h, w] = g.dims();
    row_norm(g.reshape([n, c * h * w]), norm)
}

/// The kernel's norm where the row-norm kernel takes `g` (L∞ and L1 of non-empty f32 on wgpu).
#[cfg(feature = "wgpu")]
fn kernel_norm<const D: usize>(
    g: &Tensor<D>,
    norm: Norm,
) -> Option<crate::kernels::row_norm::KernelNorm> {
    use crate::kernels::row_norm::KernelNorm;
    let kernel = match norm {
        Norm::Linf => KernelNorm::Linf,
        Norm::L1 => KernelNorm::L1,
        Norm::L2 => return None,
    };
    (crate::kernels::runs_f32_kernels(g) && g.shape().num_elements() > 0).then_some(kernel)
}

/// Plain-tensor row norms: `Σ|gᵢ|`, `√Σgᵢ²`, `max|gᵢ|` (absolute values: the maximum of the
/// signed gradient, as in the paper's published code, is not a norm).
pub fn row_norm_reference(g: Tensor<2>, norm: Norm) -> Tensor<1> {
    let out = match norm {
        Norm::L1 => g.abs().sum_dim(1),
        Norm::L2 => g.square().sum_dim(1).clamp_min(L2_FLOOR).sqrt(),
        Norm::Linf => g.abs().max_dim(1),
    };
    out.flatten(0, 1)
}
