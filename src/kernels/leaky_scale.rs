//! ReLU and LeakyReLU as one op: `leaky_scale(x, t) = t · (x > 0 ? 1 : slope)` is the forward
//! (`t = x`) and the input gradient (`t = gy`), and its own backward in `t`. On wgpu it is one
//! kernel (`shaders/leaky_scale.wgsl`), one launch each way where burn's ops take 2–3 for the
//! forward and 4–5 for their autodiff backward; on the flex CPU backend one loop.

use burn::tensor::{activation, Tensor};

/// Plain-tensor reference of the forward, burn's activations (what ndarray and f64 run):
/// `max(0, x)` for `slope = 0`, else `x` for `x > 0` and `slope·x` otherwise. (At exactly
/// `x = 0` burn differentiates `leaky_relu` as 1, the kernel as `slope`, as PyTorch does.)
pub fn leaky_relu_reference(x: Tensor<4>, slope: f64) -> Tensor<4> {
    if slope == 0.0 {
        activation::relu(x)
    } else {
        activation::leaky_relu(x, slope)
    }
}

/// Plain-tensor reference of the input gradient: `gy · (x > 0 ? 1 : slope)` (0 at 0 for ReLU,
/// as PyTorch), differentiable in `gy`; the mask is a constant, so second derivatives are
/// exact (zero) in `x`.
pub fn leaky_relu_grad_reference(x: Tensor<4>, gy: Tensor<4>, slope: f64) -> Tensor<4> {
    if slope == 0.0 {
        gy.mask_fill(x.lower_equal_elem(0.0), 0.0)
    } else {
        let factor = x
            .greater_elem(0.0)
            .float()
            .mul_scalar(1.0 - slope)
            .add_scalar(slope)
            .detach();
        gy * factor
    }
}

/// Whether [`leaky_scale_kernel`] takes `t`: f32 on wgpu (the WGSL kernel; f16 tensors too
/// are left to the references) or on the flex CPU backend (one loop).
pub fn runs_kernel(t: &Tensor<4>) -> bool {
    super::runs_f32_ops(t)
}

/// The forward: the kernel where [`runs_kernel`], [`leaky_relu_reference`] elsewhere.
pub fn leaky_relu(x: Tensor<4>, slope: f64) -> Tensor<4> {
    if runs_kernel(&x) {
        return leaky_scale_kernel(x.clone(), x, slope);
    }
    leaky_relu_reference(x, slope)
}

/// The input gradient: the kernel where [`runs_kernel`], [`leaky_relu_grad_reference`]
/// elsewhere.
pub fn leaky_relu_grad(x: Tensor<4>, gy: Tensor<4>, slope: f64) -> Tensor<4> {
    if runs_kernel(&x) && runs_kernel(&gy) {
        return leaky_scale_kernel(x, gy, slope);
    }
    leaky_relu_grad_reference(x, gy, slope)
}

/// `t · (x > 0 ? 1 : slope)` in one pass (the WGSL kernel on wgpu, one loop on flex),
/// differentiable in `t` (through the same op); `x` is a constant mask source. `x` and `t` may
/// be strided views.
///
/// # Panics
/// When [`runs_kernel`] does not hold for `x`, or the shapes differ.
pub fn leaky_scale_kernel(x: Tensor<4>, t: Tensor<4>, slope: f64) -> Tensor<4> {
    use super::leaky_scale_ops::LeakyScaleOps;
    use burn::backend::Dispatch;
    assert!(
        runs_kernel(&x),
        "the leaky_scale op runs on f32 tensors on wgpu or flex"
    );
    Tensor::from_dispatch(<Dispatch as LeakyScaleOps>::leaky_scale(
        x.into_dispatch(),
        t.into_dispatch(),
        (slope as f32).to_bits(),
    ))
}
