//! Pointwise activations: ReLU, LeakyReLU (one kernel each way on wgpu:
//! [`crate::kernels::leaky_scale`]), Tanh (its autodiff backward one kernel on wgpu:
//! [`crate::kernels::tanh`]).

use super::{Layer, Mode};
use crate::kernels::leaky_scale::{leaky_relu, leaky_relu_grad};
use burn::module::Module;
use burn::tensor::Tensor;

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
        leaky_relu(x, 0.0)
    }
    /// The mask from the output (`y > 0` exactly where `x > 0`): a traced pass that ran this
    /// layer fused into the BatchNorm before it keeps only the output.
    fn backward_input(
        &self,
        _x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        leaky_relu_grad(y.clone(), gy, 0.0)
    }
}

impl Layer for LeakyRelu {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        leaky_relu(x, self.slope)
    }
    fn backward_input(
        &self,
        x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        // slope where x <= 0, 1 elsewhere: a constant mask, so second derivatives are exact
        // (zero). With a slope ≥ 0 the output has the input's signs, and the mask is taken
        // from it (as for ReLU); a negative slope flips them, and needs the input.
        let mask = if self.slope >= 0.0 { y } else { x };
        leaky_relu_grad(mask.clone(), gy, self.slope)
    }
}

impl Layer for Tanh {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        crate::kernels::tanh::tanh(x)
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
