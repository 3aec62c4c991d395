//! Margin gradient penalties (the paper's equation 6): `λ · mean_i F(‖∇ₓ C(x̂ᵢ)‖)`.
//!
//! The input gradient comes from the critic's differentiable backward pass, so calling
//! `.backward()` on the penalty (plus the critic's loss) gives exact parameter gradients.

use crate::kernels::critic_batch::critic_batch;
use crate::kernels::mean_terms::{mean_terms, MeanTerm, MeanTerms, Phi};
use crate::layers::{Network, Trace};
use crate::norms::{sample_row_norm, Norm};
use crate::rng::Rng;
use burn::tensor::{activation::relu, Tensor};
use serde::{Deserialize, Serialize};

/// `F` applied to the gradient norm `‖g‖`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// `(‖g‖ − 1)²` (WGAN-GP).
    Ls,
    /// `max(0, ‖g‖ − 1)` (the form of the paper's own runs).
    Hinge,
    /// `max(0, ‖g‖ − 1)²`.
    SquaredHinge,
    /// `‖g‖²` (R1/R2-style).
    ZeroCentered,
}

/// Where the input gradient is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Where {
    /// `x̂ = u·x_r + (1 − u)·x_f`, `u ~ U[0, 1)` per sample pair (WGAN-GP).
    Interpolates,
    /// DRAGAN: `x̂ = x_r + (1 − u)·δ`, `δ = ½·std(x_r)·U[0, 1)` elementwise, `u ~ U[0, 1)` per sample.
    RealPerturbed,
    /// At real samples (R1).
    Real,
    /// At fake samples (R2).
    Fake,
}

impl Form {
    pub const ALL: [Form; 4] = [
        Form::Ls,
        Form::Hinge,
        Form::SquaredHinge,
        Form::ZeroCentered,
    ];

    /// `weight · mean F(n)` as a term of the mean-terms kernel over the norms (group 0).
    pub fn term(self, weight: f32) -> MeanTerm {
        match self {
            Form::Ls => MeanTerm::new(weight, Phi::Square, 0, 1.0, -1.0),
            Form::Hinge => MeanTerm::new(weight, Phi::Relu, 0, 1.0, -1.0),
            Form::SquaredHinge => MeanTerm::new(weight, Phi::ReluSquare, 0, 1.0, -1.0),
            Form::ZeroCentered => MeanTerm::new(weight, Phi::Square, 0, 1.0, 0.0),
        }
    }

    /// `F(n)` elementwise.
    pub fn apply(self, n: Tensor<1>) -> Tensor<1> {
        match self {
            Form::Ls => n.sub_scalar(1.0).square(),
            Form::Hinge => relu(n.sub_scalar(1.0)),
            Form::SquaredHinge => relu(n.sub_scalar(1.0)).square(),
            Form::ZeroCentered => n.square(),
        }
    }
}

/// A gradient penalty on the critic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientPenalty {
    pub norm: Norm,
    pub form: Form,
    pub at: Where,
    /// `λ`.
    pub weight: f64,
}

/// The penalty's value and the paper's diagnostic of vanishing gradients at fake samples.
pub struct PenaltyOutput {
    /// `λ · mean F(‖g‖)`, tracked: add it to the critic's loss.
    pub value: Tensor<1>,
    /// Mean `‖∇ₓ C‖` (in the penalty's norm) at the real samples (detached).
    pub grad_norm_real: Tensor<1>,
    /// Mean `‖∇ₓ C‖` at the fake samples (detached).
    pub grad_norm_fake: Tensor<1>,
}

impl Default for GradientPenalty {
    /// The paper's best setting: L∞ gradient norm (L1 margin), hinge form, at interpolates, λ = 20.
    fn default() -> Self {
        GradientPenalty {
            norm: Norm::Linf,
            form: Form::Hinge,
            at: Where::Interpolates,
            weight: 20.0,
        }
    }
}

/// Per-sample norms of a `[N, ...]` gradient.
pub fn sample_norms(g: Tensor<4>, norm: Norm) -> Tensor<1> {
    sample_row_norm(g, norm)
}

/// `∇ₓ Σ C(x)` at the input of a traced forward pass (differentiable).
pub fn traced_input_grad(critic: &Network, trace: &Trace) -> Tensor<4> {
    critic.backward_input(trace, trace.output().ones_like())
}

/// Mean per-sample norm of the critic's input gradient at the traced batch (detached): the
/// paper's diagnostic of vanishing gradients.
pub fn mean_grad_norm(critic: &Network, trace: &Trace, norm: Norm) -> Tensor<1> {
    sample_norms(traced_input_grad(critic, trace).detach(), norm).mean()
}

impl GradientPenalty {
    /// `[real; fake; points]`: the batch of a critic's one pass over the real, the fake batch
    /// and this penalty's own points ([`GradientPenalty::has_own_points`]), detached. The
    /// interpolates take one launch on wgpu (`kernels::critic_batch`); the random draws are
    /// those of [`GradientPenalty::points`].
    pub fn pass_batch(&self, real: Tensor<4>, fake: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let (real, fake) = (real.detach(), fake.detach());
        if self.at == Where::Interpolates && real.dims() == fake.dims() {
            let n = real.dims()[0];
            let u = rng.uniform_tensor([n], 0.0, 1.0, &real.device());
            return critic_batch(real, fake, u);
        }
        let points = self.points(real.clone(), fake.clone(), rng);
        Tensor::cat(vec![real, fake, points], 0)
    }

    /// The points `x̂` where the gradient is taken (detached), from paired real and fake batches.
    pub fn points(&self, real: Tensor<4>, fake: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let (real, fake) = (real.detach(), fake.detach());
        let device = real.device();
        let [n, c, h, w] = real.dims();
        match self.at {
            Where::Real => real,
            Where::Fake => fake,
            Where::Interpolates => {
                assert_eq!(
                    real.dims(),
                    fake.dims(),
                    "interpolates need paired real and fake batches"
                );
                let u = rng.uniform_tensor([n, 1, 1, 1], 0.0, 1.0, &device);
                real * u.clone() + fake * u.neg().add_scalar(1.0)
            }
            Where::RealPerturbed => {
                let std = {
                    let flat = real.clone().reshape([n * c * h * w]);
                    let mean = flat.clone().mean();
                    (flat - mean)
                        .square()
                        .sum()
                        .div_scalar(((n * c * h * w) as f64 - 1.0).max(1.0))
                        .sqrt()
                };
                let delta = rng
                    .uniform_tensor([n, c, h, w], 0.0, 1.0, &device)
                    .mul_scalar(0.5)
                    * std.reshape([1, 1, 1, 1]);
                let u = rng.uniform_tensor([n, 1, 1, 1], 0.0, 1.0, &device);
                real + delta * u.neg().add_scalar(1.0)
            }
        }
    }

    /// `λ · mean F(‖∇ₓ C(x̂)‖)` over the given input gradient `g = ∇ₓ C(x̂)`.
    pub fn from_input_grad(&self, g: Tensor<4>) -> (Tensor<1>, Tensor<1>) {
        let norms = sample_norms(g, self.norm);
        if crate::kernels::runs_f32_kernels(&norms) {
            // One launch each way on wgpu instead of the tensor ops' five or so.
            let terms = MeanTerms {
                groups: 1,
                terms: vec![self.form.term(self.weight as f32)],
            };
            return (mean_terms(norms.clone(), &terms), norms);
        }
        (
            self.form
                .apply(norms.clone())
                .mean()
                .mul_scalar(self.weight),
            norms,
        )
    }

    /// Whether the gradient is taken at points of the penalty's own (interpolates, DRAGAN),
    /// which need a forward pass of the critic beside the real and the fake batch.
    pub fn has_own_points(&self) -> bool {
        matches!(self.at, Where::Interpolates | Where::RealPerturbed)
    }

    /// The penalty on `critic`, given the traces of its forward passes on the real and the fake
    /// batch (as computed for the critic's loss), with the mean gradient norms at real and fake
    /// samples. R1/R2 reuse those traces; interpolates and DRAGAN run one more forward pass in
    /// the traces' mode.
    pub fn compute(
        &self,
        critic: &Network,
        real: &Trace,
        fake: &Trace,
        rng: &mut Rng,
    ) -> PenaltyOutput {
        let (value, norms) =
            self.evaluate(critic, Passes::Separate { real, fake }, Some(rng), true);
        let [grad_norm_real, grad_norm_fake] = norms.expect("diagnostics were requested");
        PenaltyOutput {
            value,
            grad_norm_real,
            grad_norm_fake,
        }
    }

    /// The penalty's value alone: skips the backward passes that only the diagnostics need.
    pub fn compute_value(
        &self,
        critic: &Network,
        real: &Trace,
        fake: &Trace,
        rng: &mut Rng,
    ) -> Tensor<1> {
        let passes = Passes::Separate { real, fake };
        self.evaluate(critic, passes, Some(rng), false).0
    }

    /// The penalty from one pass of the critic over `[real; fake]` with, where the penalty
    /// [`has_own_points`](Self::has_own_points), its [`points`](Self::points) as a third group
    /// ([`Network::trace_groups`]): the same value as [`compute`](Self::compute) on separate
    /// passes, and with `diagnostics` the mean gradient norms at real and fake samples.
    ///
    /// # Panics
    /// When `pass` does not hold 2 groups, or 3 for a penalty with points of its own.
    pub fn compute_in_pass(
        &self,
        critic: &Network,
        pass: &Trace,
        diagnostics: bool,
    ) -> (Tensor<1>, Option<[Tensor<1>; 2]>) {
        let groups = 2 + usize::from(self.has_own_points());
        assert_eq!(
            pass.groups,
            groups,
            "a pass for this penalty holds real, fake{} as groups",
            if groups == 3 { " and its points" } else { "" }
        );
        // The points are drawn already: nothing random is left.
        self.evaluate(critic, Passes::Merged(pass), None, diagnostics)
    }

    fn evaluate(
        &self,
        critic: &Network,
        passes: Passes,
        rng: Option<&mut Rng>,
        diagnostics: bool,
    ) -> (Tensor<1>, Option<[Tensor<1>; 2]>) {
        let input_grad = |trace: &Trace| traced_input_grad(critic, trace);
        let mean_norm = |g: &Tensor<4>| sample_norms(g.clone().detach(), self.norm).mean();
        let (g_real, g_fake) = match (diagnostics, self.at) {
            (true, _) => (
                Some(input_grad(&passes.real())),
                Some(input_grad(&passes.fake())),
            ),
            (false, Where::Real) => (Some(input_grad(&passes.real())), None),
            (false, Where::Fake) => (None, Some(input_grad(&passes.fake()))),
            (false, _) => (None, None),
        };
        let norms = diagnostics.then(|| {
            [
                mean_norm(g_real.as_ref().unwrap()),
                mean_norm(g_fake.as_ref().unwrap()),
            ]
        });
        let g = match self.at {
            Where::Real => g_real.unwrap(),
            Where::Fake => g_fake.unwrap(),
            Where::Interpolates | Where::RealPerturbed => match passes {
                Passes::Separate { real, fake } => {
                    let rng = rng.expect("separate passes draw the points here");
                    let x = self.points(real.acts[0].clone(), fake.acts[0].clone(), rng);
                    input_grad(&critic.trace(x, real.mode))
                }
                Passes::Merged(pass) => input_grad(&pass.group(2)),
            },
        };
        (self.from_input_grad(g).0, norms)
    }
}

/// The critic's traced passes a penalty reads.
#[derive(Clone, Copy)]
enum Passes<'a> {
    /// One pass over the real and one over the fake batch; the points get a pass of their own.
    Separate { real: &'a Trace, fake: &'a Trace },
    /// One pass over real, fake (and the points) as groups.
    Merged(&'a Trace),
}

impl Passes<'_> {
    fn real(self) -> Trace {
        match self {
            Passes::Separate { real, .. } => real.clone(),
            Passes::Merged(pass) => pass.group(0),
        }
    }

    fn fake(self) -> Trace {
        match self {
            Passes::Separate { fake, .. } => fake.clone(),
            Passes::Merged(pass) => pass.group(1),
        }
    }
}
