//! Pointwise activations: ReLU, LeakyReLU, Tanh.

use super::{Layer, Mode};
use burn::module::Module;
use burn::tensor::{activation, Tensor};

/// `max(0, x)`; its derivative is the step `[x > 0]` (0 at 0, as in PyTorch).
#[derive(Module, Debug, Default)]
pub struct Relu;

/// `x` for `x > 0`, `slope·x` otherwise.
#[derive(Module, Debug)]
pub struct LeakyRelu {
    pub slope: f64,
}

/// `tanh(x)`; its backward uses the output: `1 - y²` (differentiable in `y`).
#[derive(Module, Debug, Default)]
pub struct Tanh;

impl LeakyRelu {
    pub fn new(slope: f64) -> Self {
        LeakyRelu { slope }
    }
}

impl Layer for Relu {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        activation::relu(x)
    }
    fn backward_input(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        gy.mask_fill(x.clone().lower_equal_elem(0.0), 0.0)
    }
}

impl Layer for LeakyRelu {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        activation::leaky_relu(x, self.slope)
    }
    fn backward_input(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        // slope where x <= 0, 1 elsewhere: a constant mask, so second derivatives are exact (zero).
        let factor = x
            .clone()
            .greater_elem(0.0)
            .float()
            .mul_scalar(1.0 - self.slope)
            .add_scalar(self.slope)
            .detach();
        gy * factor
    }
}

impl Layer for Tanh {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        x.tanh()
    }
    fn backward_input(
        &self,
        _x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        gy * (y.clone().square().neg().add_scalar(1.0))
    }
}
