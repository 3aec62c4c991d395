//! 2-D transposed convolution with differentiable input and weight gradients.

use super::spectral::{conv_chain, conv_matrix, conv_weight, conv_weight_at, SnVectors};
use super::{accumulate, Layer, Mode, SpectralNorm, SpectralNormConfig};
use super::{init_weight_bias, param, StatAxes};
use crate::conv::{conv2d, conv2d_weight_grad, conv_transpose2d};
use crate::rng::Rng;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Configuration of [`ConvTranspose2d`] (square kernels, symmetric padding).
#[derive(Config, Debug)]
pub struct ConvTranspose2dConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    pub kernel: usize,
    #[config(default = 1)]
    pub stride: usize,
    #[config(default = 0)]
    pub padding: usize,
    /// Extra rows/columns added at the bottom/right of the output (`< stride`).
    #[config(default = 0)]
    pub output_padding: usize,
    #[config(default = true)]
    pub bias: bool,
    /// `Some(s)`: weights `N(0, s²)`, zero bias (DCGAN); `None`: PyTorch's default
    /// `U(±1/√(C_out·k²))`.
    #[config(default = "None")]
    pub init_std: Option<f64>,
    /// Spectral normalisation of the weight (PyTorch's `dim=1` matrix view).
    #[config(default = false)]
    pub spectral: bool,
}

/// `y = conv_transpose2d(x, W) + b`, `W: [C_in, C_out, k, k]`.
#[derive(Module, Debug)]
pub struct ConvTranspose2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub sn: Option<SpectralNorm>,
    pub stride: usize,
    pub padding: usize,
    pub output_padding: usize,
}

impl ConvTranspose2dConfig {
    pub fn init(&self, device: &Device, rng: &mut Rng) -> ConvTranspose2d {
        let fan_in = self.channels_out * self.kernel * self.kernel;
        let shape = [
            self.channels_in,
            self.channels_out,
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
            SpectralNormConfig::new().init(&conv_matrix(weight.clone(), true), device, rng)
        });
        ConvTranspose2d {
            weight: param(weight, rng),
            bias: bias.map(|b| param(b, rng)),
            sn,
            stride: self.stride,
            padding: self.padding,
            output_padding: self.output_padding,
        }
    }
}

impl Layer for ConvTranspose2d {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let (w, _) = conv_weight(self.weight.val(), &self.sn, true, mode);
        conv_transpose2d(
            x,
            w,
            self.bias.as_ref().map(|b| b.val()),
            self.stride,
            self.padding,
            self.output_padding,
        )
    }

    spectral_backward!();

    fn backward_input_at(
        &self,
        _x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
        at: Option<&SnVectors>,
    ) -> Tensor<4> {
        // The adjoint of a transposed convolution is the convolution with the same weight.
        let (w, _) = conv_weight_at(self.weight.val(), &self.sn, true, at);
        conv2d(gy, w, None, self.stride, self.padding)
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
        let (w_sn, sigma) = conv_weight_at(self.weight.val(), &self.sn, true, at);
        let k = w_sn.dims()[2];
        // y = conv_transpose(x, W) ⇔ x is the input gradient of a convolution of y with W, so
        // ∂L/∂W is the convolution weight gradient with the roles of x and gy exchanged.
        let g_w = conv2d_weight_grad(gy.clone(), x.clone(), k, self.stride, self.padding);
        accumulate(
            grads,
            self.weight.id,
            conv_chain(g_w, w_sn, sigma, &self.sn, true, at),
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
