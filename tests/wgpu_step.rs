//! One full GAN training step (critic: HingeGAN + L∞ hinge penalty at interpolates, λ = 20;
//! then the generator) on wgpu gives the CPU backend's losses and parameter gradients, from the
//! same weights and the same data. On wgpu the penalty's L∞ norm runs as the WGSL kernel, and
//! the step runs three times: with the GEMM convolutions (WGSL patch kernels and burn's matrix
//! product, or margan's tiled one) and with burn's own.
//!
//! `cargo test --release -p margan --features wgpu --test wgpu_step`; without an adapter the
//! test prints why and passes, except when `MARGAN_REQUIRE_GPU=1` (CI).
#![cfg(feature = "wgpu")]

mod common;

use common::penalised_step::{compare, step};
use margan::conv::{with_conv_path, ConvPath};
use margan::kernels::matmul::{
    product_launches, with_matmul_tuning, MatmulChoice, MatmulTuning, MatmulVariant,
};

#[test]
fn linf_penalised_step_on_wgpu_matches_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let b = with_conv_path(ConvPath::Burn, || step(&margan::device::cpu()));
    for path in [ConvPath::Gemm, ConvPath::Tiled, ConvPath::Burn] {
        let a = with_conv_path(path, || step(&gpu));
        compare(
            &a,
            &b,
            &format!("wgpu ({} convolutions)", path.name()),
            "cpu",
        );
    }
    // The step's products are too small for the tuner to measure (burn's take them): every
    // one, forward and in the double backward, on margan's kernel as well.
    let every = MatmulTuning::Fixed(MatmulChoice::Kernel(MatmulVariant::DEFAULT));
    let a = with_conv_path(ConvPath::Tiled, || with_matmul_tuning(every, || step(&gpu)));
    compare(&a, &b, "wgpu (tiled, every product on 64x64+pf)", "cpu");
    // And on a vector variant, whose vec4 loads take an operand where its layout allows: in
    // this step (batch and channels multiples of 4, 3-channel images, 4×4 kernels) every one,
    // forward and in the double backward.
    let vec = MatmulVariant::vectorised(8, 8);
    let before = product_launches();
    let a = with_conv_path(ConvPath::Tiled, || {
        with_matmul_tuning(MatmulTuning::Fixed(MatmulChoice::Kernel(vec)), || {
            step(&gpu)
        })
    });
    let n = product_launches().since(before);
    compare(&a, &b, "wgpu (tiled, every product on 128x128+vec)", "cpu");
    eprintln!(
        "128x128+vec: {} products, A read as vec4 in {}, B in {}",
        n.launches, n.a_vec4, n.b_vec4
    );
    if !common::matmul::launches_counted("linf_penalised_step_on_wgpu_matches_cpu") {
        return;
    }
    assert!(n.launches > 0, "the step ran on the kernel");
    assert_eq!(
        [n.a_vec4, n.b_vec4],
        [n.launches; 2],
        "vec4 operands: {n:?}"
    );
}
