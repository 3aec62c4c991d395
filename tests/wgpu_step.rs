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
use margan::kernels::matmul::{with_matmul_tuning, MatmulChoice, MatmulTuning, MatmulVariant};

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
}
