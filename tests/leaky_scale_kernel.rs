//! The layer kit's ReLU / LeakyReLU kernel (`margan::kernels::leaky_scale`): the forward against
//! burn's activations and the input gradient against its reference, in every layout, and both
//! through burn's autodiff. (wgpu tests run on Mesa lavapipe in CI; without an adapter they
//! print why and pass, except when `MARGAN_REQUIRE_GPU=1`.)

mod common;

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::common::layer_inputs::{input, upstream, weighted, Layout, Layout::*};
    use super::common::{assert_close, gpu};
    use burn::tensor::{Device, Tensor};
    use margan::kernels::leaky_scale::{
        leaky_relu, leaky_relu_grad, leaky_relu_grad_reference, leaky_relu_reference,
    };
    use margan::rng::Rng;

    /// `x` with exact zeros (the mask's edge: slope there, 0 for ReLU) and both signs.
    fn with_zeros(shape: [usize; 4], view: Layout, rng: &mut Rng, device: &Device) -> Tensor<4> {
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
                for (view, layout) in [
                    (Nchw, 0),
                    (ChannelMajor, 1),
                    (Nchw, 2),
                    (ChannelMajor, 0),
                    (ChannelMajorRows, 1),
                ] {
                    let what =
                        format!("slope {slope}, {shape:?}, x x {view:?}, gy layout {layout}");
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
                let x0 = input(shape, ChannelMajor, &mut rng, &gpu);
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

    /// One tensor passed as two arguments (WebGPU refuses a buffer bound twice as writable
    /// storage): the activation's forward binds x once; a transposed view of x as the upstream
    /// gradient is copied. Still the reference's values.
    #[test]
    fn leaky_scale_takes_one_tensor_twice() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(26);
        let x = input([4, 6, 6, 3], Nchw, &mut rng, &gpu);
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
}
