//! Spectral normalisation drives the largest singular value of a weight to 1.

mod common;

use burn::tensor::Tensor;
use common::device;
use margan::device::to_vec;
use margan::layers::*;
use margan::rng::Rng;

/// Largest singular value of a row-major `rows × cols` matrix, by f64 power iteration on AᵀA.
fn sigma_max(a: &[f32], rows: usize, cols: usize) -> f64 {
    let mut v = vec![1.0f64; cols];
    let mut s = 0.0;
    for _ in 0..3000 {
        let av: Vec<f64> = (0..rows)
            .map(|i| (0..cols).map(|j| a[i * cols + j] as f64 * v[j]).sum())
            .collect();
        let atav: Vec<f64> = (0..cols)
            .map(|j| (0..rows).map(|i| a[i * cols + j] as f64 * av[i]).sum())
            .collect();
        let n = atav.iter().map(|x| x * x).sum::<f64>().sqrt();
        s = n.sqrt();
        v = atav.iter().map(|x| x / n).collect();
    }
    s
}

/// Effective weight of a layer: run `steps` training forward passes, then read `W / σ`.
fn normalised<F: Fn() -> Tensor<4>>(forward: F, steps: usize) {
    for _ in 0..steps {
        forward();
    }
}

#[test]
fn spectral_norm_drives_the_largest_singular_value_to_one() {
    let dev = device();
    let mut rng = Rng::new(3);
    // Linear: a random 24×40 weight of scale 1 has σ_max ≈ 11.
    let mut lin = LinearConfig::new(24, 40)
        .with_spectral(true)
        .init(&dev, &mut rng);
    lin.weight = burn::module::Param::from_tensor(rng.normal_tensor([24, 40], 0.0, 1.0, &dev));
    let x = rng.normal_tensor([2, 24, 1, 1], 0.0, 1.0, &dev);
    assert!(sigma_max(&to_vec(lin.weight.val()), 24, 40) > 5.0);
    normalised(|| lin.forward(x.clone(), Mode::Train), 30);
    let sn = lin.sn.as_ref().unwrap();
    let w = lin.weight.val();
    let sigma = sn.sigma(&w, Mode::Eval);
    let w_sn = to_vec(w / sigma.reshape([1, 1]));
    let s = sigma_max(&w_sn, 24, 40);
    assert!((s - 1.0).abs() < 1e-2, "linear: σ_max(W/σ) = {s}");

    // Conv2d: the [C_out, C_in·k·k] view.
    let conv = Conv2dConfig::new(6, 10, 3)
        .with_spectral(true)
        .with_init_std(Some(1.0))
        .init(&dev, &mut rng);
    let x = rng.normal_tensor([1, 6, 5, 5], 0.0, 1.0, &dev);
    normalised(|| conv.forward(x.clone(), Mode::Train), 30);
    let w = conv.weight.val().reshape([10, 54]);
    let sigma = conv.sn.as_ref().unwrap().sigma(&w, Mode::Eval);
    let s = sigma_max(&to_vec(w / sigma.reshape([1, 1])), 10, 54);
    assert!((s - 1.0).abs() < 1e-2, "conv: σ_max(W/σ) = {s}");

    // ConvTranspose2d: the [C_out, C_in·k·k] view (PyTorch's dim = 1).
    let convt = ConvTranspose2dConfig::new(8, 5, 4)
        .with_spectral(true)
        .with_init_std(Some(1.0))
        .init(&dev, &mut rng);
    let x = rng.normal_tensor([1, 8, 3, 3], 0.0, 1.0, &dev);
    normalised(|| convt.forward(x.clone(), Mode::Train), 30);
    let w = convt.weight.val().swap_dims(0, 1).reshape([5, 128]);
    let sigma = convt.sn.as_ref().unwrap().sigma(&w, Mode::Eval);
    let s = sigma_max(&to_vec(w / sigma.reshape([1, 1])), 5, 128);
    assert!((s - 1.0).abs() < 1e-2, "conv transpose: σ_max(W/σ) = {s}");
}

#[test]
fn eval_mode_does_not_move_the_power_iteration() {
    let dev = device();
    let mut rng = Rng::new(4);
    let lin = LinearConfig::new(5, 7)
        .with_spectral(true)
        .init(&dev, &mut rng);
    let x = rng.normal_tensor([2, 5, 1, 1], 0.0, 1.0, &dev);
    let u0 = to_vec(lin.sn.as_ref().unwrap().u.value());
    lin.forward(x.clone(), Mode::Eval);
    assert_eq!(to_vec(lin.sn.as_ref().unwrap().u.value()), u0);
    let a = to_vec(lin.forward(x.clone(), Mode::Eval));
    let b = to_vec(lin.forward(x, Mode::Eval));
    assert_eq!(a, b);
}
