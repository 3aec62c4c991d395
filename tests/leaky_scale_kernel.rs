//! The layer kit's ReLU / LeakyReLU op (`margan::kernels::leaky_scale`), on the flex CPU backend
//! (one loop) and on wgpu (the WGSL kernel): the forward against burn's activations and the input
//! gradient against its reference, in every layout, and both through burn's autodiff. (wgpu
//! tests run on Mesa lavapipe in CI; without an adapter they print why and pass, except when
//! `MARGAN_REQUIRE_GPU=1`.)

mod common;

use burn::tensor::{Device, Tensor};
use common::assert_close;
use common::layer_inputs::{input, laid_out, upstream, weighted, Layout, Layout::*};
use margan::kernels::leaky_scale::{
    leaky_relu, leaky_relu_grad, leaky_relu_grad_reference, leaky_relu_reference, runs_kernel,
};
use margan::rng::Rng;

/// `x` in layout `view`, with exact zeros (the mask's edge: slope there, 0 for ReLU) and both
/// signs.
fn with_zeros(shape: [usize; 4], view: Layout, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let x = input(shape, Nchw, rng, device);
    let zeros = rng.uniform_tensor(shape, 0.0, 1.0, device).lower_elem(0.2);
    let x = x.clone().mask_fill(zeros, 0.0) - x.mean().reshape([1, 1, 1, 1]);
    laid_out(x, view)
}

const ACTIVATION_SHAPES: [[usize; 4]; 4] =
    [[1, 1, 1, 1], [3, 5, 4, 2], [2, 3, 17, 19], [64, 8, 16, 16]];

fn matches_reference(device: &Device) {
    let mut rng = Rng::new(31);
    for slope in [0.0, 0.2] {
        for shape in ACTIVATION_SHAPES {
            for (view, layout) in [
                (Nchw, 0),
                (ChannelMajor, 1),
                (Nchw, 2),
                (ChannelMajor, 0),
                (ChannelMajor, 3),
                (ChannelMajorRows, 1),
                (ChannelMajorRows, 3),
            ] {
                let what = format!("slope {slope}, {shape:?}, x {view:?}, gy layout {layout}");
                let x = with_zeros(shape, view, &mut rng, device);
                let gy = upstream(shape, layout, &mut rng, device);
                assert!(runs_kernel(&x) && runs_kernel(&gy), "{what}: not the op");
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
/// autodiff: the op against the references on the same device. (No exact zeros in `x`: there
/// the op's forward derivative is `slope`, as PyTorch's, burn's `leaky_relu` 1.)
fn autodiff_matches_reference(device: &Device) {
    let mut rng = Rng::new(32);
    for slope in [0.0, 0.2] {
        for shape in ACTIVATION_SHAPES {
            let what = format!("slope {slope}, {shape:?}");
            let x0 = input(shape, ChannelMajor, &mut rng, device);
            let a0 = rng.normal_tensor(shape, 0.0, 1.0, device);
            let (w, v) = (
                rng.normal_tensor(shape, 0.0, 1.0, device),
                rng.normal_tensor(shape, 0.0, 1.0, device),
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

/// One tensor passed as two arguments (WebGPU refuses a buffer bound twice as writable storage):
/// the activation's forward binds x once; a transposed view of x as the upstream gradient is
/// copied. Still the reference's values.
fn takes_one_tensor_twice(device: &Device) {
    let mut rng = Rng::new(26);
    let x = input([4, 6, 6, 3], Nchw, &mut rng, device);
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

/// PyTorch's derivative at exactly 0 (`x > 0 ? 1 : slope`): `slope`, 0 for ReLU. NaN propagates
/// through the activation and its gradient.
fn derivative_at_zero_and_nan(device: &Device) {
    for slope in [0.0, 0.2] {
        let x = Tensor::<1>::from_floats([0.0, -1.5, 2.0, f32::NAN], device)
            .reshape([1, 1, 2, 2])
            .require_grad();
        let y = leaky_relu(x.clone(), slope);
        let g = y.clone().sum().backward();
        let gx = common::to_vec64(x.grad(&g).unwrap());
        let s = slope as f32 as f64;
        assert_eq!(&gx[..3], &[s, s, 1.0], "dy/dx at 0, -1.5, 2");
        let y = common::to_vec64(y);
        assert!(y[3].is_nan(), "NaN in, NaN out: {y:?}");
        let expected = [0.0, -1.5 * slope, 2.0];
        for (a, b) in y[..3].iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "forward {y:?}, expected {expected:?}");
        }
    }
}

#[test]
fn leaky_scale_on_flex_matches_reference() {
    matches_reference(&margan::device::cpu());
}

#[test]
fn leaky_scale_autodiff_on_flex_matches_reference() {
    autodiff_matches_reference(&margan::device::cpu());
}

#[test]
fn leaky_scale_on_flex_takes_one_tensor_twice() {
    takes_one_tensor_twice(&margan::device::cpu());
}

#[test]
fn leaky_scale_on_flex_differentiates_zero_as_pytorch() {
    derivative_at_zero_and_nan(&margan::device::cpu());
}

/// Where the op runs: f32 on flex; f64 and burn's ndarray backend take the references.
#[test]
fn leaky_scale_runs_on_flex_f32_only() {
    let cpu = margan::device::cpu();
    let x = Tensor::<4>::zeros([1, 2, 3, 4], &cpu);
    assert!(runs_kernel(&x));
    assert!(!runs_kernel(&x.cast(burn::tensor::DType::F64)));
    #[cfg(feature = "ndarray")]
    {
        let nd = margan::device::ndarray().expect("the ndarray backend");
        assert!(!runs_kernel(&Tensor::<4>::zeros([1, 2, 3, 4], &nd)));
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::common::gpu;

    #[test]
    fn leaky_scale_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::matches_reference(&gpu);
    }

    #[test]
    fn leaky_scale_autodiff_matches_reference() {
        let Some(gpu) = gpu() else { return };
        super::autodiff_matches_reference(&gpu);
    }

    #[test]
    fn leaky_scale_takes_one_tensor_twice() {
        let Some(gpu) = gpu() else { return };
        super::takes_one_tensor_twice(&gpu);
    }

    #[test]
    fn leaky_scale_kernel_differentiates_zero_as_pytorch() {
        let Some(gpu) = gpu() else { return };
        super::derivative_at_zero_and_nan(&gpu);
    }
}
