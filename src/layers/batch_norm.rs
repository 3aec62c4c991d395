//! Batch normalisation over `[N, C, H, W]` (statistics per channel over N, H, W); vectors
//! `[N, F, 1, 1]` get BatchNorm1d.

use super::{accumulate, normalisation_backward, Layer, Mode, StatAxes};
use super::{param, state};
use crate::rng::Rng;
use burn::config::Config;
use burn::module::{Module, Param, RunningState};
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
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
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

fn channel(t: Tensor<1>) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([1, c, 1, 1])
}

impl BatchNorm {
    /// The batch's per-channel mean and (biased) variance, differentiable in `x`.
    fn batch_stats(x: &Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let mean = StatAxes::Channel.mean(x.clone());
        let var = StatAxes::Channel.mean((x.clone() - mean.clone()).square());
        (mean, var)
    }

    /// The statistics for the mode: the batch's (differentiable in `x`) or the running ones.
    fn stats(&self, x: &Tensor<4>, mode: Mode) -> (Tensor<4>, Tensor<4>) {
        match mode {
            Mode::Train => Self::batch_stats(x),
            Mode::Eval => {
                let device = x.device();
                (
                    channel(self.running_mean.value_sync().to_device(&device)),
                    channel(self.running_var.value_sync().to_device(&device)),
                )
            }
        }
    }

    /// `(x̂, 1/√(σ²+ε))` from the statistics.
    fn normalise_with(
        &self,
        x: Tensor<4>,
        mean: Tensor<4>,
        var: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let inv_std = var.add_scalar(self.eps).sqrt().recip();
        ((x - mean) * inv_std.clone(), inv_std)
    }

    /// `(x̂, 1/√(σ²+ε))` for the mode: batch statistics (differentiable in `x`) or running ones.
    fn normalise(&self, x: &Tensor<4>, mode: Mode) -> (Tensor<4>, Tensor<4>) {
        let (mean, var) = self.stats(x, mode);
        self.normalise_with(x.clone(), mean, var)
    }

    /// Moves the running statistics towards the batch's (`var`: biased, from
    /// [`Self::batch_stats`]; the running variance is unbiased, as PyTorch's).
    fn update_running(&self, x: &Tensor<4>, mean: Tensor<4>, var: Tensor<4>) {
        let [n, c, h, w] = x.dims();
        let count = (n * h * w) as f64;
        let mean = mean.detach();
        let var = var.detach().mul_scalar(count / (count - 1.0).max(1.0));
        let m = self.momentum;
        let device = mean.device();
        let rm = self
            .running_mean
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            + mean.reshape([c]).mul_scalar(m);
        let rv = self
            .running_var
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            + var.reshape([c]).mul_scalar(m);
        self.running_mean.update(rm.detach());
        self.running_var.update(rv.detach());
    }
}

impl Layer for BatchNorm {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let (mean, var) = self.stats(&x, mode);
        if mode == Mode::Train {
            self.update_running(&x, mean.clone(), var.clone());
        }
        let (xhat, _) = self.normalise_with(x, mean, var);
        xhat * channel(self.gamma.val()) + channel(self.beta.val())
    }

    fn backward_input(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
    ) -> Tensor<4> {
        let (xhat, inv_std) = self.normalise(x, mode);
        let gh = gy * channel(self.gamma.val());
        match mode {
            Mode::Eval => gh * inv_std,
            // The batch statistics depend on x as well.
            Mode::Train => normalisation_backward(gh, xhat, inv_std, StatAxes::Channel),
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
