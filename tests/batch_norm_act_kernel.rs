//! BatchNorm with the ReLU / LeakyReLU after it fused into its forward (`margan::kernels::
//! batch_norm_act`; the WGSL kernel on wgpu, the loops on flex): the output and running statistics against the two
//! plain-tensor references one after the other, and the gradients of a loss of the output in
//! x, γ and β through the kernel's autodiff (activation mask from the output, then the
//! BatchNorm backward kernel) against burn's autodiff of the references; every activation
//! layout, 1 to 3 groups, ReLU and LeakyReLU 0.2. (wgpu tests run on Mesa lavapipe in CI;
//! without an adapter they print why and pass, except when `MARGAN_REQUIRE_GPU=1`.)

mod common;

use burn::tensor::{Device, Tensor};
use common::assert_close;
use common::layer_inputs::{input, weighted, with_groups, LAYOUTS, SHAPES};
use margan::kernels::batch_norm::BatchNormScalars;
use margan::kernels::batch_norm_act::{
    batch_norm_act_forward_kernel, batch_norm_act_forward_reference,
};
use margan::rng::Rng;

const SCALARS: BatchNormScalars = BatchNormScalars {
    eps: 1e-5,
    momentum: 0.1,
};

fn vector(c: usize, mean: f64, rng: &mut Rng, device: &Device) -> Tensor<1> {
    rng.normal_tensor([c], mean, 0.5, device)
}

type Forward = fn(
    Tensor<4>,
    Tensor<1>,
    Tensor<1>,
    (Tensor<1>, Tensor<1>),
    BatchNormScalars,
    usize,
    f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>);

fn matches_reference(gpu: Device) {
    let mut rng = Rng::new(41);
    for slope in [0.0, 0.2] {
        for shape in SHAPES {
            for (view, groups) in with_groups(LAYOUTS, shape[0]) {
                let what = format!("slope {slope}, {shape:?}, x {view:?}, {groups} groups");
                let c = shape[1];
                let x0 = input(shape, view, &mut rng, &gpu);
                let g0 = vector(c, 1.0, &mut rng, &gpu);
                let b0 = vector(c, 0.2, &mut rng, &gpu);
                let rm = vector(c, 0.3, &mut rng, &gpu);
                let rv = vector(c, 1.5, &mut rng, &gpu).abs();
                let (w, v) = (
                    rng.normal_tensor(shape, 0.0, 1.0, &gpu),
                    rng.normal_tensor(shape, 0.0, 1.0, &gpu),
                );
                let run = |f: Forward| {
                    let x = x0.clone().require_grad();
                    let gamma = g0.clone().require_grad();
                    let beta = b0.clone().require_grad();
                    let running = (rm.clone(), rv.clone());
                    let (a, rm1, rv1) = f(
                        x.clone(),
                        gamma.clone(),
                        beta.clone(),
                        running,
                        SCALARS,
                        groups,
                        slope,
                    );
                    // A loss whose gradient is not constant in the output.
                    let g =
                        (weighted(a.clone(), &w) + weighted(a.clone() * a.clone(), &v)).backward();
                    let grads = (
                        x.grad(&g).unwrap(),
                        gamma.grad(&g).unwrap(),
                        beta.grad(&g).unwrap(),
                    );
                    (a.detach(), rm1, rv1, grads)
                };
                let (a, rm1, rv1, (gx, gg, gb)) = run(batch_norm_act_forward_kernel);
                let (a_ref, rm_ref, rv_ref, (gx_ref, gg_ref, gb_ref)) =
                    run(batch_norm_act_forward_reference);
                assert_close(a, a_ref, 1e-5, &format!("output, {what}"));
                assert_close(rm1, rm_ref, 1e-5, &format!("running mean, {what}"));
                assert_close(rv1, rv_ref, 1e-5, &format!("running variance, {what}"));
                assert_close(gx, gx_ref, 1e-4, &format!("∂x, {what}"));
                assert_close(gg, gg_ref, 1e-4, &format!("∂γ, {what}"));
                assert_close(gb, gb_ref, 1e-4, &format!("∂β, {what}"));
            }
        }
    }
}

fn refuses_a_negative_slope(gpu: Device) {
    let x = Tensor::<4>::ones([2, 1, 1, 1], &gpu);
    let one = || Tensor::<1>::ones([1], &gpu);
    let _ = batch_norm_act_forward_kernel(x, one(), one(), (one(), one()), SCALARS, 1, -0.1);
}

#[test]
fn batch_norm_act_on_flex_matches_reference() {
    matches_reference(margan::device::cpu());
}

#[test]
#[should_panic(expected = "slope ≥ 0")]
fn batch_norm_act_on_flex_refuses_a_negative_slope() {
    refuses_a_negative_slope(margan::device::cpu());
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::common::gpu;

    #[test]
    fn batch_norm_act_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::matches_reference(gpu);
    }

    #[test]
    #[should_panic(expected = "slope ≥ 0")]
    fn batch_norm_act_kernel_refuses_a_negative_slope() {
        let Some(gpu) = gpu() else {
            panic!("no adapter (skipped): slope ≥ 0")
        };
        super::refuses_a_negative_slope(gpu);
    }
}
