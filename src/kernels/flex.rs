//! Helpers of the flex CPU implementations (`*_flex.rs`): row-major f32 values in and out.

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Shape, TensorData};

/// `t` itself when its values lie contiguously in row-major order, else a row-major copy.
pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the flex ops are f32 only");
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The values of a row-major f32 tensor (see [`contiguous`]).
pub(super) fn f32_values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a row-major f32 tensor")
}

/// A per-channel vector's `c` values.
pub(super) fn channel_values(t: FlexTensor, c: usize, what: &str) -> Vec<f32> {
    let t = contiguous(t);
    let v = f32_values(&t);
    assert_eq!(
        v.len(),
        c,
        "BatchNorm: {what} has {} values for {c} channels",
        v.len()
    );
    v.to_vec()
}

/// A new row-major tensor of `shape` holding `values`.
pub(super) fn from_values(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// `Σᵢ term(i)` for `i < n`, `K` sums at once: eight f32 partial sums per quantity (independent
/// additions, which the compiler can vectorise, instead of one chain of dependent ones), added
/// up in f64 at the end.
pub(super) fn lane_sums<const K: usize>(n: usize, term: impl Fn(usize) -> [f32; K]) -> [f64; K] {
    const LANES: usize = 8;
    let mut acc = [[0f32; LANES]; K];
    let full = n - n % LANES;
    for base in (0..full).step_by(LANES) {
        for (l, i) in (base..base + LANES).enumerate() {
            let t = term(i);
            for k in 0..K {
                acc[k][l] += t[k];
            }
        }
    }
    let mut out = [0f64; K];
    for i in full..n {
        let t = term(i);
        for k in 0..K {
            out[k] += t[k] as f64;
        }
    }
    for k in 0..K {
        out[k] += acc[k].iter().map(|&v| v as f64).sum::<f64>();
    }
    out
}
