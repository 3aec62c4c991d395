//! Convolutions as one matrix product over patches (the "GEMM formulation").
//!
//! With `cols = im2col(x)` (`[C·k², N·L]`, `L = ho·wo`) and `W` viewed as `[C_out, C·k²]`:
//! - forward: `y = W · cols`;
//! - input gradient (= transposed convolution): `dx = col2im(Wᵀ · dy)`;
//! - weight gradient: `dW = dy · colsᵀ`,
//!
//! where `dy` is `[C_out, N·L]` (channels first). Every step is a differentiable tensor op, so
//! burn's first-order autodiff differentiates these again inside the gradient penalty. The
//! product is burn's `matmul`, on the `tiled` path margan's tiled WGSL kernel, and on flex
//! `kernels::product_flex`'s three forms (`a·b`, `aᵀ·b`, `a·bᵀ`).

use super::patches::{col2im, im2col, Patches};
use burn::tensor::Tensor;

/// The matrix product of the current path: on flex one of [`crate::kernels::product_flex`]'s
/// three (each differentiated into the others, in the orientation gemm runs fastest), on
/// [`super::ConvPath::Tiled`] (and wgpu) the one [`crate::kernels::matmul::matmul_kernel`]
/// picks for the shape (burn's or a variant of margan's tiled kernel), elsewhere burn's
/// `matmul`.
fn product(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    if crate::kernels::is_flex(&a.device()) {
        return crate::kernels::product_flex::product_nn(a, b);
    }
    #[cfg(feature = "wgpu")]
    {
        use super::{resolve, ConvPath};
        if resolve(&a.device()) == ConvPath::Tiled && crate::kernels::has_kernels(&a.device()) {
            return crate::kernels::matmul::matmul_kernel(a, b);
        }
    }
    a.matmul(b)
}

/// `aᵀ · b`: [`product`] of the transposed view, or on flex
/// [`crate::kernels::product_flex::product_tn`].
fn product_transposed(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    if crate::kernels::is_flex(&a.device()) {
        return crate::kernels::product_flex::product_tn(a, b);
    }
    product(a.transpose(), b)
}

/// `a · bᵀ`: [`product`] with the transposed view, or on flex
/// [`crate::kernels::product_flex::product_nt`].
fn product_by_transposed(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    if crate::kernels::is_flex(&a.device()) {
        return crate::kernels::product_flex::product_nt(a, b);
    }
    product(a, b.transpose())
}

/// `[N, C, h, w]` → `[C, N·h·w]`: a view of the channel-major activations the kit's
/// convolutions and kernels hand on. A `1×1` image of several channels (the generator's latent
/// input) is usually contiguous NCHW instead, and there `[N, C]` transposed is the view. (One
/// channel is a view either way; the swap keeps the row stride a product kernel reads as vec4.)
fn channels_first(t: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = t.dims();
    if h * w == 1 && c > 1 {
        return t.reshape([n, c]).transpose();
    }
    t.swap_dims(0, 1).reshape([c, n * h * w])
}

/// `[C, N·h·w]` → `[N, C, h, w]`.
fn batch_first(t: Tensor<2>, n: usize, h: usize, w: usize) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([c, n, h, w]).swap_dims(0, 1)
}

/// `conv2d(x, W)` with `W: [C_out, C_in, k, k]`, no bias.
pub fn conv2d_gemm(x: Tensor<4>, w: Tensor<4>, stride: usize, padding: usize) -> Tensor<4> {
    let [c_out, c_in, k, _] = w.dims();
    let g = Patches::conv(x.dims(), k, stride, padding);
    assert_eq!(
        g.c, c_in,
        "conv2d: input has {} channels, weight expects {c_in}",
        g.c
    );
    let y = product(w.reshape([c_out, g.rows()]), im2col(x, g));
    batch_first(y, g.n, g.ho, g.wo)
}

/// The input gradient of `y = conv2d(x, W)` for an input of spatial size `hw`:
/// `gy [N, C_out, ho, wo]` → `[N, C_in, h, w]`. This is also `conv_transpose2d(gy, W)`.
pub fn conv2d_input_grad_gemm(
    gy: Tensor<4>,
    w: Tensor<4>,
    hw: [usize; 2],
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let [c_out, c_in, k, _] = w.dims();
    let [n, _, ho, wo] = gy.dims();
    let g = Patches::conv([n, c_in, hw[0], hw[1]], k, stride, padding);
    assert_eq!(
        [g.ho, g.wo],
        [ho, wo],
        "conv2d input gradient: a {}×{} input gives {}×{} outputs, the gradient is {ho}×{wo}",
        hw[0],
        hw[1],
        g.ho,
        g.wo
    );
    let cols = product_transposed(w.reshape([c_out, g.rows()]), channels_first(gy));
    col2im(cols, g)
}

/// The weight gradient of `y = conv2d(x, W)`: `Σ_batch gy ⋆ x` as `[C_out, C_in, k, k]`.
pub fn conv2d_weight_grad_gemm(
    x: Tensor<4>,
    gy: Tensor<4>,
    k: usize,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let g = Patches::conv(x.dims(), k, stride, padding);
    let [_, c_out, ho, wo] = gy.dims();
    assert_eq!(
        [g.ho, g.wo],
        [ho, wo],
        "conv2d weight gradient: the input gives {}×{} outputs, the gradient is {ho}×{wo}",
        g.ho,
        g.wo
    );
    product_by_transposed(channels_first(gy), im2col(x, g)).reshape([c_out, g.c, k, k])
}
