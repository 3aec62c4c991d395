//! One GAN training step: `d_steps` critic updates (loss + margin penalty) and one generator
//! update, with Adam. Shared by the CLI trainer, the tests and the browser playground.

use crate::error::MarganError;
use crate::layers::{Mode, Network};
use crate::losses::GanLoss;
use crate::norms::Norm;
use crate::optim::FusedAdamConfig;
use crate::penalty::GradientPenalty;
use crate::phase::Phase;
use crate::rng::Rng;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
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

/// Adam as the paper's code uses it (PyTorch's ε = 1e-8), one fused kernel per parameter
/// tensor on wgpu ([`crate::optim`]).
pub fn adam(beta1: f64, beta2: f64) -> ModuleOptimizer {
    FusedAdamConfig::default()
        .with_betas(beta1 as f32, beta2 as f32)
        .init()
}

/// A critic step's loss, penalty and gradient norms at real and fake samples, tracked.
pub type DLoss = (Tensor<1>, Option<Tensor<1>>, Option<[Tensor<1>; 2]>);

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
    /// Called as each [`Phase`] of a step ends (none by default). `margan bench --phases`
    /// synchronises the device here to time each phase.
    pub phase_hook: Option<Box<dyn FnMut(Phase)>>,
    /// Whether a critic step runs the critic once over its real batch, its fake batch and the
    /// penalty's points side by side ([`Network::trace_groups`]: BatchNorm statistics per
    /// group) rather than once per batch, as the paper's code does. The same arithmetic either
    /// way, up to the order of sums; one pass runs each matrix product once, three times as
    /// large, which fills a GPU better and launches fewer kernels. On by default; critics with
    /// spectral normalisation always take separate passes ([`Network::can_trace_groups`]).
    pub one_critic_pass: bool,
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
            phase_hook: None,
            one_critic_pass: true,
        }
    }

    fn end(&mut self, phase: Phase) {
        if let Some(hook) = self.phase_hook.as_mut() {
            hook(phase);
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

    /// One critic update on a real batch. Returns `(loss, penalty, [‖∇‖ real, ‖∇‖ fake])` as
    /// one-element device tensors, without reading them back.
    pub fn d_step(&mut self, real: Tensor<4>) -> DLoss {
        let n = real.dims()[0];
        let z = self.latents(n);
        let fake = self.g.forward(z, Mode::Train).detach();
        self.end(Phase::DFakes);
        let (loss, penalty, norms) = self.critic_loss(real, fake);
        self.end(Phase::Penalty);
        let total = match &penalty {
            Some(p) => loss.clone() + p.clone(),
            None => loss.clone(),
        };
        let grads = GradientsParams::from_grads(total.backward(), &self.d);
        self.end(Phase::DBackward);
        self.d = self.opt_d.step(self.config.lr_d, self.d.clone(), grads);
        self.end(Phase::DAdam);
        (
            loss.detach(),
            penalty.map(|p| p.detach()),
            norms.map(|n| n.map(|t| t.detach())),
        )
    }

    /// The critic's loss, its penalty and (with [`Gan::diagnostics`]) the mean gradient norms at
    /// real and fake samples, tracked: what a critic step differentiates. One pass of the critic
    /// or one per batch, as [`Gan::one_critic_pass`] says; the penalty's points are drawn from
    /// the run's generator.
    ///
    /// # Panics
    /// When the batches differ in shape (a step's never do: the fakes are as many as the reals).
    pub fn critic_loss(&mut self, real: Tensor<4>, fake: Tensor<4>) -> DLoss {
        assert_eq!(
            real.dims(),
            fake.dims(),
            "the critic's real and fake batches must have the same shape"
        );
        if self.one_critic_pass && self.d.can_trace_groups() {
            self.d_loss_one_pass(real, fake)
        } else {
            self.d_loss_separate(real, fake)
        }
    }

    /// The critic's loss, penalty and diagnostics from one pass over `[real; fake; points]`.
    fn d_loss_one_pass(&mut self, real: Tensor<4>, fake: Tensor<4>) -> DLoss {
        let n = real.dims()[0];
        let real = real.detach();
        let (batch, groups) = match self.config.penalty.as_ref() {
            Some(p) if p.has_own_points() => (p.pass_batch(real, fake, &mut self.rng), 3),
            _ => (Tensor::cat(vec![real, fake], 0), 2),
        };
        let pass = self.d.trace_groups(batch, Mode::Train, groups);
        let out = pass.output().reshape([groups * n]);
        let loss = self.config.loss.d_loss_in_pass(out, groups);
        self.end(Phase::DForward);
        match &self.config.penalty {
            Some(p) => {
                let (value, norms) = p.compute_in_pass(&self.d, &pass, self.diagnostics);
                (loss, Some(value), norms)
            }
            None => {
                let norms = self.diagnostics.then(|| {
                    [0, 1]
                        .map(|g| crate::penalty::mean_grad_norm(&self.d, &pass.group(g), Norm::L2))
                });
                (loss, None, norms)
            }
        }
    }

    /// The critic's loss, penalty and diagnostics from one pass per batch.
    fn d_loss_separate(&mut self, real: Tensor<4>, fake: Tensor<4>) -> DLoss {
        let n = real.dims()[0];
        let tr = self.d.trace(real.detach(), Mode::Train);
        let tf = self.d.trace(fake, Mode::Train);
        let (cr, cf) = (tr.output().reshape([n]), tf.output().reshape([n]));
        let loss = self.config.loss.d_loss(cr, cf);
        self.end(Phase::DForward);
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
                    [&tr, &tf].map(|t| crate::penalty::mean_grad_norm(&self.d, t, Norm::L2))
                }),
            ),
        };
        (loss, penalty, norms)
    }

    /// One generator update; `real` is used by relativistic losses only. Returns the loss as a
    /// one-element device tensor.
    pub fn g_step(&mut self, real: Tensor<4>) -> Tensor<1> {
        let n = real.dims()[0];
        let z = self.latents(n);
        let fake = self.g.forward(z, Mode::Train);
        // The critic's parameters are constants here (as in the paper's code, which sets their
        // `requires_grad` to false for the generator update): the backward skips the critic's
        // weight gradients, about a sixth of this step's multiply-adds. Its BatchNorm running
        // statistics are shared with `self.d` and still update.
        let d = self.d.clone().no_grad();
        let cf = d.forward(fake, Mode::Train).reshape([n]);
        let loss = match self.config.loss.g_loss_from_fake(cf.clone()) {
            Some(loss) => loss,
            None => {
                let cr = d.forward(real.detach(), Mode::Train).reshape([n]).detach();
                self.config.loss.g_loss(cr, cf)
            }
        };
        self.end(Phase::GForward);
        let grads = GradientsParams::from_grads(loss.clone().backward(), &self.g);
        self.end(Phase::GBackward);
        self.g = self.opt_g.step(self.config.lr_g, self.g.clone(), grads);
        self.end(Phase::GAdam);
        loss.detach()
    }

    /// `d_steps` critic updates and one generator update, with the step's figures left on the
    /// device (read them with [`StepTensors::read`], or `read_async` on WebGPU, where
    /// synchronous reads are impossible).
    pub fn step_tensors(
        &mut self,
        mut real_batch: impl FnMut(&mut Rng) -> Tensor<4>,
    ) -> StepTensors {
        let mut d = None;
        for _ in 0..self.config.d_steps.max(1) {
            let real = real_batch(&mut self.rng);
            d = Some(self.d_step(real));
        }
        let (d_loss, penalty, norms) = d.expect("at least one critic step");
        let real = real_batch(&mut self.rng);
        let g_loss = self.g_step(real);
        self.iteration += 1;
        let nan = || d_loss.zeros_like().add_scalar(f64::NAN);
        let [nr, nf] = norms.unwrap_or_else(|| [nan(), nan()]);
        let penalty = penalty.unwrap_or_else(|| d_loss.zeros_like());
        StepTensors {
            values: Tensor::cat(vec![d_loss, g_loss, penalty, nr, nf], 0),
            iteration: self.iteration,
        }
    }

    /// `d_steps` critic updates and one generator update; `real_batch` draws a real batch.
    /// Reads the figures back and fails on a NaN/inf loss.
    pub fn step(
        &mut self,
        real_batch: impl FnMut(&mut Rng) -> Tensor<4>,
    ) -> Result<StepStats, MarganError> {
        self.step_tensors(real_batch).read()
    }
}

/// A step's figures still on the device: `[d_loss, g_loss, penalty, ‖∇‖ real, ‖∇‖ fake]`.
pub struct StepTensors {
    pub values: Tensor<1>,
    /// The iteration this step completed.
    pub iteration: usize,
}

impl StepTensors {
    fn stats(&self, v: &[f64]) -> Result<StepStats, MarganError> {
        let stats = StepStats {
            d_loss: v[0],
            g_loss: v[1],
            penalty: v[2],
            grad_norm_real: v[3],
            grad_norm_fake: v[4],
        };
        stats.check_finite(self.iteration)?;
        Ok(stats)
    }

    /// Reads the figures back (synchronous: native backends and the browser's CPU backend).
    pub fn read(self) -> Result<StepStats, MarganError> {
        let data = self.values.clone().into_data();
        self.stats(&f64s(data))
    }

    /// Reads the figures of several steps back at once (one concatenation, one wait on the
    /// device), in order; fails on the first step with a NaN/inf loss. Steps whose figures are
    /// read this way, every few iterations rather than after each, leave the host free to queue
    /// the next iterations' work while the GPU runs the earlier ones.
    pub fn read_all(steps: Vec<StepTensors>) -> Result<Vec<(usize, StepStats)>, MarganError> {
        let Some(first) = steps.first() else {
            return Ok(Vec::new());
        };
        let values = if steps.len() == 1 {
            first.values.clone()
        } else {
            Tensor::cat(steps.iter().map(|s| s.values.clone()).collect(), 0)
        };
        let v = f64s(values.into_data());
        steps
            .iter()
            .zip(v.chunks_exact(5))
            .map(|(s, v)| Ok((s.iteration, s.stats(v)?)))
            .collect()
    }

    /// Reads the figures back asynchronously (any backend, required on WebGPU).
    pub async fn read_async(self) -> Result<StepStats, MarganError> {
        let data = self.values.clone().into_data_async().await.map_err(|e| {
            MarganError::Backend(format!("reading the step's losses back failed: {e:?}"))
        })?;
        self.stats(&f64s(data))
    }
}

fn f64s(data: burn::tensor::TensorData) -> Vec<f64> {
    data.convert::<f64>()
        .try_into_vec::<f64>()
        .expect("float tensor data converts to f64")
}
