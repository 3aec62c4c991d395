//! The WGSL patch kernels (`im2col`, `col2im`) against their plain-tensor references, forward
//! and backward, and the GEMM convolutions built on them against burn's convolutions, on the
//! wgpu backend (Mesa lavapipe in CI). Shapes: odd sizes, stride 1 and 2, padding 0 and 1,
//! batch 1, 1×1 to 4×4 kernels.
//!
//! `cargo test --release -p margan --features wgpu --test patch_kernels`. Without an adapter the
//! tests print why and pass, except when `MARGAN_REQUIRE_GPU=1` (set by CI), where they fail.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::Tensor;
use common::assert_close;
use common::gpu;
use common::patches;
use common::CONV_CASES as CASES;
use margan::conv::patches::{col2im_reference, im2col_reference, Patches};
use margan::conv::{self, with_conv_path, ConvPath};
use margan::kernels::patches::{col2im_kernel, im2col_kernel};
use margan::rng::Rng;

#[test]
fn patch_kernels_match_reference() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(11);
    for (n, c, _, h, w, k, s, p) in CASES {
        patches::check_against_reference(Patches::conv([n, c, h, w], k, s, p), &mut rng, &dev);
    }
}

#[test]
fn patch_kernels_handle_more_than_65535_workgroups() {
    let Some(dev) = gpu() else { return };
    // Outputs of more than 65535 workgroups of 256 spill into the grid's y dimension.
    let mut rng = Rng::new(2);
    let g = Patches::conv([1, 8, 512, 520], 3, 1, 1);
    assert!(g.rows() * g.cols() / 256 > 65_535);
    let x = rng.normal_tensor([1, 8, 512, 520], 0.0, 1.0, &dev);
    assert_close(
        im2col_kernel(x.clone(), g),
        im2col_reference(x, g),
        0.0,
        "im2col, 2-D grid",
    );
    let g = Patches::conv([1, 64, 512, 520], 1, 1, 0);
    assert!(g.n * g.c * g.h * g.w / 256 > 65_535);
    let cols = rng
        .normal_tensor([g.rows(), g.cols(), 1, 1], 0.0, 1.0, &dev)
        .reshape([g.rows(), g.cols()]);
    assert_close(
        col2im_kernel(cols.clone(), g),
        col2im_reference(cols, g),
        0.0,
        "col2im, 2-D grid",
    );
}

#[test]
fn conv_gemm_on_wgpu_matches_reference() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(13);
    for (n, ci, co, h, w, k, s, p) in CASES {
        let what = format!("n{n} {ci}->{co} {h}x{w} k{k} s{s} p{p}");
        let x = rng.normal_tensor([n, ci, h, w], 0.0, 1.0, &dev);
        let wt = rng.normal_tensor([co, ci, k, k], 0.0, 0.5, &dev);
        let both = |f: &dyn Fn() -> Tensor<4>| {
            (
                with_conv_path(ConvPath::Gemm, f),
                with_conv_path(ConvPath::Burn, f),
            )
        };
        let (a, r) = both(&|| conv::conv2d(x.clone(), wt.clone(), None, s, p));
        assert_close(a, r.clone(), 1e-5, &format!("conv2d {what}"));
        let [_, _, ho, wo] = r.dims();
        let gy = rng.normal_tensor([n, co, ho, wo], 0.0, 1.0, &dev);
        let (a, r) = both(&|| conv::conv2d_input_grad(gy.clone(), wt.clone(), [h, w], s, p));
        assert_close(a, r, 1e-5, &format!("input gradient {what}"));
        let (a, r) = both(&|| conv::conv2d_weight_grad(x.clone(), gy.clone(), k, s, p));
        assert_close(a, r, 1e-5, &format!("weight gradient {what}"));
    }
}

/// im2col reads its input through its strides (no copy first): channel-major views (what a
/// GEMM convolution, BatchNorm and the activation kernels hand on), one group's rows of such a
/// view, NHWC viewed as NCHW, and a broadcast.
#[test]
fn im2col_kernel_on_strided_inputs_matches_reference() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(12);
    for (n, c, _, h, w, k, s, p) in CASES {
        let g = Patches::conv([n, c, h, w], k, s, p);
        patches::check_strided(g, patches::strided_inputs(g, &mut rng, &dev));
    }
}
