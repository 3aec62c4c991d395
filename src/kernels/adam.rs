//! The fused Adam step kernel (`shaders/adam_step.wgsl`): one launch per parameter tensor
//! instead of burn's 13 elementwise ones, with the same f32 arithmetic in the same order.

use burn::tensor::Tensor;

/// The scalars of one Adam step, computed in f32 exactly as burn's `Adam` computes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    pub beta1: f32,
    pub beta2: f32,
    pub one_minus_beta1: f32,
    pub one_minus_beta2: f32,
    /// `√(1−β₂ᵗ) / (1−β₁ᵗ)`: both bias corrections in one factor.
    pub combined: f32,
    /// `ε·√(1−β₂ᵗ)`, so that the update is `(m·c) / (√v + ε̂)`.
    pub epsilon: f32,
    pub lr: f32,
}

impl AdamScalars {
    /// The scalars of step `time` (1 for the first update of a parameter).
    pub fn new(beta1: f32, beta2: f32, epsilon: f32, time: usize, lr: f64) -> Self {
        let t = time as i32;
        let bias2_sqrt = (1.0 - beta2.powi(t)).sqrt();
        AdamScalars {
            beta1,
            beta2,
            one_minus_beta1: 1.0 - beta1,
            one_minus_beta2: 1.0 - beta2,
            combined: bias2_sqrt / (1.0 - beta1.powi(t)),
            epsilon: epsilon * bias2_sqrt,
            lr: lr as f32,
        }
    }

    /// The scalars of the shader's info buffer, `[β₁, β₂, 1−β₁, 1−β₂, c, ε̂, lr]` as f32 bits
    /// (the launch adds the element count, the shape and the gradient's strides).
    pub(crate) fn bits(&self) -> [u32; 7] {
        [
            self.beta1.to_bits(),
            self.beta2.to_bits(),
            self.one_minus_beta1.to_bits(),
            self.one_minus_beta2.to_bits(),
            self.combined.to_bits(),
            self.epsilon.to_bits(),
            self.lr.to_bits(),
        ]
    }

    /// The scalars back from [`Self::bits`].
    pub(crate) fn from_bits(bits: [u32; 7]) -> Self {
        let [beta1, beta2, one_minus_beta1, one_minus_beta2, combined, epsilon, lr] =
            bits.map(f32::from_bits);
        AdamScalars {
            beta1,
            beta2,
            one_minus_beta1,
            one_minus_beta2,
            combined,
            epsilon,
            lr,
        }
    }
}

/// Plain-tensor reference: `(p', m', v')` of one Adam step from parameter `p`, gradient `g`
/// and moments `m`, `v` (zeros before the first step), in burn's `Adam` order of operations.
pub fn adam_step_reference<const D: usize>(
    p: Tensor<D>,
    g: Tensor<D>,
    m: Tensor<D>,
    v: Tensor<D>,
    s: &AdamScalars,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let m = m
        .mul_scalar(s.beta1)
        .add(g.clone().mul_scalar(s.one_minus_beta1));
    let v = v
        .mul_scalar(s.beta2)
        .add(g.square().mul_scalar(s.one_minus_beta2));
    let update = m
        .clone()
        .mul_scalar(s.combined)
        .div(v.clone().sqrt().add_scalar(s.epsilon));
    (p - update.mul_scalar(s.lr), m, v)
}

/// Whether [`adam_step_kernel`] runs for a parameter like `t`: f32, on wgpu (the WGSL kernel;
/// not under burn's fusion, which merges burn's `Adam` itself) or on the flex CPU backend (one
/// loop). Elsewhere (burn's ndarray backend, other dtypes) it is burn's `Adam`.
pub fn runs_fused<const D: usize>(t: &Tensor<D>) -> bool {
    let device = t.device();
    t.dtype() == burn::tensor::DType::F32
        && (super::is_flex(&device) || (super::has_kernels(&device) && !crate::device::FUSION))
}

/// `(p', m', v')` of one Adam step in one pass: the WGSL kernel on wgpu (one launch), a loop on
/// the flex CPU backend. All four inputs have the same shape; outputs are new tensors. A
/// strided gradient (a transposed view, say) is read in place on wgpu, copied once on flex.
///
/// # Panics
/// When [`runs_fused`] does not hold for `p`, or the shapes differ.
pub fn adam_step_kernel<const D: usize>(
    p: Tensor<D>,
    g: Tensor<D>,
    m: Tensor<D>,
    v: Tensor<D>,
    s: &AdamScalars,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    use super::adam_ops::AdamOps;
    use burn::backend::Dispatch;
    assert!(
        runs_fused(&p),
        "the fused Adam step runs on f32 tensors on wgpu or flex"
    );
    let shape = p.shape();
    for (name, t) in [
        ("gradient", &g),
        ("first moment", &m),
        ("second moment", &v),
    ] {
        assert_eq!(
            t.shape(),
            shape,
            "Adam kernel: {name} shape differs from the parameter's"
        );
    }
    let (p, m, v) = <Dispatch as AdamOps>::adam_step(
        p.into_dispatch(),
        g.into_dispatch(),
        m.into_dispatch(),
        v.into_dispatch(),
        s.bits(),
    );
    (
        Tensor::from_dispatch(p),
        Tensor::from_dispatch(m),
        Tensor::from_dispatch(v),
    )
}
