//! Adam whose update runs as one fused pass per parameter tensor, on wgpu and on the CPU.
//!
//! burn's `Adam` updates a parameter with 13 elementwise operations (moments, bias correction,
//! square root, division, the step): on a GPU ~230 launches per GAN iteration, which at batch
//! 64 costs as much as real work; on the CPU 13 passes over memory and as many allocations. Here
//! the same arithmetic runs in one pass ([`crate::kernels::adam`]) where it can — one WGSL
//! kernel on wgpu (f32, no fusion), one loop on the flex CPU backend — and burn's `Adam` runs
//! everywhere else (burn's ndarray backend). Both keep burn's `AdamState`, so optimiser records
//! and checkpoints are the same either way.

use burn::optim::{Adam, AdamConfig, AdamState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

/// Adam's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedAdamConfig {
    /// β₁ (default 0.9).
    pub beta1: f32,
    /// β₂ (default 0.999).
    pub beta2: f32,
    /// ε (default 1e-8, PyTorch's).
    pub epsilon: f32,
    /// Use the fused kernel where it is available (default true); false always runs burn's
    /// `Adam` (for comparison).
    pub fused: bool,
}

impl Default for FusedAdamConfig {
    fn default() -> Self {
        FusedAdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            fused: true,
        }
    }
}

impl FusedAdamConfig {
    pub fn with_betas(self, beta1: f32, beta2: f32) -> Self {
        FusedAdamConfig {
            beta1,
            beta2,
            ..self
        }
    }

    pub fn with_fused(self, fused: bool) -> Self {
        FusedAdamConfig { fused, ..self }
    }

    /// The optimiser, for a whole module.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// The bare per-tensor optimiser (what [`init`](Self::init) wraps).
    pub fn build(&self) -> FusedAdam {
        FusedAdam {
            config: *self,
            plain: AdamConfig::new()
                .with_beta_1(self.beta1)
                .with_beta_2(self.beta2)
                .with_epsilon(self.epsilon)
                .build(),
        }
    }
}

/// Adam: burn's arithmetic and state, one pass per parameter tensor on wgpu and flex.
#[derive(Clone)]
pub struct FusedAdam {
    config: FusedAdamConfig,
    plain: Adam,
}

impl FusedAdam {
    /// Whether a step of `tensor` runs the fused pass ([`crate::kernels::adam::runs_fused`]).
    pub fn uses_kernel<const D: usize>(&self, tensor: &Tensor<D>) -> bool {
        self.config.fused && crate::kernels::adam::runs_fused(tensor)
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if self.uses_kernel(&tensor) {
            return fused_step(&self.config, lr, tensor, grad, state);
        }
        self.plain.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

fn fused_step<const D: usize>(
    config: &FusedAdamConfig,
    lr: LearningRate,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    state: Option<AdamState<D>>,
) -> (Tensor<D>, Option<AdamState<D>>) {
    use crate::kernels::adam::AdamScalars;
    use burn::optim::AdaptiveMomentumState;
    let (time, m, v) = match state {
        Some(s) => (
            s.momentum.time + 1,
            s.momentum.moment_1,
            s.momentum.moment_2,
        ),
        // burn's first step: the moments start from zero.
        None => (1, grad.zeros_like(), grad.zeros_like()),
    };
    let s = AdamScalars::new(config.beta1, config.beta2, config.epsilon, time, lr);
    let (p, m, v) = crate::kernels::adam::adam_step_kernel(tensor, grad, m, v, &s);
    let momentum = AdaptiveMomentumState::new(time, m, v);
    (p, Some(AdamState::new(momentum)))
}
