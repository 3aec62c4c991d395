//! `product_tn` (`aᵀ·b` on flex, `kernels/product_tn.rs`) against burn's `matmul` of the
//! transposed view: the product, and both gradients through burn's autodiff in a loss that
//! weights every output differently. (Inside the penalty's double backward, through the GEMM
//! path's transposed convolutions: `conv_paths.rs`, a penalised step's gradients on both paths.)

mod common;

use common::{assert_close, device};
use margan::kernels::product_tn::product_tn;
use margan::rng::Rng;

/// `(K, M, N)`: square, thin, wide, a single row and column.
const SHAPES: [[usize; 3]; 4] = [[5, 5, 5], [7, 3, 11], [16, 33, 2], [1, 1, 9]];

#[test]
fn product_tn_matches_reference() {
    let dev = device();
    let mut rng = Rng::new(41);
    for [k, m, n] in SHAPES {
        let what = format!("K {k}, M {m}, N {n}");
        let a = rng.normal_tensor([k, m], 0.0, 1.0, &dev).require_grad();
        let b = rng.normal_tensor([k, n], 0.0, 1.0, &dev).require_grad();
        let weights = rng.normal_tensor([m, n], 0.0, 1.0, &dev);
        let ours = product_tn(a.clone(), b.clone());
        let theirs = a.clone().transpose().matmul(b.clone());
        assert_close(ours.clone(), theirs.clone(), 1e-6, &format!("aᵀ·b, {what}"));
        let g = (ours * weights.clone()).sum().backward();
        let (ga, gb) = (a.grad(&g).expect("∂a"), b.grad(&g).expect("∂b"));
        let g = (theirs * weights).sum().backward();
        assert_close(ga, a.grad(&g).expect("∂a"), 1e-6, &format!("∂a, {what}"));
        assert_close(gb, b.grad(&g).expect("∂b"), 1e-6, &format!("∂b, {what}"));
    }
}
