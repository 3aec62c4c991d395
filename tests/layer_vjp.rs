//! Every layer's backward passes (input and parameter VJPs) against burn's autodiff.

mod common;

use burn::module::Module;
use burn::tensor::Tensor;
use common::{assert_close, compare_param_grads, device};
use margan::layers::*;
use margan::rng::Rng;

/// Runs `layer` on a random input, and checks `backward_input` and `backward_params` for a
/// random upstream gradient against burn's first-order autodiff.
fn check<L: Layer + Module>(layer: &L, input: [usize; 4], mode: Mode, what: &str) -> usize {
    let dev = device();
    let mut rng = Rng::new(11);
    let x = rng.normal_tensor(input, 0.0, 1.0, &dev).require_grad();
    let y = layer.forward(x.clone(), mode);
    let gy = rng.normal_tensor::<4>(y.dims(), 0.0, 1.0, &dev);
    let grads = (y.clone() * gy.clone()).sum().backward();
    let expected_gx = x.grad(&grads).expect("x has a gradient");
    let gx = layer.backward_input(&x, &y, gy.clone(), mode);
    assert_close(
        gx.detach(),
        expected_gx.clone(),
        1e-4,
        &format!("{what}: input VJP"),
    );
    let mut ours = burn::optim::GradientsParams::new();
    layer.backward_params(&x, &y, gy, mode, &mut ours);
    let checked = compare_param_grads(layer, &grads, &ours, 1e-4, what);
    assert_eq!(
        checked,
        ours.len(),
        "{what}: gradients for parameters the module does not have"
    );
    checked
}

fn rng() -> Rng {
    Rng::new(5)
}

#[test]
fn linear_vjps_match_autodiff() {
    let dev = device();
    for (bias, sn) in [(true, false), (false, false), (true, true)] {
        let l = LinearConfig::new(12, 7)
            .with_bias(bias)
            .with_spectral(sn)
            .init(&dev, &mut rng());
        let n = check(
            &l,
            [5, 12, 1, 1],
            Mode::Train,
            &format!("linear bias={bias} sn={sn}"),
        );
        assert_eq!(n, 1 + bias as usize);
        check(
            &l,
            [5, 3, 2, 2],
            Mode::Eval,
            &format!("linear on images bias={bias} sn={sn}"),
        );
    }
}

#[test]
fn conv2d_vjps_match_autodiff() {
    let dev = device();
    // (c_in, c_out, k, stride, padding, h, w, batch)
    let cases = [
        (3, 4, 3, 1, 1, 7, 5, 2),
        (2, 5, 4, 2, 1, 8, 8, 1),
        (3, 2, 4, 2, 1, 9, 7, 3),
        (4, 3, 3, 2, 0, 7, 7, 2),
        (2, 1, 4, 1, 0, 4, 4, 2),
        (1, 2, 1, 1, 0, 3, 5, 1),
    ];
    for (ci, co, k, s, p, h, w, n) in cases {
        for sn in [false, true] {
            let l = Conv2dConfig::new(ci, co, k)
                .with_stride(s)
                .with_padding(p)
                .with_spectral(sn)
                .init(&dev, &mut rng());
            let checked = check(
                &l,
                [n, ci, h, w],
                Mode::Train,
                &format!("conv2d {ci}->{co} k{k} s{s} p{p} {h}x{w} n{n} sn={sn}"),
            );
            assert_eq!(checked, 2);
        }
    }
}

#[test]
fn conv_transpose2d_vjps_match_autodiff() {
    let dev = device();
    // (c_in, c_out, k, stride, padding, output_padding, h, w, batch)
    let cases = [
        (3, 4, 4, 1, 0, 0, 1, 1, 2),
        (4, 2, 4, 2, 1, 0, 4, 4, 2),
        (2, 3, 3, 2, 1, 1, 3, 5, 1),
        (2, 2, 3, 1, 1, 0, 5, 4, 3),
        (3, 1, 4, 2, 0, 0, 3, 3, 1),
    ];
    for (ci, co, k, s, p, op, h, w, n) in cases {
        for sn in [false, true] {
            let l = ConvTranspose2dConfig::new(ci, co, k)
                .with_stride(s)
                .with_padding(p)
                .with_output_padding(op)
                .with_spectral(sn)
                .init(&dev, &mut rng());
            let checked = check(
                &l,
                [n, ci, h, w],
                Mode::Train,
                &format!("convT {ci}->{co} k{k} s{s} p{p} op{op} {h}x{w} sn={sn}"),
            );
            assert_eq!(checked, 2);
        }
    }
}

#[test]
fn activation_vjps_match_autodiff() {
    assert_eq!(check(&Relu, [3, 4, 5, 2], Mode::Train, "relu"), 0);
    check(
        &LeakyRelu::new(0.2),
        [3, 4, 5, 2],
        Mode::Train,
        "leaky relu",
    );
    check(&Tanh, [3, 4, 5, 2], Mode::Train, "tanh");
    check(
        &Reshape::new([2, 5, 4]),
        [3, 4, 5, 2],
        Mode::Train,
        "reshape",
    );
    check(&Reshape::flatten(), [3, 4, 5, 2], Mode::Train, "flatten");
}

#[test]
fn batch_norm_vjps_match_autodiff_in_both_modes() {
    let dev = device();
    let bn = BatchNormConfig::new(4)
        .with_init_std(Some(0.3))
        .init(&dev, &mut rng());
    assert_eq!(
        check(&bn, [5, 4, 3, 2], Mode::Train, "batch norm (train)"),
        2
    );
    check(&bn, [6, 4, 1, 1], Mode::Train, "batch norm 1d (train)");
    // After a few training passes the running statistics are non-trivial.
    let mut r = Rng::new(3);
    for _ in 0..3 {
        bn.forward(r.normal_tensor([8, 4, 3, 2], 0.5, 2.0, &dev), Mode::Train);
    }
    check(&bn, [5, 4, 3, 2], Mode::Eval, "batch norm (eval)");
}

#[test]
fn batch_norm_running_statistics_follow_pytorch() {
    // running ← (1 − m)·running + m·batch, with the unbiased batch variance.
    let dev = device();
    let bn = BatchNormConfig::new(1).init(&dev, &mut rng());
    let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 6.0], &dev).reshape([4, 1, 1, 1]);
    bn.forward(x, Mode::Train);
    let mean = margan::device::to_vec(bn.running_mean.value());
    let var = margan::device::to_vec(bn.running_var.value());
    // batch mean 3, unbiased variance (4+1+0+9)/3 = 14/3
    assert!((mean[0] - 0.3).abs() < 1e-6, "running mean {mean:?}");
    assert!(
        (var[0] - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-5,
        "running var {var:?}"
    );
}

#[test]
fn layer_norm_vjps_match_autodiff() {
    let dev = device();
    let mut ln = LayerNormConfig::new([4, 3, 2]).init(&dev, &mut rng());
    // non-trivial affine parameters
    let mut r = Rng::new(9);
    ln.gamma = burn::module::Param::from_tensor(r.normal_tensor([4, 3, 2], 1.0, 0.5, &dev));
    ln.beta = burn::module::Param::from_tensor(r.normal_tensor([4, 3, 2], 0.0, 0.5, &dev));
    assert_eq!(check(&ln, [5, 4, 3, 2], Mode::Train, "layer norm"), 2);
    check(&ln, [5, 4, 3, 2], Mode::Eval, "layer norm (eval)");
}
