//! Operands of the matrix-product tests (`matmul_kernel.rs`, `f16_matmul.rs`), and the references
//! they are checked against.

use burn::tensor::{Device, Tensor};
use margan::rng::Rng;

/// `[m, k] · [k, n]`: one value; sizes off the 64×64 blocks and the 16-deep slices; a full
/// block; a long K over one block (split into many ranges, the last one short); a GEMM
/// convolution's weight gradient shape, small.
pub const CASES: [(usize, usize, usize); 10] = [
    (1, 1, 1),
    (3, 5, 7),
    (1, 33, 70),
    (64, 16, 64),
    (65, 17, 63),
    (130, 300, 70),
    (5, 5000, 3),
    (48, 2048, 200),
    // K split in ranges, whole 64×64 blocks (the tensor-core kernel's direct stores).
    (128, 1030, 64),
    // Every size a multiple of 4 (the vector variants' vec4 loads, in every layout), none of
    // the blocks', K split with a short last range.
    (68, 1044, 132),
];

/// `[rows, cols]` on the CPU, contiguous or as the transposed view of a `[cols, rows]` tensor.
pub fn operand(rows: usize, cols: usize, view: bool, rng: &mut Rng) -> Tensor<2> {
    let cpu = margan::device::cpu();
    if view {
        rng.normal_tensor([cols, rows], 0.0, 1.0, &cpu).transpose()
    } else {
        rng.normal_tensor([rows, cols], 0.0, 1.0, &cpu)
    }
}

/// The same values on `dev`, as the same kind of view.
pub fn on(t: &Tensor<2>, view: bool, dev: &Device) -> Tensor<2> {
    if view {
        t.clone().transpose().to_device(dev).transpose()
    } else {
        t.clone().to_device(dev)
    }
}

/// Whether this thread's product-launch counter (`kernels::matmul::product_launches`) sees the
/// launches of the products it asks for: not under burn's fusion, which runs them on its own
/// thread when their results are needed. Prints why the counts are not checked then.
pub fn launches_counted(test: &str) -> bool {
    if margan::device::FUSION {
        eprintln!(
            "{test}: launch counts not checked: under burn's fusion the products launch on \
             fusion's thread, which this thread's counter does not see (the values still are)"
        );
    }
    !margan::device::FUSION
}

/// `x` rounded to f16 and back, as the tensor-core kernel stages its operands.
pub fn round_f16(t: &Tensor<2>) -> Tensor<2> {
    let dims = t.dims();
    let v: Vec<f32> = t
        .clone()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(|x| burn::tensor::f16::from_f32(x).to_f32())
        .collect();
    Tensor::from_data(burn::tensor::TensorData::new(v, dims), &t.device())
}

/// `a · b` in f64 and `|a| · |b|` (the scale of each value's rounding error), from the CPU
/// tensors' values.
pub fn product64(a: &Tensor<2>, b: &Tensor<2>) -> (Vec<f64>, Vec<f64>) {
    let ([m, k], [_, n]) = (a.dims(), b.dims());
    let (av, bv) = (super::to_vec64(a.clone()), super::to_vec64(b.clone()));
    let mut exact = vec![0.0; m * n];
    let mut size = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = av[i * k + p];
            for j in 0..n {
                exact[i * n + j] += x * bv[p * n + j];
                size[i * n + j] += (x * bv[p * n + j]).abs();
            }
        }
    }
    (exact, size)
}

/// The largest error of `got` against the f64 product, each relative to its `|a|·|b|`.
pub fn product_error(got: Tensor<2>, (exact, size): &(Vec<f64>, Vec<f64>)) -> f64 {
    let got = super::to_vec64(got);
    got.iter()
        .zip(exact)
        .zip(size)
        .map(|((g, e), s)| {
            if *s > 0.0 {
                (g - e).abs() / s
            } else {
                (g - e).abs()
            }
        })
        .fold(0.0, f64::max)
}
