//! A tiled f32 matrix product in WGSL (`shaders/tiled_matmul.wgsl`) for the GEMM convolutions
//! on the `tiled` path ([`crate::conv::ConvPath::Tiled`]): 64×64 blocks of the product per
//! workgroup, operands read through their strides (transposes are views), and K split over
//! several workgroups when the product has few blocks (a second launch adds the ranges up).
//!
//! On an H200 (`margan bench --layers --conv tiled,gemm`) it beat burn 0.22's matrix product
//! on *thin* products — few blocks of C over a long K, as in a weight gradient, which sums over
//! the whole batch: 1.9 against 4.2 ms for DCGAN-32's 128→256 weight gradient at batch 256 —
//! and lost on square ones (2.2 against 1.1 ms for the 256→512 input gradient), where burn's
//! autotuned kernels reach ~16 TFLOP/s and this one ~9. [`is_thin`] draws that line.

use burn::tensor::Tensor;

/// Plain-tensor reference: burn's `matmul` (what every product but the thin ones on wgpu runs;
/// see `conv::gemm`).
pub fn matmul_reference(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    a.matmul(b)
}

/// `a [M, K] · b [K, N]` by the WGSL kernel (one launch, two when K is split), differentiable
/// in both operands (each backward product through the kernel where it [`is_thin`], burn's
/// `matmul` elsewhere). Either may be a strided view.
///
/// # Panics
/// When the tensors are not on a wgpu device (check with [`super::has_kernels`]), not f32, or
/// their inner sizes differ.
#[cfg(feature = "wgpu")]
pub fn matmul_kernel(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    use super::matmul_cube::TiledMatmulOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&a.device()),
        "the tiled matmul kernel runs on the wgpu backend only"
    );
    Tensor::from_dispatch(<Dispatch as TiledMatmulOps>::tiled_matmul(
        a.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// How the kernel splits K for an `[m, k] · [k, n]` product: `(ranges, values per range)`.
#[cfg(feature = "wgpu")]
pub fn split_k(m: usize, n: usize, k: usize) -> (usize, usize) {
    super::matmul_cube::split_k(m, n, k)
}

/// Whether an `[m, k] · [k, n]` product is thin enough for the tiled kernel to beat burn's:
/// K split into at least 3 ranges, and at least 2²⁶ multiply-adds (below that, a product
/// takes less time than the launches, and the split's second launch costs more than it saves).
#[cfg(feature = "wgpu")]
pub fn is_thin(m: usize, n: usize, k: usize) -> bool {
    super::matmul_cube::is_thin(m, n, k)
}
