//! The layer kit's kernels. BatchNorm in training mode (`margan::kernels::batch_norm`): the
//! VJP formula of the backward and the backward against burn's autodiff of the plain-tensor
//! references (CPU), then each WGSL kernel against its reference, and the kernels' autodiff
//! wiring against burn's autodiff of the references. ReLU / LeakyReLU
//! (`margan::kernels::leaky_scale`): the kernel against burn's activations and the reference
//! input gradient, and through autodiff. (wgpu tests run on Mesa lavapipe in CI; without an
//! adapter they print why and pass, except when `MARGAN_REQUIRE_GPU=1`.)

mod common;

use burn::tensor::{Device, Tensor};
use common::assert_close;
use margan::kernels::batch_norm::{
    batch_norm_backward_reference, batch_norm_backward_vjp_reference, batch_norm_forward_reference,
    BatchNormScalars,
};
use margan::rng::Rng;

const SCALARS: BatchNormScalars = BatchNormScalars {
    eps: 1e-5,
    momentum: 0.1,
};

/// BatchNorm1d (`[N, F, 1, 1]`, three values per channel: with two, `x̂ = ±1` and the input
/// gradient is identically zero), batch 1, fewer values per channel than a workgroup, odd
/// sizes beyond it, a DCGAN-like layer, and channels of more than one range of the kernels'
/// partial sums (4096 values: 2 ranges, the last short, and 3).
const SHAPES: [[usize; 4]; 7] = [
    [3, 3, 1, 1],
    [1, 4, 3, 5],
    [5, 3, 7, 9],
    [4, 2, 16, 16],
    [16, 8, 4, 4],
    [9, 2, 25, 23],
    [5, 3, 41, 43],
];

/// The groups a batch of `n` is tested with (each normalised on its own, as in a critic's one
/// pass over real, fake and penalty samples): 1, and 2 or 3 where they divide `n`.
fn groups_of(n: usize) -> Vec<usize> {
    let mut g = vec![1];
    g.extend([2, 3].into_iter().filter(|&k| n.is_multiple_of(k)));
    g
}

/// `x [N, C, H, W]`, contiguous or as the channel-major view a GEMM convolution returns, with
/// a trend along the batch (so the kernels' ranges of a channel have different means).
fn input(shape: [usize; 4], channel_major: bool, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [n, c, h, w] = shape;
    let trend = |axis: usize| {
        let mut dims = [1; 4];
        dims[axis] = n;
        Tensor::<1, burn::tensor::Int>::arange(0..n as i64, device)
            .float()
            .mul_scalar(0.4)
            .reshape(dims)
    };
    if channel_major {
        (rng.normal_tensor([c, n, h, w], 0.7, 1.9, device) + trend(1)).swap_dims(0, 1)
    } else {
        rng.normal_tensor(shape, 0.7, 1.9, device) + trend(0)
    }
}

fn vector(c: usize, mean: f64, rng: &mut Rng, device: &Device) -> Tensor<1> {
    rng.normal_tensor([c], mean, 0.5, device)
}

/// `Σ w·t`: a loss with a random upstream gradient `w`.
fn weighted<const D: usize>(t: Tensor<D>, w: &Tensor<D>) -> Tensor<1> {
    (t * w.clone()).sum()
}

#[test]
fn batch_norm_backward_reference_matches_autodiff() {
    let device = common::device();
    let mut rng = Rng::new(11);
    for shape in SHAPES {
        for view in [false, true] {
            let what = format!("{shape:?}, channel-major {view}");
            let c = shape[1];
            let x = input(shape, view, &mut rng, &device).require_grad();
            let gamma = vector(c, 1.0, &mut rng, &device).require_grad();
            let beta = vector(c, 0.0, &mut rng, &device).require_grad();
            let gy = rng.normal_tensor(shape, 0.0, 1.0, &device);
            let (rm, rv) = (Tensor::zeros([c], &device), Tensor::ones([c], &device));
            let (y, _, _) = batch_norm_forward_reference(
                x.clone(),
                gamma.clone(),
                beta.clone(),
                rm,
                rv,
                SCALARS,
                1,
            );
            let grads = weighted(y, &gy).backward();
            let (gx, gg, gb) = batch_norm_backward_reference(
                x.clone().detach(),
                gy,
                gamma.clone().detach(),
                SCALARS.eps,
                1,
            );
            assert_close(gx, x.grad(&grads).unwrap(), 1e-4, &format!("∂x, {what}"));
            assert_close(
                gg,
                gamma.grad(&grads).unwrap(),
                1e-4,
                &format!("∂γ, {what}"),
            );
            assert_close(gb, beta.grad(&grads).unwrap(), 1e-4, &format!("∂β, {what}"));
        }
    }
}

#[test]
fn batch_norm_vjp_reference_matches_autodiff() {
    let device = common::device();
    let mut rng = Rng::new(12);
    for shape in SHAPES {
        for view in [false, true] {
            let what = format!("{shape:?}, channel-major {view}");
            let c = shape[1];
            let x = input(shape, view, &mut rng, &device).require_grad();
            let gy = rng.normal_tensor(shape, 0.0, 1.0, &device).require_grad();
            let gamma = vector(c, 1.0, &mut rng, &device).require_grad();
            let u = rng.normal_tensor(shape, 0.0, 1.0, &device);
            let (gx, _, _) =
                batch_norm_backward_reference(x.clone(), gy.clone(), gamma.clone(), SCALARS.eps, 1);
            let grads = weighted(gx, &u).backward();
            let (dx, dgy, dgamma) = batch_norm_backward_vjp_reference(
                x.clone(),
                gy.clone(),
                gamma.clone(),
                u,
                SCALARS.eps,
                1,
            );
            assert_close(dx, x.grad(&grads).unwrap(), 2e-4, &format!("∂x, {what}"));
            assert_close(dgy, gy.grad(&grads).unwrap(), 1e-4, &format!("∂gy, {what}"));
            assert_close(
                dgamma,
                gamma.grad(&grads).unwrap(),
                1e-4,
                &format!("∂γ, {what}"),
            );
        }
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use common::gpu;
    use margan::kernels::batch_norm::{
        batch_norm_backward_kernel, batch_norm_backward_vjp_kernel, batch_norm_forward,
        batch_norm_forward_kernel, batch_norm_input_grad,
    };
    use margan::kernels::leaky_scale::{
        leaky_relu, leaky_relu_grad, leaky_relu_grad_reference, leaky_relu_reference,
    };

    /// An upstream gradient: contiguous, a permuted view, or broadcast along H (a stride-0
    /// view), as burn's autodiff hands them out. (Not constant per channel: the input gradient
    /// of a constant is zero.)
    fn upstream(shape: [usize; 4], layout: usize, rng: &mut Rng, device: &Device) -> Tensor<4> {
        let [n, c, h, w] = shape;
        match layout {
            0 => rng.normal_tensor(shape, 0.0, 1.0, device),
            1 => rng
                .normal_tensor([n, h, w, c], 0.0, 1.0, device)
                .permute([0, 3, 1, 2]),
            _ => rng
                .normal_tensor([n, c, 1, w], 0.0, 1.0, device)
                .expand(shape),
        }
    }

    #[test]
    fn batch_norm_forward_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(21);
        for shape in SHAPES {
            for (view, groups) in [false, true]
                .into_iter()
                .flat_map(|v| groups_of(shape[0]).into_iter().map(move |g| (v, g)))
            {
                let what = format!("{shape:?}, channel-major {view}, {groups} groups");
                let c = shape[1];
                let x = input(shape, view, &mut rng, &gpu);
                let gamma = vector(c, 1.0, &mut rng, &gpu);
                let beta = vector(c, 0.0, &mut rng, &gpu);
                let rm = vector(c, 0.3, &mut rng, &gpu);
                let rv = vector(c, 1.5, &mut rng, &gpu).abs();
                let args = (x, gamma, beta, rm, rv);
                let run = |f: fn(_, _, _, _, _, _, _) -> (Tensor<4>, Tensor<1>, Tensor<1>)| {
                    let a = args.clone();
                    f(a.0, a.1, a.2, a.3, a.4, SCALARS, groups)
                };
                let (y, rm1, rv1) = run(batch_norm_forward_kernel);
                let (y_ref, rm_ref, rv_ref) = run(batch_norm_forward_reference);
                assert_close(y, y_ref, 1e-5, &format!("y, {what}"));
                assert_close(rm1, rm_ref, 1e-5, &format!("running mean, {what}"));
                assert_close(rv1, rv_ref, 1e-5, &format!("running variance, {what}"));
            }
        }
    }

    #[test]
    fn batch_norm_backward_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(22);
        for shape in SHAPES {
            let layouts = [(false, 0), (true, 0), (false, 1), (true, 2)];
            for ((view, layout), groups) in layouts
                .into_iter()
                .flat_map(|l| groups_of(shape[0]).into_iter().map(move |g| (l, g)))
            {
                let what =
                    format!("{shape:?}, channel-major {view}, gy layout {layout}, {groups} groups");
                let x = input(shape, view, &mut rng, &gpu);
                let gy = upstream(shape, layout, &mut rng, &gpu);
                let gamma = vector(shape[1], 1.0, &mut rng, &gpu);
                let (gx, gg, gb) = batch_norm_backward_kernel(
                    x.clone(),
                    gy.clone(),
                    gamma.clone(),
                    SCALARS.eps,
                    groups,
                );
                let (gx_ref, gg_ref, gb_ref) =
                    batch_norm_backward_reference(x, gy, gamma, SCALARS.eps, groups);
                assert_close(gx, gx_ref, 2e-5, &format!("gx, {what}"));
                assert_close(gg, gg_ref, 2e-5, &format!("∂γ, {what}"));
                assert_close(gb, gb_ref, 2e-5, &format!("∂β, {what}"));
            }
        }
    }

    #[test]
    fn batch_norm_backward_vjp_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(23);
        for shape in SHAPES {
            let layouts = [(false, 0), (true, 1), (false, 2), (true, 0)];
            for ((view, layout), groups) in layouts
                .into_iter()
                .flat_map(|l| groups_of(shape[0]).into_iter().map(move |g| (l, g)))
            {
                let what = format!(
                    "{shape:?}, channel-major {view}, gradient layout {layout}, {groups} groups"
                );
                let x = input(shape, view, &mut rng, &gpu);
                let gy = upstream(shape, layout, &mut rng, &gpu);
                let u = upstream(shape, (layout + 1) % 3, &mut rng, &gpu);
                let gamma = vector(shape[1], 1.0, &mut rng, &gpu);
                let args = (x, gy, gamma, u);
                let (dx, dgy, dg) = {
                    let a = args.clone();
                    batch_norm_backward_vjp_kernel(a.0, a.1, a.2, a.3, SCALARS.eps, groups)
                };
                let (dx_ref, dgy_ref, dg_ref) = batch_norm_backward_vjp_reference(
                    args.0,
                    args.1,
                    args.2,
                    args.3,
                    SCALARS.eps,
                    groups,
                );
                assert_close(dx, dx_ref, 1e-4, &format!("∂x, {what}"));
                assert_close(dgy, dgy_ref, 2e-5, &format!("∂gy, {what}"));
                assert_close(dg, dg_ref, 1e-4, &format!("∂γ, {what}"));
            }
        }
    }

    /// One tensor passed as two arguments (WebGPU refuses a buffer bound twice as writable
    /// storage, so the kernels bind it once or copy it): still the reference's values.
    #[test]
    fn layer_kernels_take_one_tensor_twice() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(25);
        let shape = [5, 3, 40, 40];
        let x = input(shape, true, &mut rng, &gpu);
        let gamma = vector(shape[1], 1.0, &mut rng, &gpu);
        // gy: x transposed in H and W (gy = x itself gives gx = 0: x̂ spans it).
        let gy = x.clone().swap_dims(2, 3);
        let (gx, gg, gb) =
            batch_norm_backward_kernel(x.clone(), gy.clone(), gamma.clone(), SCALARS.eps, 1);
        let (gx_ref, gg_ref, gb_ref) =
            batch_norm_backward_reference(x.clone(), gy, gamma.clone(), SCALARS.eps, 1);
        assert_close(gx, gx_ref, 2e-5, "BatchNorm backward, gy a view of x");
        assert_close(gg, gg_ref, 2e-5, "BatchNorm ∂γ, gy a view of x");
        assert_close(gb, gb_ref, 2e-5, "BatchNorm ∂β, gy a view of x");
        let gy = rng.normal_tensor(shape, 0.0, 1.0, &gpu);
        let (dx, dgy, dg) = batch_norm_backward_vjp_kernel(
            x.clone(),
            gy.clone(),
            gamma.clone(),
            gy.clone(),
            SCALARS.eps,
            1,
        );
        let (dx_ref, dgy_ref, dg_ref) =
            batch_norm_backward_vjp_reference(x.clone(), gy.clone(), gamma, gy, SCALARS.eps, 1);
        assert_close(dx, dx_ref, 1e-4, "BatchNorm VJP ∂x, u = gy");
        assert_close(dgy, dgy_ref, 2e-5, "BatchNorm VJP ∂gy, u = gy");
        assert_close(dg, dg_ref, 1e-4, "BatchNorm VJP ∂γ, u = gy");
        // The activation's forward binds x once; a transposed view of x as t is copied.
        let x = input([4, 6, 6, 3], false, &mut rng, &gpu);
        for slope in [0.0, 0.2] {
            assert_close(
                leaky_relu_grad(x.clone(), x.clone(), slope),
                leaky_relu_reference(x.clone(), slope),
                1e-6,
                &format!("leaky_scale(x, x), slope {slope}"),
            );
            let t = x.clone().permute([0, 1, 3, 2]).reshape([4, 6, 6, 3]);
            assert_close(
                leaky_relu_grad(x.clone(), t.clone(), slope),
                leaky_relu_grad_reference(x.clone(), t, slope),
                1e-6,
                &format!("leaky_scale(x, view of x), slope {slope}"),
            );
        }
    }

    /// What a penalised critic step does with a BatchNorm: its forward, and its input gradient
    /// for some upstream gradient, both in one loss; burn's autodiff then runs the forward's
    /// backward kernel and the backward's VJP kernel. Against burn's autodiff of the tensor
    /// ops (the references), on the same device.
    #[test]
    fn batch_norm_kernels_autodiff_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(24);
        for shape in SHAPES {
            for (view, groups) in [false, true]
                .into_iter()
                .flat_map(|v| groups_of(shape[0]).into_iter().map(move |g| (v, g)))
            {
                let what = format!("{shape:?}, channel-major {view}, {groups} groups");
                let c = shape[1];
                let x0 = input(shape, view, &mut rng, &gpu);
                let g0 = vector(c, 1.0, &mut rng, &gpu);
                let b0 = vector(c, 0.0, &mut rng, &gpu);
                let gy0 = rng.normal_tensor(shape, 0.0, 1.0, &gpu);
                let (w, v) = (
                    rng.normal_tensor(shape, 0.0, 1.0, &gpu),
                    rng.normal_tensor(shape, 0.0, 1.0, &gpu),
                );
                let grads = |kernels: bool| {
                    let x = x0.clone().require_grad();
                    let gamma = g0.clone().require_grad();
                    let beta = b0.clone().require_grad();
                    // The upstream gradient depends on the parameters too, as in a network.
                    let gy = gy0.clone() * super::channel(beta.clone());
                    let rm = Tensor::zeros([c], &gpu);
                    let rv = Tensor::ones([c], &gpu);
                    let (y, gx) = if kernels {
                        let (y, _, _) = batch_norm_forward(
                            x.clone(),
                            gamma.clone(),
                            beta.clone(),
                            rm,
                            rv,
                            SCALARS,
                            groups,
                        );
                        (
                            y,
                            batch_norm_input_grad(
                                x.clone(),
                                gy,
                                gamma.clone(),
                                SCALARS.eps,
                                groups,
                            ),
                        )
                    } else {
                        let (y, _, _) = batch_norm_forward_reference(
                            x.clone(),
                            gamma.clone(),
                            beta.clone(),
                            rm,
                            rv,
                            SCALARS,
                            groups,
                        );
                        (
                            y,
                            batch_norm_backward_reference(
                                x.clone(),
                                gy,
                                gamma.clone(),
                                SCALARS.eps,
                                groups,
                            )
                            .0,
                        )
                    };
                    let g = (weighted(y, &w) + weighted(gx.clone() * gx, &v)).backward();
                    (
                        x.grad(&g).unwrap(),
                        gamma.grad(&g).unwrap(),
                        beta.grad(&g).unwrap(),
                    )
                };
                let (gx, gg, gb) = grads(true);
                let (gx_ref, gg_ref, gb_ref) = grads(false);
                assert_close(gx, gx_ref, 1e-4, &format!("∂x, {what}"));
                assert_close(gg, gg_ref, 1e-4, &format!("∂γ, {what}"));
                assert_close(gb, gb_ref, 1e-4, &format!("∂β, {what}"));
            }
        }
    }

    /// `x` with exact zeros (the mask's edge: slope there, 0 for ReLU) and both signs.
    fn with_zeros(shape: [usize; 4], view: bool, rng: &mut Rng, device: &Device) -> Tensor<4> {
        let x = input(shape, view, rng, device);
        let zeros = rng.uniform_tensor(shape, 0.0, 1.0, device).lower_elem(0.2);
        x.clone().mask_fill(zeros, 0.0) - x.mean().reshape([1, 1, 1, 1])
    }

    const ACTIVATION_SHAPES: [[usize; 4]; 4] =
        [[1, 1, 1, 1], [3, 5, 4, 2], [2, 3, 17, 19], [64, 8, 16, 16]];

    #[test]
    fn leaky_scale_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(31);
        for slope in [0.0, 0.2] {
            for shape in ACTIVATION_SHAPES {
                for (view, layout) in [(false, 0), (true, 1), (false, 2), (true, 0)] {
                    let what = format!(
                        "slope {slope}, {shape:?}, x channel-major {view}, gy layout {layout}"
                    );
                    let x = with_zeros(shape, view, &mut rng, &gpu);
                    let gy = upstream(shape, layout, &mut rng, &gpu);
                    assert_close(
                        leaky_relu(x.clone(), slope),
                        leaky_relu_reference(x.clone(), slope),
                        1e-6,
                        &format!("forward, {what}"),
                    );
                    assert_close(
                        leaky_relu_grad(x.clone(), gy.clone(), slope),
                        leaky_relu_grad_reference(x, gy, slope),
                        1e-6,
                        &format!("input gradient, {what}"),
                    );
                }
            }
        }
    }

    /// The forward and the input gradient in one loss, as in a penalised critic, through burn's
    /// autodiff: kernels against the references on the same device. (No exact zeros in `x`:
    /// there the kernel's forward derivative is `slope`, as PyTorch's, burn's `leaky_relu` 1.)
    #[test]
    fn leaky_scale_autodiff_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(32);
        for slope in [0.0, 0.2] {
            for shape in ACTIVATION_SHAPES {
                let what = format!("slope {slope}, {shape:?}");
                let x0 = input(shape, true, &mut rng, &gpu);
                let a0 = rng.normal_tensor(shape, 0.0, 1.0, &gpu);
                let (w, v) = (
                    rng.normal_tensor(shape, 0.0, 1.0, &gpu),
                    rng.normal_tensor(shape, 0.0, 1.0, &gpu),
                );
                let grads = |kernels: bool| {
                    let x = x0.clone().require_grad();
                    let a = a0.clone().require_grad();
                    // The upstream gradient depends on x and a, as in a network.
                    let gy = a.clone() * x.clone();
                    let (y, gx) = if kernels {
                        (
                            leaky_relu(x.clone(), slope),
                            leaky_relu_grad(x.clone(), gy, slope),
                        )
                    } else {
                        (
                            leaky_relu_reference(x.clone(), slope),
                            leaky_relu_grad_reference(x.clone(), gy, slope),
                        )
                    };
                    let g = (weighted(y, &w) + weighted(gx.clone() * gx, &v)).backward();
                    (x.grad(&g).unwrap(), a.grad(&g).unwrap())
                };
                let (gx, ga) = grads(true);
                let (gx_ref, ga_ref) = grads(false);
                assert_close(gx, gx_ref, 1e-5, &format!("∂x, {what}"));
                assert_close(ga, ga_ref, 1e-5, &format!("∂a, {what}"));
            }
        }
    }
}

/// `[C]` as `[1, C, 1, 1]`.
#[allow(dead_code)]
fn channel(t: Tensor<1>) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([1, c, 1, 1])
}
