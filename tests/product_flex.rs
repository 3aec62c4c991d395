//! The flex products (`a·b`, `aᵀ·b`, `a·bᵀ`: `kernels/product_flex.rs`) against burn's
//! `matmul` of the same operands: the product, and both gradients through burn's autodiff in a
//! loss that weights every output differently, so each product's backward (the other two
//! forms) is checked too, with `a·bᵀ` (inside every backward) in both orientations, forced by
//! `with_nt_transposed`: they must agree bit for bit. (Inside the penalty's double backward, through the GEMM path:
//! `conv_paths.rs`, a penalised step's gradients on both paths.)

mod common;

use burn::tensor::{Device, Tensor};
use common::{assert_close, device};
use margan::kernels::product_flex::{
    nt_transposed, product_nn, product_nt, product_tn, with_nt_transposed,
};
use margan::rng::Rng;

/// `(M, K, N)`: square, thin, wide, a single row and column, and two with `K` over gemm's
/// block of 512 (one in whole 16×16 tiles of the transpose, one with partial tiles).
const SHAPES: [[usize; 3]; 7] = [
    [5, 5, 5],
    [7, 3, 11],
    [33, 16, 2],
    [1, 9, 1],
    [1, 1, 9],
    [64, 1100, 96],
    [37, 600, 53],
];

/// The operands' shapes `([a], [b])` of a form from `(M, K, N)`.
type OperandShapes = ([usize; 2], [usize; 2]);

/// One form of the product: its name, margan's op, and the same product by burn's `matmul`;
/// the operands' shapes from `(M, K, N)`.
struct Form {
    name: &'static str,
    ours: fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
    reference: fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
    shapes: fn([usize; 3]) -> OperandShapes,
}

const FORMS: [Form; 3] = [
    Form {
        name: "a·b",
        ours: product_nn,
        reference: |a, b| a.matmul(b),
        shapes: |[m, k, n]| ([m, k], [k, n]),
    },
    Form {
        name: "aᵀ·b",
        ours: product_tn,
        reference: |a, b| a.transpose().matmul(b),
        shapes: |[m, k, n]| ([k, m], [k, n]),
    },
    Form {
        name: "a·bᵀ",
        ours: product_nt,
        reference: |a, b| a.matmul(b.transpose()),
        shapes: |[m, k, n]| ([m, k], [n, k]),
    },
];

#[test]
fn flex_products_match_reference() {
    let dev = device();
    let mut rng = Rng::new(41);
    for form in &FORMS {
        for mkn in SHAPES {
            // Both orientations of every `a·bᵀ`, wherever it runs (the forms' backward passes).
            for transposed in [false, true] {
                with_nt_transposed(transposed, || check(form, mkn, transposed, &dev, &mut rng));
            }
        }
    }
}

/// `form` of random operands against burn's `matmul`, with both gradients.
fn check(form: &Form, mkn: [usize; 3], transposed: bool, dev: &Device, rng: &mut Rng) {
    let [m, _, n] = mkn;
    let what = format!(
        "{}, (M, K, N) {mkn:?}, a·bᵀ transposed: {transposed}",
        form.name
    );
    let (sa, sb) = (form.shapes)(mkn);
    let a = rng.normal_tensor(sa, 0.0, 1.0, dev).require_grad();
    let b = rng.normal_tensor(sb, 0.0, 1.0, dev).require_grad();
    let weights = rng.normal_tensor([m, n], 0.0, 1.0, dev);
    let ours = (form.ours)(a.clone(), b.clone());
    let theirs = (form.reference)(a.clone(), b.clone());
    assert_eq!(ours.dims(), [m, n], "{what}: shape");
    assert_close(ours.clone(), theirs.clone(), 1e-5, &what);
    let g = (ours * weights.clone()).sum().backward();
    let (ga, gb) = (a.grad(&g).expect("∂a"), b.grad(&g).expect("∂b"));
    let g = (theirs * weights).sum().backward();
    assert_close(ga, a.grad(&g).expect("∂a"), 1e-5, &format!("∂a, {what}"));
    assert_close(gb, b.grad(&g).expect("∂b"), 1e-5, &format!("∂b, {what}"));
}

/// `a·bᵀ` taken either way gives the same values, bit for bit (gemm sums over K in blocks
/// set by K alone): which orientation runs never changes a training run. And the rule: never
/// the transposed orientation for `N ≤ M` or `K` < 512.
#[test]
fn product_nt_orientations_agree_bitwise() {
    let dev = device();
    let mut rng = Rng::new(43);
    for [m, k, n] in [[48, 1100, 96], [8, 3000, 40], [96, 1100, 48], [37, 600, 53]] {
        let a: Tensor<2> = rng.normal_tensor([m, k], 0.0, 1.0, &dev);
        let b: Tensor<2> = rng.normal_tensor([n, k], 0.0, 1.0, &dev);
        let product = |t| with_nt_transposed(t, || product_nt(a.clone(), b.clone()).into_data());
        assert_eq!(
            product(true),
            product(false),
            "(M, K, N) = ({m}, {k}, {n}): the orientations differ"
        );
    }
    assert!(!nt_transposed(96, 48, 4096) && !nt_transposed(48, 96, 511));
}
