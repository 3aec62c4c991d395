//! `tanh` whose autodiff backward is one launch on wgpu: `gx = gy · (1 − y²)` from the output
//! (the ReLU kernel's `shaders/leaky_scale.wgsl` with that factor), where burn's backward of
//! `tanh` takes five (the tanh again, a square, a negation, an addition and the product). The
//! forward is burn's `tanh`. First order, as every burn op: a network's input gradient through
//! `Tanh` ([`crate::layers::Tanh`]'s `backward_input`) stays in differentiable tensor ops.

use burn::tensor::Tensor;

/// Plain-tensor reference: burn's `tanh`, differentiated by burn.
pub fn tanh_reference(x: Tensor<4>) -> Tensor<4> {
    x.tanh()
}

/// `tanh(x)` with the one-launch backward.
///
/// # Panics
/// When `x` is not on a wgpu device (check with [`super::has_kernels`]) or not f32.
#[cfg(feature = "wgpu")]
pub fn tanh_kernel(x: Tensor<4>) -> Tensor<4> {
    use super::tanh_cube::TanhOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&x.device()),
        "the tanh kernel runs on the wgpu backend only"
    );
    Tensor::from_dispatch(<Dispatch as TanhOps>::tanh_forward(x.into_dispatch()))
}

/// The kernel on wgpu (f32), the reference elsewhere.
pub fn tanh(x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "wgpu")]
    if super::runs_f32_kernels(&x) {
        return tanh_kernel(x);
    }
    tanh_reference(x)
}
