//! Batch normalisation over `[N, C, H, W]` (statistics per channel over N, H, W); vectors
//! `[N, F, 1, 1]` get BatchNorm1d.

use super::{accumulate, Layer, Mode, StatAxes};
use super::{param, state, Running};
use crate::kernels::batch_norm::{
    batch_norm_forward, batch_norm_input_grad, batch_stats, channel, BatchNormScalars,
};
use crate::kernels::batch_norm_act::batch_norm_act_forward;
use crate::rng::Rng;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Configuration of [`BatchNorm`].
#[derive(Config, Debug)]
pub struct BatchNormConfig {
    pub num_features: usize,
    /// Added to the variance.
    #[config(default = 1e-5)]
    pub eps: f64,
    /// Weight of the new batch statistics in the running averages.
    #[config(default = 0.1)]
    pub momentum: f64,
    /// `Some(s)`: `γ ~ N(1, s²)` (DCGAN); `None`: `γ = 1`. `β = 0` always.
    #[config(default = "None")]
    pub init_std: Option<f64>,
}

/// `y = γ (x − μ) / √(σ² + ε) + β` with batch statistics in training mode and running
/// statistics (unbiased variance, as PyTorch) in evaluation mode.
#[derive(Module, Debug)]
pub struct BatchNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    pub running_mean: Running<1>,
    pub running_var: Running<1>,
    pub momentum: f64,
    pub eps: f64,
}

impl BatchNormConfig {
    pub fn init(&self, device: &Device, rng: &mut Rng) -> BatchNorm {
        let c = self.num_features;
        let gamma = match self.init_std {
            Some(s) => rng.normal_tensor([c], 1.0, s, device),
            None => Tensor::ones([c], device),
        };
        BatchNorm {
            gamma: param(gamma, rng),
            beta: param(Tensor::zeros([c], device), rng),
            running_mean: state(Tensor::zeros([c], device), rng),
            running_var: state(Tensor::ones([c], device), rng),
            momentum: self.momentum,
            eps: self.eps,
        }
    }
}

impl BatchNorm {
    fn scalars(&self) -> BatchNormScalars {
        BatchNormScalars {
            eps: self.eps,
            momentum: self.momentum,
        }
    }

    /// The running statistics on `device`.
    fn running(&self, device: &Device) -> (Tensor<1>, Tensor<1>) {
        (
            self.running_mean.value().to_device(device),
            self.running_var.value().to_device(device),
        )
    }

    /// `(x̂, 1/√(σ²+ε))` for the mode: batch statistics (differentiable in `x`) or running ones.
    fn normalise(&self, x: &Tensor<4>, mode: Mode) -> (Tensor<4>, Tensor<4>) {
        let (mean, var) = match mode {
            Mode::Train => batch_stats(x),
            Mode::Eval => {
                let (mean, var) = self.running(&x.device());
                (channel(mean), channel(var))
            }
        };
        let inv_std = var.add_scalar(self.eps).sqrt().recip();
        ((x.clone() - mean) * inv_std.clone(), inv_std)
    }
}

impl BatchNorm {
    /// This layer in training mode followed by a ReLU (`slope` 0) or LeakyReLU: the
    /// activation's output, as `forward_groups` then the activation would give it, the running
    /// statistics moved as there. On wgpu and flex (f32) the activation is applied by the
    /// BatchNorm op as it writes ([`crate::kernels::batch_norm_act`]).
    pub fn forward_act(&self, x: Tensor<4>, groups: usize, slope: f64) -> Tensor<4> {
        let running = self.running(&x.device());
        let (y, rm, rv) = batch_norm_act_forward(
            x,
            self.gamma.val(),
            self.beta.val(),
            running,
            self.scalars(),
            groups,
            slope,
        );
        self.running_mean.update(rm.detach());
        self.running_var.update(rv.detach());
        y
    }
}

/// Training mode goes through [`crate::kernels::batch_norm`]: WGSL kernels (2–3 launches each)
/// for the forward (with the running statistics), its backward and the backward's own
/// backward on wgpu, loops on flex (f32), the same formulas in tensor ops elsewhere.
impl Layer for BatchNorm {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        self.forward_groups(x, mode, 1)
    }

    /// Each group with its own batch statistics (training mode), the running statistics moved
    /// once per group: as `groups` forward passes over the groups one after the other.
    fn forward_groups(&self, x: Tensor<4>, mode: Mode, groups: usize) -> Tensor<4> {
        match mode {
            Mode::Train => {
                let (rm, rv) = self.running(&x.device());
                let (y, rm, rv) = batch_norm_forward(
                    x,
                    self.gamma.val(),
                    self.beta.val(),
                    rm,
                    rv,
                    self.scalars(),
                    groups,
                );
                self.running_mean.update(rm.detach());
                self.running_var.update(rv.detach());
                y
            }
            Mode::Eval => {
                let (xhat, _) = self.normalise(&x, mode);
                xhat * channel(self.gamma.val()) + channel(self.beta.val())
            }
        }
    }

    fn backward_input(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
    ) -> Tensor<4> {
        match mode {
            Mode::Eval => {
                let (_, inv_std) = self.normalise(x, mode);
                gy * channel(self.gamma.val()) * inv_std
            }
            // The batch statistics depend on x as well.
            Mode::Train => batch_norm_input_grad(x.clone(), gy, self.gamma.val(), self.eps, 1),
        }
    }

    fn backward_params(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
        grads: &mut GradientsParams,
    ) {
        let (xhat, _) = self.normalise(x, mode);
        let c = self.gamma.val().dims()[0];
        accumulate(
            grads,
            self.gamma.id,
            StatAxes::Channel.sum(gy.clone() * xhat).reshape([c]),
        );
        accumulate(grads, self.beta.id, StatAxes::Channel.sum(gy).reshape([c]));
    }
}
