//! The layer kit's BatchNorm kernels in training mode (`margan::kernels::batch_norm`): the
//! VJP formula of the backward and the backward against burn's autodiff of the plain-tensor
//! references (CPU), then each op (the WGSL kernels on wgpu, the loops on flex) against its
//! reference, with 1 to 3 groups of the
//! batch, and the kernels' autodiff wiring against burn's autodiff of the references. (The
//! activations' kernel: `tests/leaky_scale_kernel.rs`. wgpu tests run on Mesa lavapipe in CI;
//! without an adapter they print why and pass, except when `MARGAN_REQUIRE_GPU=1`.)

mod common;

use burn::tensor::{Device, Tensor};
use common::assert_close;
use common::layer_inputs::{input, weighted, LAYOUTS, SHAPES};
use margan::kernels::batch_norm::{
    batch_norm_backward_reference, batch_norm_backward_vjp_reference, batch_norm_forward_reference,
    BatchNormScalars,
};
use margan::rng::Rng;

const SCALARS: BatchNormScalars = BatchNormScalars {
    eps: 1e-5,
    momentum: 0.1,
};

fn vector(c: usize, mean: f64, rng: &mut Rng, device: &Device) -> Tensor<1> {
    rng.normal_tensor([c], mean, 0.5, device)
}

#[test]
fn batch_norm_backward_reference_matches_autodiff() {
    let device = common::device();
    let mut rng = Rng::new(11);
    for shape in SHAPES {
        for view in LAYOUTS {
            let what = format!("{shape:?}, x {view:?}");
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
        for view in LAYOUTS {
            let what = format!("{shape:?}, x {view:?}");
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

/// The checks of each op against its reference, on one device (flex, or wgpu).
mod checks {
    use super::*;
    use common::layer_inputs::upstream;
    use common::layer_inputs::{with_groups, Layout::*};
    use margan::kernels::batch_norm::{
        batch_norm_backward_kernel, batch_norm_backward_vjp_kernel, batch_norm_forward,
        batch_norm_forward_kernel, batch_norm_input_grad,
    };

    pub fn batch_norm_forward_kernel_matches_reference(gpu: Device) {
        let mut rng = Rng::new(21);
        for shape in SHAPES {
            for (view, groups) in with_groups(LAYOUTS, shape[0]) {
                let what = format!("{shape:?}, x {view:?}, {groups} groups");
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

    /// The kernel's running statistics are two views of one buffer; fed back in, as a
    /// BatchNorm's next forward does, they must read as the separate tensors of the reference
    /// (channel counts below, at and past the device's 64-value offset alignment).
    pub fn batch_norm_running_statistics_chain_matches_reference(gpu: Device) {
        let mut rng = Rng::new(23);
        for shape in [[4, 3, 5, 5], [6, 64, 2, 3], [2, 70, 3, 1]] {
            for groups in [1, 2] {
                let c = shape[1];
                let gamma = vector(c, 1.0, &mut rng, &gpu);
                let beta = vector(c, 0.0, &mut rng, &gpu);
                let mut kernel = (
                    vector(c, 0.3, &mut rng, &gpu),
                    vector(c, 1.5, &mut rng, &gpu),
                );
                kernel.1 = kernel.1.abs();
                let mut reference = kernel.clone();
                for step in 0..3 {
                    let what = format!("{shape:?}, {groups} groups, forward {step}");
                    let x = input(shape, Nchw, &mut rng, &gpu);
                    let (g, b) = (gamma.clone(), beta.clone());
                    let (y, rm, rv) = batch_norm_forward_kernel(
                        x.clone(),
                        g.clone(),
                        b.clone(),
                        kernel.0,
                        kernel.1,
                        SCALARS,
                        groups,
                    );
                    let (y_ref, rm_ref, rv_ref) = batch_norm_forward_reference(
                        x,
                        g,
                        b,
                        reference.0,
                        reference.1,
                        SCALARS,
                        groups,
                    );
                    assert_close(y, y_ref, 1e-5, &format!("y, {what}"));
                    assert_eq!(rm.dims(), [c], "{what}");
                    assert_close(rm.clone(), rm_ref.clone(), 1e-5, &format!("mean, {what}"));
                    assert_close(rv.clone(), rv_ref.clone(), 1e-5, &format!("var, {what}"));
                    // Ordinary tensor ops read the views as what they are.
                    let sum = rm.clone() + rv.clone();
                    assert_close(sum, rm_ref.clone() + rv_ref.clone(), 1e-5, &what);
                    (kernel, reference) = ((rm, rv), (rm_ref, rv_ref));
                }
            }
        }
    }

    pub fn batch_norm_backward_kernel_matches_reference(gpu: Device) {
        let mut rng = Rng::new(22);
        for shape in SHAPES {
            let layouts = [
                (Nchw, 0),
                (ChannelMajor, 0),
                (Nchw, 1),
                (ChannelMajor, 2),
                (ChannelMajorRows, 1),
            ];
            for ((view, layout), groups) in with_groups(layouts, shape[0]) {
                let what = format!("{shape:?}, x {view:?}, gy layout {layout}, {groups} groups");
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

    pub fn batch_norm_backward_vjp_kernel_matches_reference(gpu: Device) {
        let mut rng = Rng::new(23);
        for shape in SHAPES {
            let layouts = [
                (Nchw, 0),
                (ChannelMajor, 1),
                (Nchw, 2),
                (ChannelMajor, 0),
                (ChannelMajorRows, 0),
            ];
            for ((view, layout), groups) in with_groups(layouts, shape[0]) {
                let what =
                    format!("{shape:?}, x {view:?}, gradient layout {layout}, {groups} groups");
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
    pub fn batch_norm_kernels_take_one_tensor_twice(gpu: Device) {
        let mut rng = Rng::new(25);
        let shape = [5, 3, 40, 40];
        let x = input(shape, ChannelMajor, &mut rng, &gpu);
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
    }

    /// What a penalised critic step does with a BatchNorm: its forward, and its input gradient
    /// for some upstream gradient, both in one loss; burn's autodiff then runs the forward's
    /// backward kernel and the backward's VJP kernel. Against burn's autodiff of the tensor
    /// ops (the references), on the same device.
    pub fn batch_norm_kernels_autodiff_matches_reference(gpu: Device) {
        let mut rng = Rng::new(24);
        for shape in SHAPES {
            for (view, groups) in with_groups(LAYOUTS, shape[0]) {
                let what = format!("{shape:?}, x {view:?}, {groups} groups");
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
}

/// On the flex CPU backend (loops).
mod flex {

    #[test]
    fn batch_norm_forward_kernel_matches_reference() {
        super::checks::batch_norm_forward_kernel_matches_reference(margan::device::cpu());
    }

    #[test]
    fn batch_norm_running_statistics_chain_matches_reference() {
        super::checks::batch_norm_running_statistics_chain_matches_reference(margan::device::cpu());
    }

    #[test]
    fn batch_norm_backward_kernel_matches_reference() {
        super::checks::batch_norm_backward_kernel_matches_reference(margan::device::cpu());
    }

    #[test]
    fn batch_norm_backward_vjp_kernel_matches_reference() {
        super::checks::batch_norm_backward_vjp_kernel_matches_reference(margan::device::cpu());
    }

    #[test]
    fn batch_norm_kernels_take_one_tensor_twice() {
        super::checks::batch_norm_kernels_take_one_tensor_twice(margan::device::cpu());
    }

    #[test]
    fn batch_norm_kernels_autodiff_matches_reference() {
        super::checks::batch_norm_kernels_autodiff_matches_reference(margan::device::cpu());
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::common::gpu;

    #[test]
    fn batch_norm_forward_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::checks::batch_norm_forward_kernel_matches_reference(gpu);
    }

    #[test]
    fn batch_norm_running_statistics_chain_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::checks::batch_norm_running_statistics_chain_matches_reference(gpu);
    }

    #[test]
    fn batch_norm_backward_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::checks::batch_norm_backward_kernel_matches_reference(gpu);
    }

    #[test]
    fn batch_norm_backward_vjp_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::checks::batch_norm_backward_vjp_kernel_matches_reference(gpu);
    }

    #[test]
    fn batch_norm_kernels_take_one_tensor_twice() {
        let Some(gpu) = gpu() else { return };
        super::checks::batch_norm_kernels_take_one_tensor_twice(gpu);
    }

    #[test]
    fn batch_norm_kernels_autodiff_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::checks::batch_norm_kernels_autodiff_matches_reference(gpu);
    }
}

/// `[C]` as `[1, C, 1, 1]`.
fn channel(t: Tensor<1>) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([1, c, 1, 1])
}
