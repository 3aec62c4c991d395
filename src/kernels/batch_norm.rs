//! BatchNorm in training mode as WGSL kernels (`shaders/batch_norm_*.wgsl`): the forward
//! with the running-statistics update, the backward, and the backward's vector-Jacobian
//! product (what a gradient penalty's double backward needs). Each takes 2 launches on wgpu
//! where its tensor-op form below (`*_reference`, what ndarray and f64 run) takes 20–60; on
//! the flex CPU backend the same formulas run as two loops over each channel
//! (`batch_norm_flex.rs`).
//!
//! Statistics per channel of `x [N, C, H, W]` over N, H and W, `M = N·H·W` values each:
//! `μ`, the biased `σ²`, `s = 1/√(σ² + ε)`, `x̂ = (x − μ)·s`.
//!
//! Every function takes `groups`: the batch is that many equal groups along N (a critic's one
//! pass over its real, fake and penalty batches, [`crate::layers::Network::trace_groups`]), each
//! normalised with its own statistics, exactly as separate calls on each group would (the
//! running statistics move once per group, in order; parameter gradients are summed). 1: the
//! whole batch. The references run the groups one by one.

use crate::layers::StatAxes;
use burn::tensor::Tensor;

/// ε and the running-average momentum of a BatchNorm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormScalars {
    pub eps: f64,
    pub momentum: f64,
}

impl BatchNormScalars {
    /// ε as the f32 bits the kernels are compiled with.
    #[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
    fn eps_bits(&self) -> u32 {
        (self.eps as f32).to_bits()
    }
}

/// `x` split along N into `groups` equal groups.
fn split(x: Tensor<4>, groups: usize) -> Vec<Tensor<4>> {
    let n = x.dims()[0];
    assert!(
        groups >= 1 && n.is_multiple_of(groups),
        "BatchNorm: a batch of {n} does not split into {groups} equal groups"
    );
    x.chunk(groups, 0)
}

/// The groups' results side by side again, and their per-channel vectors summed.
fn join(parts: Vec<(Tensor<4>, Tensor<1>, Tensor<1>)>) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let mut a = Vec::with_capacity(parts.len());
    let mut sums: Option<(Tensor<1>, Tensor<1>)> = None;
    for (t, u, v) in parts {
        a.push(t);
        sums = Some(match sums {
            Some((su, sv)) => (su + u, sv + v),
            None => (u, v),
        });
    }
    let (u, v) = sums.expect("at least one group");
    (Tensor::cat(a, 0), u, v)
}

/// `[C]` as `[1, C, 1, 1]`.
pub(crate) fn channel(t: Tensor<1>) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([1, c, 1, 1])
}

/// The batch's per-channel mean and biased variance, `[1, C, 1, 1]`, differentiable in `x`.
pub(crate) fn batch_stats(x: &Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let mean = StatAxes::Channel.mean(x.clone());
    let var = StatAxes::Channel.mean((x.clone() - mean.clone()).square());
    (mean, var)
}

/// `(x̂, s)` from the batch statistics of `x`, differentiable in `x`.
fn normalise(x: Tensor<4>, eps: f64) -> (Tensor<4>, Tensor<4>) {
    let (mean, var) = batch_stats(&x);
    let inv_std = var.add_scalar(eps).sqrt().recip();
    ((x - mean) * inv_std.clone(), inv_std)
}

/// Plain-tensor reference of the forward: `(y, running_mean', running_var')` with
/// `y = x̂·γ + β` (differentiable in `x`, `γ`, `β`) and the running statistics moved towards
/// the batch's by `momentum` (the variance unbiased, `·M/(M−1)`, as PyTorch; not tracked).
pub fn batch_norm_forward_reference(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    s: BatchNormScalars,
    groups: usize,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    if groups > 1 {
        let (mut rm, mut rv) = (running_mean, running_var);
        let mut ys = Vec::with_capacity(groups);
        for part in split(x, groups) {
            let (y, m, v) =
                batch_norm_forward_reference(part, gamma.clone(), beta.clone(), rm, rv, s, 1);
            ys.push(y);
            (rm, rv) = (m, v);
        }
        return (Tensor::cat(ys, 0), rm, rv);
    }
    let [n, c, h, w] = x.dims();
    let count = (n * h * w) as f64;
    let (mean, var) = batch_stats(&x);
    let m = s.momentum;
    let rm = running_mean.mul_scalar(1.0 - m) + mean.clone().detach().reshape([c]).mul_scalar(m);
    let unbiased = var
        .clone()
        .detach()
        .mul_scalar(count / (count - 1.0).max(1.0));
    let rv = running_var.mul_scalar(1.0 - m) + unbiased.reshape([c]).mul_scalar(m);
    let inv_std = var.add_scalar(s.eps).sqrt().recip();
    let xhat = (x - mean) * inv_std;
    (
        xhat * channel(gamma) + channel(beta),
        rm.detach(),
        rv.detach(),
    )
}

/// Plain-tensor reference of the backward from the upstream gradient `gy`:
/// `(gx, ∂γ, ∂β)` with `gx = γ·s·(gy − mean(gy) − x̂·mean(gy·x̂))` (the batch statistics'
/// share included), `∂γ = Σ gy·x̂`, `∂β = Σ gy`; differentiable in `x`, `gy` and `γ`.
pub fn batch_norm_backward_reference(
    x: Tensor<4>,
    gy: Tensor<4>,
    gamma: Tensor<1>,
    eps: f64,
    groups: usize,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    if groups > 1 {
        let parts = split(x, groups).into_iter().zip(split(gy, groups));
        return join(
            parts
                .map(|(x, gy)| batch_norm_backward_reference(x, gy, gamma.clone(), eps, 1))
                .collect(),
        );
    }
    let c = gamma.dims()[0];
    let (xhat, inv_std) = normalise(x, eps);
    let gx = input_grad(gy.clone(), gamma, xhat.clone(), inv_std);
    let grad_gamma = StatAxes::Channel.sum(gy.clone() * xhat).reshape([c]);
    let grad_beta = StatAxes::Channel.sum(gy).reshape([c]);
    (gx, grad_gamma, grad_beta)
}

/// `gx` of the reference backward from the statistics.
fn input_grad(gy: Tensor<4>, gamma: Tensor<1>, xhat: Tensor<4>, inv_std: Tensor<4>) -> Tensor<4> {
    crate::layers::normalisation_backward(gy * channel(gamma), xhat, inv_std, StatAxes::Channel)
}

/// Plain-tensor reference of the backward's vector-Jacobian product: with `u = ∂L/∂gx`,
/// per channel `G₁ = Σgy`, `G₂ = Σgy·x̂`, `U₁ = Σu`, `U₂ = Σu·x̂`, `R = Σu·gy` and
/// `Q = R − (G₁U₁ + G₂U₂)/M`, returns `(∂L/∂x, ∂L/∂gy, ∂L/∂γ)`:
///
/// * `∂L/∂gy = γ·s·(u − U₁/M − x̂·U₂/M)` (the backward is `γ·P(gy)` with `P` symmetric),
/// * `∂L/∂γ = s·Q`,
/// * `∂L/∂x = −s²γ·(Q/M·x̂ + G₂/M·u + U₂/M·gy − (G₂U₁ + U₂G₁)/M² − 2G₂U₂/M²·x̂)`
///   (from `∂s/∂x = −s²x̂/M` and `∂x̂/∂x = P`).
///
/// Not differentiated again (values only).
pub fn batch_norm_backward_vjp_reference(
    x: Tensor<4>,
    gy: Tensor<4>,
    gamma: Tensor<1>,
    u: Tensor<4>,
    eps: f64,
    groups: usize,
) -> (Tensor<4>, Tensor<4>, Tensor<1>) {
    if groups > 1 {
        let (mut dx, mut dgy, mut dgamma) = (Vec::new(), Vec::new(), None);
        let parts = split(x, groups).into_iter().zip(split(gy, groups));
        for ((x, gy), u) in parts.zip(split(u, groups)) {
            let (a, b, g) = batch_norm_backward_vjp_reference(x, gy, gamma.clone(), u, eps, 1);
            dx.push(a);
            dgy.push(b);
            dgamma = Some(match dgamma {
                Some(sum) => sum + g,
                None => g,
            });
        }
        let dgamma = dgamma.expect("at least one group");
        return (Tensor::cat(dx, 0), Tensor::cat(dgy, 0), dgamma);
    }
    let [n, c, h, w] = x.dims();
    let inv_m = 1.0 / (n * h * w) as f64;
    let (xhat, s) = normalise(x.detach(), eps);
    let (gy, u) = (gy.detach(), u.detach());
    let mean = |t: Tensor<4>| StatAxes::Channel.mean(t);
    let g1 = mean(gy.clone());
    let g2 = mean(gy.clone() * xhat.clone());
    let u1 = mean(u.clone());
    let u2 = mean(u.clone() * xhat.clone());
    // Q/M.
    let q = mean(u.clone() * gy.clone()) - (g1.clone() * u1.clone() + g2.clone() * u2.clone());
    let gamma = channel(gamma.detach());
    let dgy = (u.clone() - u1.clone() - xhat.clone() * u2.clone()) * s.clone() * gamma.clone();
    let x_coef = q.clone() - (g2.clone() * u2.clone()).mul_scalar(2.0);
    let constant = g2.clone() * u1 + u2.clone() * g1;
    let dx = (xhat * x_coef + u * g2 + gy * u2 - constant) * (s.clone().square() * gamma).neg();
    let dgamma = (s * q).mul_scalar(1.0 / inv_m).reshape([c]);
    (dx, dgy, dgamma)
}

/// The forward: the kernel on wgpu, the loops on flex (f32), [`batch_norm_forward_reference`]
/// elsewhere.
pub fn batch_norm_forward(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    s: BatchNormScalars,
    groups: usize,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    if super::runs_f32_ops(&x) {
        return batch_norm_forward_kernel(x, gamma, beta, running_mean, running_var, s, groups);
    }
    batch_norm_forward_reference(x, gamma, beta, running_mean, running_var, s, groups)
}

/// The backward's input gradient `gx`: the kernel on wgpu or the loops on flex (its own backward:
/// the VJP op), [`batch_norm_backward_reference`] elsewhere.
pub fn batch_norm_input_grad(
    x: Tensor<4>,
    gy: Tensor<4>,
    gamma: Tensor<1>,
    eps: f64,
    groups: usize,
) -> Tensor<4> {
    if super::runs_f32_ops(&x) && super::runs_f32_ops(&gy) {
        return batch_norm_backward_kernel(x, gy, gamma, eps, groups).0;
    }
    if groups > 1 {
        let parts = split(x, groups).into_iter().zip(split(gy, groups));
        let gx = parts.map(|(x, gy)| batch_norm_input_grad(x, gy, gamma.clone(), eps, 1));
        return Tensor::cat(gx.collect(), 0);
    }
    let (xhat, inv_std) = normalise(x, eps);
    input_grad(gy, gamma, xhat, inv_std)
}

/// `groups` as the kernels take it.
fn groups_u32(groups: usize) -> u32 {
    u32::try_from(groups).expect("BatchNorm: groups exceed u32")
}

use burn::backend::Dispatch;

/// The forward by the WGSL kernels (two launches: partial sums, then the outputs with the
/// running statistics) on wgpu, by two loops over each channel on flex; differentiable in `x`,
/// `γ`, `β` through the backward op.
///
/// # Panics
/// When `x` is not f32 on wgpu or flex (check with [`super::runs_f32_ops`]).
pub fn batch_norm_forward_kernel(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    s: BatchNormScalars,
    groups: usize,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    use super::batch_norm_ops::NO_ACTIVATION;
    let stats = (running_mean, running_var);
    forward_kernel(x, gamma, beta, stats, s, groups, NO_ACTIVATION)
}

/// [`batch_norm_forward_kernel`] with `activation` (`NO_ACTIVATION`, or a LeakyReLU slope's
/// f32 bits) applied to its output in the same launch.
pub(crate) fn forward_kernel(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    (running_mean, running_var): (Tensor<1>, Tensor<1>),
    s: BatchNormScalars,
    groups: usize,
    activation: u32,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    use super::batch_norm_ops::BatchNormOps;
    assert!(
        super::runs_f32_ops(&x),
        "the BatchNorm ops run on f32 tensors on wgpu or flex"
    );
    let (y, rm, rv) = <Dispatch as BatchNormOps>::batch_norm_forward(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        running_mean.into_dispatch(),
        running_var.into_dispatch(),
        [
            s.eps_bits(),
            (s.momentum as f32).to_bits(),
            groups_u32(groups),
            activation,
        ],
    );
    (
        Tensor::from_dispatch(y),
        Tensor::from_dispatch(rm),
        Tensor::from_dispatch(rv),
    )
}

/// The backward by the WGSL kernels (two launches; loops on flex): `(gx, ∂γ, ∂β)`. `gx` is
/// differentiable in `x`, `gy` and `γ` through the VJP op; `∂γ`, `∂β` are values only.
///
/// # Panics
/// As [`batch_norm_forward_kernel`].
pub fn batch_norm_backward_kernel(
    x: Tensor<4>,
    gy: Tensor<4>,
    gamma: Tensor<1>,
    eps: f64,
    groups: usize,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    use super::batch_norm_ops::BatchNormOps;
    assert!(
        super::runs_f32_ops(&x),
        "the BatchNorm ops run on f32 tensors on wgpu or flex"
    );
    let (gx, gg, gb) = <Dispatch as BatchNormOps>::batch_norm_backward(
        x.into_dispatch(),
        gy.into_dispatch(),
        gamma.into_dispatch(),
        [(eps as f32).to_bits(), groups_u32(groups)],
    );
    (
        Tensor::from_dispatch(gx),
        Tensor::from_dispatch(gg),
        Tensor::from_dispatch(gb),
    )
}

/// The backward's VJP by the WGSL kernels (two launches; loops on flex): `(∂L/∂x, ∂L/∂gy,
/// ∂L/∂γ)`.
///
/// # Panics
/// As [`batch_norm_forward_kernel`].
pub fn batch_norm_backward_vjp_kernel(
    x: Tensor<4>,
    gy: Tensor<4>,
    gamma: Tensor<1>,
    u: Tensor<4>,
    eps: f64,
    groups: usize,
) -> (Tensor<4>, Tensor<4>, Tensor<1>) {
    use super::batch_norm_ops::BatchNormOps;
    assert!(
        super::runs_f32_ops(&x),
        "the BatchNorm ops run on f32 tensors on wgpu or flex"
    );
    let (dx, dgy, dg) = <Dispatch as BatchNormOps>::batch_norm_backward_vjp(
        x.into_dispatch(),
        gy.into_dispatch(),
        gamma.into_dispatch(),
        u.into_dispatch(),
        [(eps as f32).to_bits(), groups_u32(groups)],
    );
    (
        Tensor::from_dispatch(dx),
        Tensor::from_dispatch(dgy),
        Tensor::from_dispatch(dg),
    )
}
