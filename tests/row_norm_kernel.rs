//! The WGSL row-norm kernel (L∞ with arg-max, L1) against its plain-tensor reference, forward
//! and backward, on the wgpu backend (Mesa lavapipe in CI).
//!
//! Run with `cargo test --release -p margan --features wgpu --test row_norm_kernel`. Without an
//! adapter the tests print why and pass, except when `MARGAN_REQUIRE_GPU=1` (set by CI), where
//! they fail.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::gpu;
use common::{rel_err, to_vec64};
use margan::kernels::row_norm::{
    row_norm_argmax_kernel, row_norm_argmax_reference, row_norm_backward_reference, KernelNorm,
};
use margan::rng::Rng;

/// Rows that exercise the corner cases, cycling through: random; a tie of the maximum at two
/// places (the later one first in memory order of the reduction's strided scan); all zeros;
/// maximum magnitude on a negative entry; every entry equal in magnitude with mixed signs.
fn matrix(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut v = vec![0f32; rows * cols];
    for r in 0..rows {
        let row = &mut v[r * cols..(r + 1) * cols];
        for x in row.iter_mut() {
            *x = rng.normal() as f32;
        }
        let a = (rng.uniform() * cols as f64) as usize % cols;
        let b = (rng.uniform() * cols as f64) as usize % cols;
        match r % 5 {
            1 => {
                row[a] = 7.5;
                row[b] = -7.5;
            }
            2 => row.iter_mut().for_each(|x| *x = 0.0),
            3 => row[a] = -9.0,
            4 => row
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = if (i * 7 + r) % 3 == 0 { -0.5 } else { 0.5 }),
            _ => {}
        }
    }
    v
}

fn tensor(v: &[f32], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), device)
}

const LENGTHS: [usize; 6] = [1, 2, 255, 256, 257, 12288];
const BATCHES: [usize; 4] = [1, 7, 64, 512];

#[test]
fn row_norm_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let cpu = margan::device::cpu();
    for norm in [KernelNorm::Linf, KernelNorm::L1] {
        for &cols in &LENGTHS {
            for &rows in &BATCHES {
                let v = matrix(rows, cols, (rows * 100_003 + cols) as u64);
                let (n_k, i_k) = row_norm_argmax_kernel(tensor(&v, rows, cols, &gpu), norm);
                let (n_r, i_r) = row_norm_argmax_reference(tensor(&v, rows, cols, &cpu), norm);
                let what = format!("{norm:?} {rows}×{cols}");
                let (n_k, n_r) = (to_vec64(n_k), to_vec64(n_r));
                let e = rel_err(&n_k, &n_r);
                // L∞ is exact; an L1 sum of 12288 terms in another order differs in the last bits.
                let tol = if norm == KernelNorm::Linf { 0.0 } else { 1e-6 };
                assert!(e <= tol, "{what}: norm relative error {e:.2e}");
                assert_eq!(to_vec64(i_k), to_vec64(i_r), "{what}: arg-max");
            }
        }
    }
}

#[test]
fn row_norm_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let cpu = margan::device::cpu();
    for norm in [KernelNorm::Linf, KernelNorm::L1] {
        for &cols in &LENGTHS {
            for &rows in &BATCHES {
                let v = matrix(rows, cols, (rows * 7 + cols * 13) as u64);
                let up: Vec<f32> = (0..rows)
                    .map(|r| 1.0 + (r % 3) as f32 - 0.25 * (r % 5) as f32)
                    .collect();
                let g = tensor(&v, rows, cols, &gpu).require_grad();
                let up_k = Tensor::<1>::from_data(TensorData::new(up.clone(), [rows]), &gpu);
                let (norms, _) = row_norm_argmax_kernel(g.clone(), norm);
                let grads = (norms * up_k).sum().backward();
                let dg_k = g.grad(&grads).expect("kernel gradient reaches g");
                let up_r = Tensor::<1>::from_data(TensorData::new(up, [rows]), &cpu);
                let dg_r = row_norm_backward_reference(tensor(&v, rows, cols, &cpu), up_r, norm);
                let (a, b) = (to_vec64(dg_k), to_vec64(dg_r));
                assert_eq!(a, b, "{norm:?} {rows}×{cols}: gradient differs");
            }
        }
    }
}

#[test]
fn penalty_row_norm_uses_the_kernel_and_agrees_with_cpu() {
    // `norms::row_norm` is what the penalty calls: on wgpu it must give the reference's value
    // and, through burn's autodiff, the reference's gradient (rows without ties).
    let Some(gpu) = gpu() else { return };
    let cpu = margan::device::cpu();
    for norm in [margan::Norm::Linf, margan::Norm::L1, margan::Norm::L2] {
        let (rows, cols) = (9, 300);
        let mut rng = Rng::new(5);
        let v: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
        let run = |d: &Device| {
            let g = tensor(&v, rows, cols, d).require_grad();
            let n = margan::norms::row_norm(g.clone(), norm);
            let grads = n.clone().square().sum().backward();
            (to_vec64(n), to_vec64(g.grad(&grads).unwrap()))
        };
        let (n_g, d_g) = run(&gpu);
        let (n_c, d_c) = run(&cpu);
        assert!(rel_err(&n_g, &n_c) < 1e-6, "{norm:?} value");
        assert!(rel_err(&d_g, &d_c) < 1e-6, "{norm:?} gradient");
    }
}

#[test]
fn row_norm_nan_row_gives_nan_norm() {
    // A NaN gradient must surface as a NaN penalty (training then stops with a clear message),
    // never as a finite norm that hides it.
    let Some(gpu) = gpu() else { return };
    let mut v = vec![0.5f32; 3 * 300];
    v[300 + 123] = f32::NAN;
    for norm in [KernelNorm::Linf, KernelNorm::L1] {
        let (n, _) = row_norm_argmax_kernel(tensor(&v, 3, 300, &gpu), norm);
        let n = to_vec64(n);
        assert!(
            n[0] == 0.5 * if norm == KernelNorm::L1 { 300.0 } else { 1.0 }
                && n[1].is_nan()
                && !n[2].is_nan(),
            "{norm:?}: {n:?}"
        );
    }
}

/// A penalty's input gradient `[N, C, H, W]` goes to the kernel as it lies in memory (a GEMM
/// convolution's is channel-major): norms, arg-max (in C, H, W order) and gradient as the
/// reference gives them for the same values reshaped to `[N, C·H·W]`.
#[test]
fn sample_row_norm_reads_any_layout() {
    use common::layer_inputs::{input, LAYOUTS};
    let Some(gpu) = gpu() else { return };
    let mut rng = Rng::new(12);
    let mut cases = 0;
    for shape in [[1, 1, 1, 1], [5, 3, 7, 9], [16, 3, 32, 32]] {
        let [n, c, h, w] = shape;
        for layout in LAYOUTS {
            for norm in [KernelNorm::Linf, KernelNorm::L1] {
                let what = format!("{shape:?} {layout:?} {norm:?}");
                let g = input(shape, layout, &mut rng, &gpu).require_grad();
                let up = rng.normal_tensor([n], 1.0, 0.5, &gpu);
                let (norms, argmax) = row_norm_argmax_kernel(g.clone(), norm);
                let grads = (norms.clone() * up.clone()).sum().backward();
                let dg = g.grad(&grads).expect("kernel gradient reaches g");
                let flat = g.clone().detach().reshape([n, c * h * w]);
                let (norms_r, argmax_r) = row_norm_argmax_reference(flat.clone(), norm);
                let dg_r = row_norm_backward_reference(flat, up, norm).reshape(shape);
                // L∞ exactly; L1 sums in another order.
                let e = rel_err(&to_vec64(norms), &to_vec64(norms_r));
                assert!(e <= 1e-6, "{what}: norms differ by {e:.1e}");
                assert_eq!(to_vec64(argmax), to_vec64(argmax_r), "{what}: arg-max");
                assert_eq!(to_vec64(dg), to_vec64(dg_r), "{what}: gradient");
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 18);
}
