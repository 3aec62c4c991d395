//! One GAN training step: `d_steps` critic updates (loss + margin penalty) and one generator
//! update, with Adam. Shared by the CLI trainer, the tests and the browser playground.

use crate::device::scalar;
use crate::error::MarganError;
use crate::layers::{Mode, Network};
use crate::losses::GanLoss;
use crate::penalty::GradientPenalty;
use crate::rng::Rng;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Optimisation settings of a GAN run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanConfig {
    pub loss: GanLoss,
    /// `None`: no gradient penalty.
    pub penalty: Option<GradientPenalty>,
    /// Adam learning rate of the critic (default 2e-4).
    pub lr_d: f64,
    /// Adam learning rate of the generator (default 2e-4).
    pub lr_g: f64,
    /// Adam β₁ (default 0.5).
    pub beta1: f64,
    /// Adam β₂ (default 0.999).
    pub beta2: f64,
    /// Critic updates per generator update (default 1).
    pub d_steps: usize,
    /// Latent size; latents are `N(0, I)` of shape `[N, z_dim, 1, 1]`.
    pub z_dim: usize,
}

impl Default for GanConfig {
    /// The paper's CIFAR-10 setting: HingeGAN, L∞ hinge penalty λ = 20 at interpolates,
    /// Adam(2e-4, 0.5, 0.999), one critic step per generator step, z = 128.
    fn default() -> Self {
        GanConfig {
            loss: GanLoss::Hinge,
            penalty: Some(GradientPenalty::default()),
            lr_d: 2e-4,
            lr_g: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            d_steps: 1,
            z_dim: 128,
        }
    }
}

/// Adam as the paper's code uses it (PyTorch's ε = 1e-8).
pub fn adam(beta1: f64, beta2: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(beta1 as f32)
        .with_beta_2(beta2 as f32)
        .with_epsilon(1e-8)
        .init()
}

/// Figures of one step (critic figures from its last update).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    pub d_loss: f64,
    pub g_loss: f64,
    /// Weighted penalty value (0 without penalty).
    pub penalty: f64,
    /// Mean gradient norm of the critic at real samples (penalty's norm; L2 without penalty;
    /// NaN when [`Gan::diagnostics`] is off).
    pub grad_norm_real: f64,
    /// Mean gradient norm of the critic at fake samples.
    pub grad_norm_fake: f64,
}

impl StepStats {
    pub fn check_finite(&self, iteration: usize) -> Result<(), MarganError> {
        for (what, v) in [
            ("critic loss", self.d_loss),
            ("generator loss", self.g_loss),
            ("gradient penalty", self.penalty),
        ] {
            if !v.is_finite() {
                return Err(MarganError::NonFinite {
                    what: what.into(),
                    iteration: Some(iteration),
                });
            }
        }
        Ok(())
    }
}

/// A generator, a critic, their optimisers and the run's random state.
pub struct Gan {
    pub g: Network,
    pub d: Network,
    pub opt_g: ModuleOptimizer,
    pub opt_d: ModuleOptimizer,
    pub config: GanConfig,
    pub rng: Rng,
    pub iteration: usize,
    pub device: Device,
    /// Whether the next steps measure the critic's gradient norms at real and fake samples
    /// (two extra backward passes per critic step); when off they are reported as NaN.
    pub diagnostics: bool,
}

impl Gan {
    pub fn new(g: Network, d: Network, config: GanConfig, rng: Rng, device: Device) -> Self {
        let opt_g = adam(config.beta1, config.beta2);
        let opt_d = adam(config.beta1, config.beta2);
        Gan {
            g,
            d,
            opt_g,
            opt_d,
            config,
            rng,
            iteration: 0,
            device,
            diagnostics: true,
        }
    }

    /// `n` latents `N(0, I)`.
    pub fn latents(&mut self, n: usize) -> Tensor<4> {
        self.rng
            .normal_tensor([n, self.config.z_dim, 1, 1], 0.0, 1.0, &self.device)
    }

    /// Generator samples for the given latents, evaluation mode, no graph.
    pub fn generate(&self, z: Tensor<4>) -> Tensor<4> {
        self.g.forward(z.detach(), Mode::Eval).detach()
    }

    /// One critic update on a real batch. Returns `(loss, penalty, ‖∇‖ real, ‖∇‖ fake)`.
    pub fn d_step(&mut self, real: Tensor<4>) -> [f64; 4] {
        let n = real.dims()[0];
        let z = self.latents(n);
        let fake = self.g.forward(z, Mode::Train).detach();
        let tr = self.d.trace(real.detach(), Mode::Train);
        let tf = self.d.trace(fake, Mode::Train);
        let (cr, cf) = (tr.output().reshape([n]), tf.output().reshape([n]));
        let loss = self.config.loss.d_loss(cr, cf);
        let diag_norm = self
            .config
            .penalty
            .as_ref()
            .map(|p| p.norm)
            .unwrap_or(crate::norms::Norm::L2);
        let (penalty, norms) = match (&self.config.penalty, self.diagnostics) {
            (Some(p), true) => {
                let out = p.compute(&self.d, &tr, &tf, &mut self.rng);
                (
                    Some(out.value),
                    Some([out.grad_norm_real, out.grad_norm_fake]),
                )
            }
            (Some(p), false) => (
                Some(p.compute_value(&self.d, &tr, &tf, &mut self.rng)),
                None,
            ),
            (None, diagnostics) => (
                None,
                diagnostics.then(|| {
                    [&tr, &tf].map(|t| crate::penalty::mean_grad_norm(&self.d, t, diag_norm))
                }),
            ),
        };
        let total = match &penalty {
            Some(p) => loss.clone() + p.clone(),
            None => loss.clone(),
        };
        let grads = GradientsParams::from_grads(total.backward(), &self.d);
        self.d = self.opt_d.step(self.config.lr_d, self.d.clone(), grads);
        let [nr, nf] = norms
            .map(|[a, b]| [scalar(a), scalar(b)])
            .unwrap_or([f64::NAN; 2]);
        [scalar(loss), penalty.map(scalar).unwrap_or(0.0), nr, nf]
    }

    /// One generator update; `real` is used by relativistic losses only.
    pub fn g_step(&mut self, real: Tensor<4>) -> f64 {
        let n = real.dims()[0];
        let z = self.latents(n);
        let fake = self.g.forward(z, Mode::Train);
        let cf = self.d.forward(fake, Mode::Train).reshape([n]);
        let cr = if self.config.loss.is_relativistic() {
            self.d
                .forward(real.detach(), Mode::Train)
                .reshape([n])
                .detach()
        } else {
            cf.zeros_like().detach()
        };
        let loss = self.config.loss.g_loss(cr, cf);
        let grads = GradientsParams::from_grads(loss.backward(), &self.g);
        self.g = self.opt_g.step(self.config.lr_g, self.g.clone(), grads);
        scalar(loss)
    }

    /// `d_steps` critic updates and one generator update; `real_batch` draws a real batch.
    pub fn step(
        &mut self,
        mut real_batch: impl FnMut(&mut Rng) -> Tensor<4>,
    ) -> Result<StepStats, MarganError> {
        let mut stats = StepStats::default();
        for _ in 0..self.config.d_steps.max(1) {
            let real = real_batch(&mut self.rng);
            let [d, p, nr, nf] = self.d_step(real);
            stats = StepStats {
                d_loss: d,
                penalty: p,
                grad_norm_real: nr,
                grad_norm_fake: nf,
                ..stats
            };
        }
        let real = real_batch(&mut self.rng);
        stats.g_loss = self.g_step(real);
        self.iteration += 1;
        stats.check_finite(self.iteration)?;
        Ok(stats)
    }
}
