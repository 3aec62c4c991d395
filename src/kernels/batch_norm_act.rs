//! BatchNorm (training mode) with the ReLU / LeakyReLU that follows it fused in: DCGAN's
//! `BatchNorm → LeakyReLU` blocks (ReLU in the generator) as the BatchNorm forward kernel alone,
//! whose output launch applies the activation as it writes (one launch and one pass over the
//! activation fewer per block and pass). Its autodiff backward is the activation's kernel on the
//! upstream gradient, masked by the fused output (`y > 0` exactly where the activation's input
//! is, for a slope ≥ 0), then the BatchNorm backward.
//!
//! [`crate::layers::Network`] takes this path for such blocks in training mode on wgpu and on
//! flex (f32; one loop there, `batch_norm_flex.rs`);
//! [`batch_norm_act_forward_reference`] is the two layers one after the other.

use super::batch_norm::{batch_norm_forward_reference, BatchNormScalars};
use super::leaky_scale::leaky_relu_reference;
use burn::tensor::Tensor;

/// Plain-tensor reference: [`batch_norm_forward_reference`], then
/// [`leaky_relu_reference`] with `slope` (0: ReLU). Returns `(activation, running mean',
/// running var')`.
pub fn batch_norm_act_forward_reference(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    (running_mean, running_var): (Tensor<1>, Tensor<1>),
    s: BatchNormScalars,
    groups: usize,
    slope: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (y, rm, rv) =
        batch_norm_forward_reference(x, gamma, beta, running_mean, running_var, s, groups);
    (leaky_relu_reference(y, slope), rm, rv)
}

/// The fused forward: the kernel on wgpu, the loops on flex (f32),
/// [`batch_norm_act_forward_reference`] elsewhere.
pub fn batch_norm_act_forward(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running: (Tensor<1>, Tensor<1>),
    s: BatchNormScalars,
    groups: usize,
    slope: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    if super::runs_f32_ops(&x) {
        return batch_norm_act_forward_kernel(x, gamma, beta, running, s, groups, slope);
    }
    batch_norm_act_forward_reference(x, gamma, beta, running, s, groups, slope)
}

/// The fused forward by the WGSL kernels (two launches, as the BatchNorm forward alone) or the
/// flex loops, differentiable in `x`, `γ`, `β`.
///
/// # Panics
/// When `x` is not f32 on wgpu or flex (check with [`super::runs_f32_ops`]), or when `slope`
/// is negative (the backward takes the activation's mask from its output).
pub fn batch_norm_act_forward_kernel(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running: (Tensor<1>, Tensor<1>),
    s: BatchNormScalars,
    groups: usize,
    slope: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    assert!(
        slope >= 0.0,
        "a fused BatchNorm activation needs a slope ≥ 0 (got {slope}): its backward reads the \
         activation's mask from the output"
    );
    let activation = (slope as f32).to_bits();
    super::batch_norm::forward_kernel(x, gamma, beta, running, s, groups, activation)
}
