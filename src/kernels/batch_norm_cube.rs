//! The BatchNorm extension's WGSL launches on the CubeCL (wgpu) backend (the trait:
//! `batch_norm_ops.rs`).

use super::batch_norm_ops::{BatchNormOps, NO_ACTIVATION};
use super::batch_norm_plan::{channel_vec, Grads, Mask, Plan};
use super::launch::{aligned_len, empty_like, unaliased, view_1d};
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::tensor::Shape;

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
