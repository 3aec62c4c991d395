//! Fully connected layer on `[N, F, 1, 1]` activations (any `[N, C, H, W]` input is flattened).

use super::{
    accumulate, as_matrix, as_vector, Layer, Mode, SnVectors, SpectralNorm, SpectralNormConfig,
};
use super::{init_weight_bias, param};
use crate::rng::Rng;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Configuration of [`Linear`].
#[derive(Config, Debug)]
pub struct LinearConfig {
    pub d_input: usize,
    pub d_output: usize,
    /// Whether the layer has a bias.
    #[config(default = true)]
    pub bias: bool,
    /// `Some(s)`: weights `N(0, s²)` and zero bias (DCGAN); `None`: PyTorch's default,
    /// `U(±1/√d_input)` for weight and bias.
    #[config(default = "None")]
    pub init_std: Option<f64>,
    /// Spectral normalisation of the weight.
    #[config(default = false)]
    pub spectral: bool,
}

/// `y = x W + b`, `W: [d_input, d_output]`.
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub sn: Option<SpectralNorm>,
}

impl LinearConfig {
    pub fn init(&self, device: &Device, rng: &mut Rng) -> Linear {
        let shape = [self.d_input, self.d_output];
        let (weight, bias) = init_weight_bias(
            shape,
            self.d_input,
            self.bias.then_some(self.d_output),
            self.init_std,
            device,
            rng,
        );
        let sn = self
            .spectral
            .then(|| SpectralNormConfig::new().init(&weight, device, rng));
        Linear {
            weight: param(weight, rng),
            bias: bias.map(|b| param(b, rng)),
            sn,
        }
    }
}

impl Linear {
    /// The weight used in the forward pass (`W / σ(W)` with spectral normalisation, after the
    /// power iterations of training mode) and `σ`.
    fn effective_weight(&self, mode: Mode) -> (Tensor<2>, Option<Tensor<1>>) {
        if let Some(sn) = &self.sn {
            sn.advance(&self.weight.val(), mode);
        }
        self.backward_weight(None)
    }

    /// Weight seen by the backward passes: the `u, v` of the traced forward pass (`at`, else
    /// the current ones), no new power iteration.
    fn backward_weight(&self, at: Option<&SnVectors>) -> (Tensor<2>, Option<Tensor<1>>) {
        let w = self.weight.val();
        match &self.sn {
            None => (w, None),
            Some(sn) => {
                let sigma = sn.sigma_at(&w, at);
                (w / sigma.clone().reshape([1, 1]), Some(sigma))
            }
        }
    }
}

impl Layer for Linear {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let (w, _) = self.effective_weight(mode);
        let mut y = as_matrix(x).matmul(w);
        if let Some(b) = &self.bias {
            y = y + b.val().unsqueeze_dim(0);
        }
        as_vector(y)
    }

    spectral_backward!();

    fn backward_input_at(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
        at: Option<&SnVectors>,
    ) -> Tensor<4> {
        let (w, _) = self.backward_weight(at);
        as_matrix(gy).matmul(w.transpose()).reshape(x.dims())
    }

    fn backward_params_at(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
        at: Option<&SnVectors>,
        grads: &mut GradientsParams,
    ) {
        let gy = as_matrix(gy);
        let g_w = as_matrix(x.clone()).transpose().matmul(gy.clone());
        let g_w = match (&self.sn, self.backward_weight(at)) {
            (Some(sn), (w_sn, Some(sigma))) => sn.chain(g_w, w_sn, sigma, at),
            _ => g_w,
        };
        accumulate(grads, self.weight.id, g_w);
        if let Some(b) = &self.bias {
            accumulate::<1>(grads, b.id, gy.sum_dim(0).flatten(0, 1));
        }
    }
}
