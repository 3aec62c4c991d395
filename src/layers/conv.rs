//! 2-D convolution with differentiable input and weight gradients.

use super::spectral::{conv_chain, conv_matrix, conv_weight, conv_weight_at, SnVectors};
use super::{accumulate, Layer, Mode, SpectralNorm, SpectralNormConfig};
use super::{init_weight_bias, param, StatAxes};
use crate::conv::{conv2d, conv2d_input_grad, conv2d_weight_grad};
use crate::rng::Rng;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Configuration of [`Conv2d`] (square kernels, symmetric padding).
#[derive(Config, Debug)]
pub struct Conv2dConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    pub kernel: usize,
    #[config(default = 1)]
    pub stride: usize,
    #[config(default = 0)]
    pub padding: usize,
    #[config(default = true)]
    pub bias: bool,
    /// `Some(s)`: weights `N(0, s²)`, zero bias (DCGAN); `None`: PyTorch's default `U(±1/√fan_in)`.
    #[config(default = "None")]
    pub init_std: Option<f64>,
    /// Spectral normalisation of the weight.
    #[config(default = false)]
    pub spectral: bool,
}

/// `y = conv2d(x, W) + b`, `W: [C_out, C_in, k, k]`.
#[derive(Module, Debug)]
pub struct Conv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub sn: Option<SpectralNorm>,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2dConfig {
    pub fn init(&self, device: &Device, rng: &mut Rng) -> Conv2d {
        let fan_in = self.channels_in * self.kernel * self.kernel;
        let shape = [
            self.channels_out,
            self.channels_in,
            self.kernel,
            self.kernel,
        ];
        let (weight, bias) = init_weight_bias(
            shape,
            fan_in,
            self.bias.then_some(self.channels_out),
            self.init_std,
            device,
            rng,
        );
        let sn = self.spectral.then(|| {
            SpectralNormConfig::new().init(&conv_matrix(weight.clone(), false), device, rng)
        });
        Conv2d {
            weight: param(weight, rng),
            bias: bias.map(|b| param(b, rng)),
            sn,
            stride: self.stride,
            padding: self.padding,
        }
    }
}

impl Layer for Conv2d {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let (w, _) = conv_weight(self.weight.val(), &self.sn, false, mode);
        conv2d(
            x,
            w,
            self.bias.as_ref().map(|b| b.val()),
            self.stride,
            self.padding,
        )
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
        let (w, _) = conv_weight_at(self.weight.val(), &self.sn, false, at);
        let [_, _, h, wd] = x.dims();
        conv2d_input_grad(gy, w, [h, wd], self.stride, self.padding)
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
        let (w_sn, sigma) = conv_weight_at(self.weight.val(), &self.sn, false, at);
        let k = w_sn.dims()[2];
        let g_w = conv2d_weight_grad(x.clone(), gy.clone(), k, self.stride, self.padding);
        accumulate(
            grads,
            self.weight.id,
            conv_chain(g_w, w_sn, sigma, &self.sn, false, at),
        );
        if let Some(b) = &self.bias {
            accumulate(
                grads,
                b.id,
                StatAxes::Channel.sum(gy).reshape([b.val().dims()[0]]),
            );
        }
    }
}
