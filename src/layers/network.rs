//! A network is a list of layers; its forward pass can be traced so that the composed backward
//! passes give input and parameter gradients as differentiable tensor expressions.

use super::{Layer, LayerKind, Mode, SnVectors};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// A sequential network of kit layers.
#[derive(Module, Debug)]
pub struct Network {
    pub layers: Vec<LayerKind>,
}

/// The activations of one forward pass: `acts[0]` is the input, `acts[i + 1]` the output of
/// layer `i`; `sn[i]`, the spectral-normalisation estimates layer `i` used (training mode, layers
/// with spectral normalisation), so that the backward passes take `σ` where this pass did and
/// not where later passes moved the power iteration.
#[derive(Clone, Debug)]
pub struct Trace {
    pub acts: Vec<Tensor<4>>,
    pub mode: Mode,
    pub sn: Vec<Option<SnVectors>>,
}

impl Trace {
    /// The network's output.
    pub fn output(&self) -> Tensor<4> {
        self.acts
            .last()
            .expect("a trace holds at least the input")
            .clone()
    }
}

impl Network {
    pub fn new(layers: Vec<LayerKind>) -> Self {
        Network { layers }
    }

    /// `y = f(x)`.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        self.layers.iter().fold(x, |h, l| l.forward(h, mode))
    }

    /// The forward pass, keeping every activation for the backward passes.
    pub fn trace(&self, x: Tensor<4>, mode: Mode) -> Trace {
        let mut acts = Vec::with_capacity(self.layers.len() + 1);
        let mut sn = Vec::with_capacity(self.layers.len());
        acts.push(x);
        for layer in &self.layers {
            let y = layer.forward(acts.last().unwrap().clone(), mode);
            acts.push(y);
            // Evaluation mode leaves the estimates where they are: nothing to keep.
            sn.push(match mode {
                Mode::Train => layer.snapshot(),
                Mode::Eval => None,
            });
        }
        Trace { acts, mode, sn }
    }

    /// `∂L/∂x` from `gy = ∂L/∂y` through the traced pass (differentiable).
    pub fn backward_input(&self, trace: &Trace, gy: Tensor<4>) -> Tensor<4> {
        let mut g = gy;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            g = layer.backward_input_at(
                &trace.acts[i],
                &trace.acts[i + 1],
                g,
                trace.mode,
                trace.sn[i].as_ref(),
            );
        }
        g
    }

    /// `∂L/∂θ` for every parameter (and `∂L/∂x`) from `gy = ∂L/∂y`, all differentiable: the
    /// parameter vector–Jacobian product needed by AdvAs and competitive gradient descent.
    pub fn backward_params(&self, trace: &Trace, gy: Tensor<4>) -> (GradientsParams, Tensor<4>) {
        let mut grads = GradientsParams::new();
        let mut g = gy;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let (x, y, at) = (&trace.acts[i], &trace.acts[i + 1], trace.sn[i].as_ref());
            layer.backward_params_at(x, y, g.clone(), trace.mode, at, &mut grads);
            g = layer.backward_input_at(x, y, g, trace.mode, at);
        }
        (grads, g)
    }

    /// `(D(x), ∇ₓ Σ D(x))`: the output and the gradient of the summed output with respect to
    /// the input, as a tensor expression that autodiff can differentiate again.
    pub fn input_grad(&self, x: Tensor<4>, mode: Mode) -> (Tensor<4>, Tensor<4>) {
        let trace = self.trace(x, mode);
        let y = trace.output();
        let g = self.backward_input(&trace, y.ones_like());
        (y, g)
    }
}
