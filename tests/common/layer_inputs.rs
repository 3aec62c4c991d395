//! Inputs of the layer-kernel tests (`tests/layer_kernels.rs`, `tests/leaky_scale_kernel.rs`):
//! activations in the layouts a network hands out and upstream gradients in those autodiff
//! hands out.

use burn::tensor::{Device, Tensor};
use margan::rng::Rng;

/// `x [N, C, H, W]`, contiguous or as the channel-major view a GEMM convolution returns, with
/// a trend along the batch (so the kernels' ranges of a channel have different means).
pub fn input(shape: [usize; 4], channel_major: bool, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [n, c, h, w] = shape;
    let trend = |axis: usize| {
        let mut dims = [1; 4];
        dims[axis] = n;
        Tensor::<1, burn::tensor::Int>::arange(0..n as i64, device)
            .float()
            .mul_scalar(0.4)
            .reshape(dims)
    };
    if channel_major {
        (rng.normal_tensor([c, n, h, w], 0.7, 1.9, device) + trend(1)).swap_dims(0, 1)
    } else {
        rng.normal_tensor(shape, 0.7, 1.9, device) + trend(0)
    }
}

/// `Σ w·t`: a loss with a random upstream gradient `w`.
pub fn weighted<const D: usize>(t: Tensor<D>, w: &Tensor<D>) -> Tensor<1> {
    (t * w.clone()).sum()
}

/// An upstream gradient: contiguous, a permuted view, or broadcast along H (a stride-0
/// view), as burn's autodiff hands them out. (Not constant per channel: the input gradient
/// of a constant is zero.)
pub fn upstream(shape: [usize; 4], layout: usize, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [n, c, h, w] = shape;
    match layout {
        0 => rng.normal_tensor(shape, 0.0, 1.0, device),
        1 => rng
            .normal_tensor([n, h, w, c], 0.0, 1.0, device)
            .permute([0, 3, 1, 2]),
        _ => rng
            .normal_tensor([n, c, 1, w], 0.0, 1.0, device)
            .expand(shape),
    }
}
