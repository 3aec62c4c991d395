//! The layer kit: every layer has a forward pass and a backward pass written in differentiable
//! tensor ops, for the input (`backward_input`) and for the parameters (`backward_params`).
//!
//! Composing the backward passes gives the input gradient of a network as a tensor expression
//! that burn's first-order autodiff can differentiate again: this is how gradient penalties,
//! AdvAs and competitive gradient descent get exact second-order gradients.
//!
//! A new layer is one file implementing [`Layer`] plus one variant of [`LayerKind`].

/// In the `Layer` impl of a layer with an optional spectral normalisation (field `sn`) whose
/// `backward_input_at` / `backward_params_at` do the work: the plain backward passes (at the
/// current estimates) and the snapshot a trace keeps.
macro_rules! spectral_backward {
    () => {
        fn backward_input(
            &self,
            x: &Tensor<4>,
            y: &Tensor<4>,
            gy: Tensor<4>,
            mode: Mode,
        ) -> Tensor<4> {
            self.backward_input_at(x, y, gy, mode, None)
        }

        fn backward_params(
            &self,
            x: &Tensor<4>,
            y: &Tensor<4>,
            gy: Tensor<4>,
            mode: Mode,
            grads: &mut GradientsParams,
        ) {
            self.backward_params_at(x, y, gy, mode, None, grads)
        }

        fn snapshot(&self) -> Option<SnVectors> {
            self.sn.as_ref().map(|sn| sn.snapshot())
        }
    };
}

mod activation;
mod batch_norm;
mod conv;
mod conv_transpose;
mod layer_norm;
mod linear;
mod network;
mod reshape;
mod running;
mod spectral;
mod stat_axes;
mod stat_reduce;

pub use activation::{LeakyRelu, Relu, Tanh};
pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use conv::{Conv2d, Conv2dConfig};
pub use conv_transpose::{ConvTranspose2d, ConvTranspose2dConfig};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use linear::{Linear, LinearConfig};
pub use network::{Network, Trace};
pub use reshape::Reshape;
pub use running::Running;
pub use spectral::{SnVectors, SpectralNorm, SpectralNormConfig};
pub(crate) use stat_axes::{normalisation_backward, StatAxes};

use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Whether normalisation layers use batch statistics (and update running ones) or running ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics; running statistics and spectral-norm vectors are updated by `forward`.
    Train,
    /// Running statistics; nothing is updated.
    Eval,
}

/// A layer with forward and differentiable backward passes on rank-4 activations.
///
/// `x` is the layer's input and `y` its output from the same `forward` call; `gy` is the
/// upstream gradient `∂L/∂y`. Both backward passes are built from ordinary tensor ops on tracked
/// tensors, so their results can be differentiated again.
pub trait Layer {
    /// `y = f(x)`. In [`Mode::Train`] this updates running state (BatchNorm statistics,
    /// spectral-norm power iteration).
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4>;

    /// `∂L/∂x` from `∂L/∂y`.
    fn backward_input(&self, x: &Tensor<4>, y: &Tensor<4>, gy: Tensor<4>, mode: Mode) -> Tensor<4>;

    /// Adds `∂L/∂θ` for every trainable parameter `θ` of the layer to `grads` (nothing for
    /// layers without parameters).
    fn backward_params(
        &self,
        _x: &Tensor<4>,
        _y: &Tensor<4>,
        _gy: Tensor<4>,
        _mode: Mode,
        _grads: &mut GradientsParams,
    ) {
    }

    /// [`Layer::forward`] of a batch made of `groups` equal groups along N, as `groups` forward
    /// passes over the groups one after the other would compute it (and update the running
    /// state). Layers that treat each sample alone compute the same as `forward`: the default.
    /// Layers whose training mode couples a batch's samples override it (BatchNorm: statistics
    /// per group). A layer with spectral normalisation moves its power iteration once per call,
    /// not once per group: [`Network::trace_groups`] refuses networks that have one.
    fn forward_groups(&self, x: Tensor<4>, mode: Mode, _groups: usize) -> Tensor<4> {
        self.forward(x, mode)
    }

    /// What a traced forward pass must keep for its backward passes beyond `x` and `y`: the
    /// spectral-normalisation estimates it used (layers without spectral normalisation: none).
    fn snapshot(&self) -> Option<SnVectors> {
        None
    }

    /// [`Layer::backward_input`] of the traced pass that kept `at` ([`Layer::snapshot`]).
    fn backward_input_at(
        &self,
        x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
        _at: Option<&SnVectors>,
    ) -> Tensor<4> {
        self.backward_input(x, y, gy, mode)
    }

    /// [`Layer::backward_params`] of the traced pass that kept `at` ([`Layer::snapshot`]).
    fn backward_params_at(
        &self,
        x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
        _at: Option<&SnVectors>,
        grads: &mut GradientsParams,
    ) {
        self.backward_params(x, y, gy, mode, grads)
    }
}

/// Every layer of the kit, so that a network is a plain `Vec<LayerKind>`.
#[derive(Module, Debug)]
pub enum LayerKind {
    Linear(Linear),
    Conv2d(Conv2d),
    ConvTranspose2d(ConvTranspose2d),
    Relu(Relu),
    LeakyRelu(LeakyRelu),
    Tanh(Tanh),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    Reshape(Reshape),
}

macro_rules! dispatch {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            LayerKind::Linear($l) => $e,
            LayerKind::Conv2d($l) => $e,
            LayerKind::ConvTranspose2d($l) => $e,
            LayerKind::Relu($l) => $e,
            LayerKind::LeakyRelu($l) => $e,
            LayerKind::Tanh($l) => $e,
            LayerKind::BatchNorm($l) => $e,
            LayerKind::LayerNorm($l) => $e,
            LayerKind::Reshape($l) => $e,
        }
    };
}

impl Layer for LayerKind {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        dispatch!(self, l => l.forward(x, mode))
    }
    fn forward_groups(&self, x: Tensor<4>, mode: Mode, groups: usize) -> Tensor<4> {
        dispatch!(self, l => l.forward_groups(x, mode, groups))
    }
    fn backward_input(&self, x: &Tensor<4>, y: &Tensor<4>, gy: Tensor<4>, mode: Mode) -> Tensor<4> {
        dispatch!(self, l => l.backward_input(x, y, gy, mode))
    }
    fn backward_params(
        &self,
        x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
        grads: &mut GradientsParams,
    ) {
        dispatch!(self, l => l.backward_params(x, y, gy, mode, grads))
    }
    fn snapshot(&self) -> Option<SnVectors> {
        dispatch!(self, l => l.snapshot())
    }
    fn backward_input_at(
        &self,
        x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
        at: Option<&SnVectors>,
    ) -> Tensor<4> {
        dispatch!(self, l => l.backward_input_at(x, y, gy, mode, at))
    }
    fn backward_params_at(
        &self,
        x: &Tensor<4>,
        y: &Tensor<4>,
        gy: Tensor<4>,
        mode: Mode,
        at: Option<&SnVectors>,
        grads: &mut GradientsParams,
    ) {
        dispatch!(self, l => l.backward_params_at(x, y, gy, mode, at, grads))
    }
}

impl LayerKind {
    /// The slope of a ReLU (0) or LeakyReLU with a slope ≥ 0: the activations a BatchNorm
    /// forward can apply as it writes its output ([`BatchNorm::forward_act`]).
    pub fn fusable_slope(&self) -> Option<f64> {
        match self {
            LayerKind::Relu(_) => Some(0.0),
            LayerKind::LeakyRelu(l) if l.slope >= 0.0 => Some(l.slope),
            _ => None,
        }
    }

    /// Whether the layer has spectral normalisation (whose training-mode forward moves a power
    /// iteration once per call).
    pub fn has_spectral_norm(&self) -> bool {
        match self {
            LayerKind::Linear(l) => l.sn.is_some(),
            LayerKind::Conv2d(l) => l.sn.is_some(),
            LayerKind::ConvTranspose2d(l) => l.sn.is_some(),
            _ => false,
        }
    }
}

/// Adds `g` to the gradient registered for `id` (registers it if absent).
pub fn accumulate<const D: usize>(grads: &mut GradientsParams, id: ParamId, g: Tensor<D>) {
    let g = match grads.remove::<D>(id) {
        Some(prev) => prev + g,
        None => g,
    };
    grads.register(id, g);
}

/// `[N, F, 1, 1]` (or any `[N, ...]`) as `[N, F]`.
pub(crate) fn as_matrix(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c * h * w])
}

/// `[N, F]` as `[N, F, 1, 1]`.
pub(crate) fn as_vector(x: Tensor<2>) -> Tensor<4> {
    let [n, f] = x.dims();
    x.reshape([n, f, 1, 1])
}

/// A trainable parameter with an id drawn from `rng`: ids (which key the optimiser state and
/// appear in saved records) are then reproducible from the seed.
pub(crate) fn param<const D: usize>(
    t: Tensor<D>,
    rng: &mut crate::rng::Rng,
) -> burn::module::Param<Tensor<D>> {
    let mut p = burn::module::Param::from_tensor(t);
    p.id = ParamId::from(rng.next_u64());
    p
}

/// Running (non-trained) state with an id drawn from `rng`.
pub(crate) fn state<const D: usize>(t: Tensor<D>, rng: &mut crate::rng::Rng) -> Running<D> {
    Running::new(ParamId::from(rng.next_u64()), t)
}

/// Initial weight (and bias of `bias` outputs): `N(0, s²)` and a zero bias when `init_std` is
/// `Some(s)` (DCGAN), else PyTorch's default `U(±1/√fan_in)` for both.
pub(crate) fn init_weight_bias<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    bias: Option<usize>,
    init_std: Option<f64>,
    device: &burn::tensor::Device,
    rng: &mut crate::rng::Rng,
) -> (Tensor<D>, Option<Tensor<1>>) {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let weight = match init_std {
        Some(s) => rng.normal_tensor(shape, 0.0, s, device),
        None => rng.uniform_tensor(shape, -bound, bound, device),
    };
    let bias = bias.map(|n| match init_std {
        Some(_) => Tensor::zeros([n], device),
        None => rng.uniform_tensor([n], -bound, bound, device),
    });
    (weight, bias)
}
