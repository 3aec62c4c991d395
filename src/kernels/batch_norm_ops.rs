//! The BatchNorm backend extension: training-mode BatchNorm, its backward and the backward's
//! vector-Jacobian product, on wgpu (`batch_norm_cube.rs`) and on the flex CPU backend
//! (`batch_norm_flex.rs`); its autodiff is `batch_norm_autodiff.rs`.

use burn::backend::{backend_extension, tensor::FloatTensor};

/// Backend extension: BatchNorm in training mode (statistics per channel of `x [N, C, H, W]`
/// over N, H, W), its backward, and the backward's vector-Jacobian product: two passes each
/// on wgpu (partial sums per range of a channel, then the elementwise outputs, which in the
/// forward also moves the running statistics), one launch where a channel is one range, two
/// otherwise; on the flex CPU backend two loops over each channel (`batch_norm_flex.rs`).
/// `eps` and `momentum` are f32 bits; `groups` splits the batch into that many equal groups
/// along N, each normalised with its own statistics (1: the whole batch).
#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex,
    Fusion: cfg(feature = "fusion"),
    Autodiff
)]
pub trait BatchNormOps: burn::backend::Backend {
    /// `(x, γ, β, running mean, running var)` → `(y, running mean', running var')`, with
    /// `[eps, momentum, groups]`; the running statistics move once per group, in order.
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _g: &burn::backend::fusion::custom::TensorSpec,
                     _b: &burn::backend::fusion::custom::TensorSpec,
                     rm: &burn::backend::fusion::custom::TensorSpec,
                     _rv: &burn::backend::fusion::custom::TensorSpec,
                     _s: &[u32; 4]| (x.clone(), rm.clone(), rm.clone()))]
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        eps_momentum_groups_activation: [u32; 4],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `(x, gy, γ)` → `(gx, ∂γ, ∂β)`: the input gradient with the batch statistics' share, and
    /// the parameter gradients (summed over the groups), with `[eps, groups]`. Differentiable in
    /// `gx` only (see the autodiff module).
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _gy: &burn::backend::fusion::custom::TensorSpec,
                     g: &burn::backend::fusion::custom::TensorSpec,
                     _eps: &[u32; 2]| (x.clone(), g.clone(), g.clone()))]
    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// [`BatchNormOps::batch_norm_backward`] of a forward that had a ReLU / LeakyReLU fused in
    /// (`[eps, groups, slope bits]`): `gy` is the activation's upstream gradient, masked here
    /// by the signs of that forward's output `y` (one launch fewer than the activation's
    /// backward kernel first). First-order only: not differentiated again.
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _gy: &burn::backend::fusion::custom::TensorSpec,
                     g: &burn::backend::fusion::custom::TensorSpec,
                     _y: &burn::backend::fusion::custom::TensorSpec,
                     _eps: &[u32; 3]| (x.clone(), g.clone(), g.clone()))]
    fn batch_norm_backward_masked(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        y: FloatTensor<Self>,
        eps_groups_slope: [u32; 3],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `(x, gy, γ, u = ∂L/∂gx)` → `(∂L/∂x, ∂L/∂gy, ∂L/∂γ)` of the backward's `gx`, with
    /// `[eps, groups]`.
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _gy: &burn::backend::fusion::custom::TensorSpec,
                     g: &burn::backend::fusion::custom::TensorSpec,
                     _u: &burn::backend::fusion::custom::TensorSpec,
                     _eps: &[u32; 2]| (x.clone(), x.clone(), g.clone()))]
    fn batch_norm_backward_vjp(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        u: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The forward's activation argument for none; otherwise it is the LeakyReLU slope's f32 bits
/// (0 for ReLU).
pub(crate) const NO_ACTIVATION: u32 = u32::MAX;
