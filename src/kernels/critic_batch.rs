//! The batch of a critic's one pass with the gradient penalty's interpolates,
//! `[real; fake; real·u + fake·(1 − u)]` (`shaders/critic_batch.wgsl`): one launch on wgpu, where
//! burn's ops take a concatenation (three slice assignments) and four elementwise launches for
//! the interpolates. Nothing here is differentiated: a critic step's batches are constants.

use burn::tensor::Tensor;

/// Plain-tensor reference (what the CPU backends run): `real`, `fake` `[N, C, H, W]`, `u` `[N]`.
pub fn critic_batch_reference(real: Tensor<4>, fake: Tensor<4>, u: Tensor<1>) -> Tensor<4> {
    let n = u.dims()[0];
    let u = u.reshape([n, 1, 1, 1]);
    let points = real.clone() * u.clone() + fake.clone() * u.neg().add_scalar(1.0);
    Tensor::cat(vec![real, fake, points], 0)
}

/// The batch by the WGSL kernel (one launch); the inputs are taken as constants (detached).
///
/// # Panics
/// When the tensors are not on a wgpu device (check with [`super::has_kernels`]), not f32, or
/// of mismatched shapes.
#[cfg(feature = "wgpu")]
pub fn critic_batch_kernel(real: Tensor<4>, fake: Tensor<4>, u: Tensor<1>) -> Tensor<4> {
    use super::critic_batch_cube::CriticBatchOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&real.device()),
        "the critic-batch kernel runs on the wgpu backend only"
    );
    Tensor::from_dispatch(<Dispatch as CriticBatchOps>::interpolated_batch(
        real.detach().into_dispatch(),
        fake.detach().into_dispatch(),
        u.detach().into_dispatch(),
    ))
}

/// The kernel on wgpu (f32), the reference elsewhere.
pub fn critic_batch(real: Tensor<4>, fake: Tensor<4>, u: Tensor<1>) -> Tensor<4> {
    #[cfg(feature = "wgpu")]
    if super::runs_f32_kernels(&real) {
        return critic_batch_kernel(real, fake, u);
    }
    critic_batch_reference(real.detach(), fake.detach(), u.detach())
}
