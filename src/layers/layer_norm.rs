//! Layer normalisation of each sample over all of its `[C, H, W]` values, with an elementwise
//! affine transform of shape `[C, H, W]` (PyTorch's `LayerNorm([C, H, W])`).

use super::param;
use super::{accumulate, normalisation_backward, Layer, Mode, StatAxes};
use crate::rng::Rng;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Configuration of [`LayerNorm`].
#[derive(Config, Debug)]
pub struct LayerNormConfig {
    /// Per-sample shape `[C, H, W]` (`[F, 1, 1]` for vectors).
    pub shape: [usize; 3],
    /// Added to the variance.
    #[config(default = 1e-5)]
    pub eps: f64,
}

/// `y = γ (x − μₙ) / √(σₙ² + ε) + β`, statistics per sample; same in both modes.
#[derive(Module, Debug)]
pub struct LayerNorm {
    pub gamma: Param<Tensor<3>>,
    pub beta: Param<Tensor<3>>,
    pub eps: f64,
}

impl LayerNormConfig {
    pub fn init(&self, device: &Device, rng: &mut Rng) -> LayerNorm {
        LayerNorm {
            gamma: param(Tensor::ones(self.shape, device), rng),
            beta: param(Tensor::zeros(self.shape, device), rng),
            eps: self.eps,
        }
    }
}

impl LayerNorm {
    fn normalise(&self, x: &Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let mean = StatAxes::Sample.mean(x.clone());
        let centred = x.clone() - mean;
        let var = StatAxes::Sample.mean(centred.clone().square());
        let inv_std = var.add_scalar(self.eps).sqrt().recip();
        (centred * inv_std.clone(), inv_std)
    }
}

impl Layer for LayerNorm {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        let (xhat, _) = self.normalise(&x);
        xhat * self.gamma.val().unsqueeze_dim(0) + self.beta.val().unsqueeze_dim(0)
    }

    fn backward_input(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        let (xhat, inv_std) = self.normalise(x);
        let gh = gy * self.gamma.val().unsqueeze_dim(0);
        normalisation_backward(gh, xhat, inv_std, StatAxes::Sample)
    }

    fn backward_params(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
        grads: &mut GradientsParams,
    ) {
        let (xhat, _) = self.normalise(x);
        let shape = self.gamma.val().dims();
        accumulate(
            grads,
            self.gamma.id,
            (gy.clone() * xhat).sum_dim(0).reshape(shape),
        );
        accumulate(grads, self.beta.id, gy.sum_dim(0).reshape(shape));
    }
}
