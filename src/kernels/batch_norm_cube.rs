//! The BatchNorm backend extension and its WGSL launches on the CubeCL (wgpu) backend.

use super::batch_norm_plan::{channel_vec, Grads, Mask, Plan};
use super::launch::{aligned_len, empty_like, unaliased, view_1d};
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::Shape;

/// Backend extension: BatchNorm in training mode (statistics per channel of `x [N, C, H, W]`
/// over N, H, W), its backward, and the backward's vector-Jacobian product: two passes each
/// (partial sums per range of a channel, then the elementwise outputs, which in the forward
/// also moves the running statistics), one launch where a channel is one range, two otherwise.
/// `eps` and `momentum` are f32 bits; `groups` splits the batch into that many equal groups
/// along N, each normalised with its own statistics (1: the whole batch).
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
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

impl BatchNormOps for CubeBackend {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        [eps, momentum, groups, activation]: [u32; 4],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let plan = Plan::new(&x, [eps, groups]);
        let c = plan.channels();
        let [gamma, beta, rm, rv] = [
            (gamma, "γ"),
            (beta, "β"),
            (running_mean, "the running mean"),
            (running_var, "the running variance"),
        ]
        .map(|(t, what)| channel_vec(t, c, what));
        let y = plan.output(&x);
        // The new running statistics, in one buffer the outputs are views of.
        let rv_at = aligned_len(&x, c);
        let running = empty_like(&x, Shape::new([rv_at + c]));
        let activation = if activation == NO_ACTIVATION {
            "v".to_string()
        } else {
            format!("v * select(bitcast<f32>({activation}u), 1.0, v > 0.0)")
        };
        plan.run(
            "batch_norm_forward",
            include_str!("../../shaders/batch_norm_forward.wgsl"),
            vec![
                ("activation", activation),
                ("momentum_bits", momentum.to_string()),
                ("rv_at", rv_at.to_string()),
            ],
            Grads::default(),
            vec![&x, &gamma, &beta, &y, &rm, &rv, &running],
        );
        let (rm_out, rv_out) = (view_1d(&running, 0, c), view_1d(&running, rv_at, c));
        (y, rm_out, rv_out)
    }

    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        backward(x, gy, gamma, None, eps_groups)
    }

    fn batch_norm_backward_masked(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        y: FloatTensor<Self>,
        [eps, groups, slope]: [u32; 3],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let y = unaliased(y, &[&x, &gy]);
        backward(x, gy, gamma, Some(Mask { y, slope }), [eps, groups])
    }

    fn batch_norm_backward_vjp(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        u: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let plan = Plan::new(&x, eps_groups);
        let c = plan.channels();
        let gamma = channel_vec(gamma, c, "γ");
        let gy = unaliased(gy, &[&x]);
        let u = unaliased(u, &[&x, &gy]);
        let dx = plan.output(&x);
        let dgy = plan.output(&x);
        let dgamma = empty_like(&x, Shape::new([c]));
        let grads = Grads {
            gy: Some(&gy),
            u: Some(&u),
            mask: None,
        };
        plan.run(
            "batch_norm_backward_vjp",
            include_str!("../../shaders/batch_norm_backward_vjp.wgsl"),
            Vec::new(),
            grads,
            vec![&x, &gy, &gamma, &u, &dx, &dgy, &dgamma],
        );
        (dx, dgy, dgamma)
    }
}

/// The backward (one or two launches), with the upstream gradient masked by the activation fused into
/// the forward where `mask` says so.
fn backward(
    x: CubeTensor,
    gy: CubeTensor,
    gamma: CubeTensor,
    mask: Option<Mask>,
    eps_groups: [u32; 2],
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let plan = Plan::new(&x, eps_groups);
    let c = plan.channels();
    let gamma = channel_vec(gamma, c, "γ");
    let gy = unaliased(gy, &[&x]);
    let gx = plan.output(&x);
    let grad_gamma = empty_like(&x, Shape::new([c]));
    let grad_beta = empty_like(&x, Shape::new([c]));
    let grads = Grads {
        gy: Some(&gy),
        u: None,
        mask: mask.as_ref(),
    };
    plan.run(
        "batch_norm_backward",
        include_str!("../../shaders/batch_norm_backward.wgsl"),
        Vec::new(),
        grads,
        vec![&x, &gy, &gamma, &gx, &grad_gamma, &grad_beta],
    );
    (gx, grad_gamma, grad_beta)
}
