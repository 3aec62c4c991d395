//! `tanh` with its one-launch backward (`margan::kernels::tanh`) against burn's `tanh` and its
//! autodiff, in every layout a network hands out, with saturated values. (wgpu tests run on Mesa
//! lavapipe in CI; without an adapter they print why and pass, except when
//! `MARGAN_REQUIRE_GPU=1`.)

mod common;

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::common::layer_inputs::{input, upstream, weighted, Layout::*};
    use super::common::{assert_close, gpu};
    use burn::tensor::Tensor;
    use margan::kernels::tanh::{tanh_kernel, tanh_reference};
    use margan::rng::Rng;

    #[test]
    fn tanh_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(41);
        let mut cases = 0;
        for shape in [[1, 1, 1, 1], [3, 5, 4, 2], [2, 3, 17, 19], [64, 3, 32, 32]] {
            for (view, layout) in [(Nchw, 0), (ChannelMajor, 1), (ChannelMajorRows, 2)] {
                let what = format!("{shape:?}, x {view:?}, upstream layout {layout}");
                // Scaled: values up to ±25, where tanh saturates and 1 − y² underflows.
                let x = input(shape, view, &mut rng, &gpu).mul_scalar(3.0);
                let w = upstream(shape, layout, &mut rng, &gpu);
                let run = |f: fn(Tensor<4>) -> Tensor<4>| {
                    let x = x.clone().require_grad();
                    let y = f(x.clone());
                    let grads = weighted(y.clone(), &w).backward();
                    (y.detach(), x.grad(&grads).expect("x has a gradient"))
                };
                let (y, gx) = run(tanh_kernel);
                let (y_ref, gx_ref) = run(tanh_reference);
                assert_close(y, y_ref, 1e-6, &what);
                assert_close(gx, gx_ref, 1e-5, &format!("{what}, input gradient"));
                cases += 1;
            }
        }
        assert_eq!(cases, 12);
    }
}
