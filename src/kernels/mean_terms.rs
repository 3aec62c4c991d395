//! Sums of means of pointwise functions (`shaders/mean_terms_*.wgsl`): the losses of a GAN and
//! the form of a gradient penalty, each in one launch forward and one backward.
//!
//! `x` holds `groups` equal groups of `n` values (a critic's outputs on its real, fake and penalty
//! batches, side by side as one pass gives them; or a penalty's gradient norms, one group), and
//!
//! `value = Σ_t scale_t · (1/n) · Σ_i φ_t(z_t,i)`,  `z_t,i = Σ_(g, a) a · x[g·n + i] + bias_t`
//!
//! where each term `t` reads one group, or two paired sample by sample (a relativistic paired
//! loss's `C(x_r) − C(x_f)`). Written in burn's tensor ops (`*_reference`, what the CPU backends
//! run), a hinge loss over two slices of one pass takes ~14 launches forward and as many
//! backward — slices, negations, scalar additions, masks, reductions and, backward, a zero
//! tensor and a slice assignment per slice — where the kernel takes one each way, and its
//! backward writes the gradient of the whole pass at once (zero on groups no term reads).
//!
//! Derivatives follow burn's autodiff: `relu'(0) = 0`.

use burn::tensor::{activation::relu, activation::softplus, Tensor};

/// The pointwise function of a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phi {
    /// `z`
    Identity,
    /// `max(0, z)`
    Relu,
    /// `z²`
    Square,
    /// `max(0, z)²`
    ReluSquare,
    /// `log(1 + eᶻ)`
    Softplus,
}

/// One term: `scale · mean_i φ(Σ a · x[g·n + i] + bias)` over the pairs `(g, a)` of `inputs`.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanTerm {
    pub scale: f32,
    pub phi: Phi,
    /// `(group, coefficient)`: one, or two groups paired sample by sample.
    pub inputs: Vec<(usize, f32)>,
    pub bias: f32,
}

impl MeanTerm {
    /// `scale · mean φ(a · x_group + bias)`.
    pub fn new(scale: f32, phi: Phi, group: usize, a: f32, bias: f32) -> Self {
        MeanTerm {
            scale,
            phi,
            inputs: vec![(group, a)],
            bias,
        }
    }

    /// `scale · mean φ(a · x_g + b · x_h + bias)`, groups `g` and `h` paired sample by sample.
    pub fn paired(
        scale: f32,
        phi: Phi,
        (g, a): (usize, f32),
        (h, b): (usize, f32),
        bias: f32,
    ) -> Self {
        MeanTerm {
            scale,
            phi,
            inputs: vec![(g, a), (h, b)],
            bias,
        }
    }
}

/// What the kernel computes: the terms over `x` split into `groups` equal groups.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanTerms {
    pub groups: usize,
    pub terms: Vec<MeanTerm>,
}

impl MeanTerms {
    /// Values per group of an `x` of `len` values.
    ///
    /// # Panics
    /// When `len` does not split into the groups, or a term reads a group that is not there.
    pub fn group_len(&self, len: usize) -> usize {
        assert!(
            self.groups >= 1 && len.is_multiple_of(self.groups) && len > 0,
            "mean terms: {len} values do not split into {} equal groups",
            self.groups
        );
        for t in &self.terms {
            assert!(
                !t.inputs.is_empty() && t.inputs.iter().all(|&(g, _)| g < self.groups),
                "mean terms: a term reads groups {:?} of {}",
                t.inputs,
                self.groups
            );
        }
        len / self.groups
    }
}

fn apply(phi: Phi, z: Tensor<1>) -> Tensor<1> {
    match phi {
        Phi::Identity => z,
        Phi::Relu => relu(z),
        Phi::Square => z.square(),
        Phi::ReluSquare => relu(z).square(),
        Phi::Softplus => softplus(z, 1.0),
    }
}

/// Plain-tensor reference: the terms in burn's tensor ops (differentiable in `x`). Returns `[1]`.
pub fn mean_terms_reference(x: Tensor<1>, spec: &MeanTerms) -> Tensor<1> {
    let n = spec.group_len(x.dims()[0]);
    let group = |g: usize| x.clone().slice(g * n..(g + 1) * n);
    let mut total: Option<Tensor<1>> = None;
    for t in &spec.terms {
        let z = t
            .inputs
            .iter()
            .map(|&(g, a)| group(g).mul_scalar(a))
            .reduce(|u, v| u + v)
            .expect("a term reads at least one group")
            .add_scalar(t.bias);
        let term = apply(t.phi, z).mean().mul_scalar(t.scale);
        total = Some(match total {
            Some(s) => s + term,
            None => term,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([1], &x.device()))
}

/// The terms by the WGSL kernels: one launch, differentiable in `x` through the backward kernel
/// (one launch, first order only). Returns `[1]`.
///
/// # Panics
/// When `x` is not on a wgpu device (check with [`super::has_kernels`]) or not f32.
#[cfg(feature = "wgpu")]
pub fn mean_terms_kernel(x: Tensor<1>, spec: &MeanTerms) -> Tensor<1> {
    use super::mean_terms_cube::MeanTermsOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&x.device()),
        "the mean-terms kernel runs on the wgpu backend only"
    );
    spec.group_len(x.dims()[0]);
    Tensor::from_dispatch(<Dispatch as MeanTermsOps>::mean_terms_forward(
        x.into_dispatch(),
        spec.clone(),
    ))
}

/// The kernel on wgpu (f32), the reference elsewhere.
pub fn mean_terms(x: Tensor<1>, spec: &MeanTerms) -> Tensor<1> {
    #[cfg(feature = "wgpu")]
    if super::runs_f32_kernels(&x) {
        return mean_terms_kernel(x, spec);
    }
    mean_terms_reference(x, spec)
}
