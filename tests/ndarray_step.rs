//! burn's ndarray CPU backend (feature `ndarray`, offered by `margan bench --device ndarray` for
//! comparison with flex) runs the penalised GAN step correctly: losses, L∞ penalty and every
//! parameter gradient match flex's, with both convolution paths on ndarray; `auto` takes the GEMM
//! path there (ndarray's own convolutions are tens of times slower), as it does on flex.
//!
//! `cargo test --release -p margan --features ndarray --test ndarray_step`
#![cfg(all(feature = "ndarray", not(target_arch = "wasm32")))]

mod common;

use common::penalised_step::{compare, step};
use margan::conv::{with_conv_path, ConvPath};

#[test]
fn linf_penalised_step_on_ndarray_matches_flex() {
    let nd = margan::device::ndarray().expect("built with the ndarray feature");
    let flex = with_conv_path(ConvPath::Burn, || step(&margan::device::cpu()));
    for path in [ConvPath::Burn, ConvPath::Gemm] {
        let a = with_conv_path(path, || step(&nd));
        compare(
            &a,
            &flex,
            &format!("ndarray ({} convolutions)", path.name()),
            "flex",
        );
    }
}

/// `auto` takes the GEMM path on both CPU backends natively: on ndarray its own convolutions
/// are tens of times slower, on flex one product over the batch with the patch loops beats its
/// per-image convolutions.
#[test]
fn auto_convolutions_are_gemm_on_ndarray_and_on_flex() {
    let nd = margan::device::ndarray().expect("built with the ndarray feature");
    assert!(margan::device::is_ndarray(&nd));
    assert!(!margan::device::is_ndarray(&margan::device::cpu()));
    assert_eq!(margan::conv::resolve(&nd), ConvPath::Gemm);
    assert_eq!(
        margan::conv::resolve(&margan::device::cpu()),
        ConvPath::Gemm
    );
}
