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

use common::penalised_step::{compare, compare_within, step};
use margan::conv::{with_conv_path, ConvPath};
use margan::kernels::matmul::{
    tensor_cores, with_matmul_tuning, MatmulChoice, MatmulTuning, MatmulVariant,
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
}

/// The effect of the optional f16 tensor-core products on the penalised step: losses, penalty
/// and gradients against the CPU in f32, printed, within loose bounds (f16 operands).
#[test]
fn f16_tensor_core_step_against_cpu() {
    let Some(gpu) = common::gpu() else { return };
    if !tensor_cores() {
        eprintln!(
            "SKIPPED the f16 tensor-core step: this adapter offers no 16×16×16 f16 cooperative \
             matrices with 32-wide subgroups (an NVIDIA GPU through Vulkan does; lavapipe does not)"
        );
        return;
    }
    let b = with_conv_path(ConvPath::Burn, || step(&margan::device::cpu()));
    let f16 = MatmulTuning::Fixed(MatmulChoice::TensorCores);
    let a = with_conv_path(ConvPath::Tiled, || with_matmul_tuning(f16, || step(&gpu)));
    let [losses, grads] =
        compare_within(&a, &b, "wgpu (f16 tensor cores)", "cpu f32", [2e-2, 5e-2]);
    eprintln!(
        "f16 tensor-core products: losses and penalty within {losses:.2e} of f32, gradients within {grads:.2e}"
    );
}
