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
mod spectral;
mod stat_reduce;

pub use activation::{LeakyRelu, Relu, Tanh};
pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use conv::{Conv2d, Conv2dConfig};
pub use conv_transpose::{ConvTranspose2d, ConvTranspose2dConfig};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use linear::{Linear, LinearConfig};
pub use network::{Network, Trace};
pub use reshape::Reshape;
pub use spectral::{SnVectors, SpectralNorm, SpectralNormConfig};

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
pub(crate) fn state<const D: usize>(
    t: Tensor<D>,
    rng: &mut crate::rng::Rng,
) -> burn::module::RunningState<Tensor<D>> {
    burn::module::RunningState::with_id(ParamId::from(rng.next_u64()), t)
}

/// Brings every running state of `module` (BatchNorm's running statistics, spectral
/// normalisation's singular-vector estimates) up to its latest update. burn's `RunningState`
/// keeps an update pending until the next read through `value_sync`, and records, visitors and
/// mappers read the value without it: a checkpoint written without this would hold each state
/// one update behind. (`Module::valid` syncs the shared states; the copy it returns is dropped.)
pub fn sync_state<M: burn::module::Module>(module: &M) {
    let _ = module.valid();
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

/// The axes a normalisation takes its statistics over, reduced in two launches: burn reduces
/// one axis per kernel when autodiff tracks the tensor, so three axes would take three. The
/// outer axis is reduced first on the tensor as it lies in memory (the GEMM convolutions hand
/// out channel-major views, which a reshape would have to copy); the result is contiguous, and
/// its two spatial axes reshape into one for free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatAxes {
    /// Per channel, over N, H and W (BatchNorm): `[N, C, H, W] → [1, C, 1, 1]`.
    Channel,
    /// Per sample, over C, H and W (LayerNorm): `[N, C, H, W] → [N, 1, 1, 1]`.
    Sample,
}

impl StatAxes {
    /// The axis reduced first, and the shape of what is left as `[rows, H·W]`.
    fn split(self, [n, c, h, w]: [usize; 4]) -> (usize, [usize; 2], [usize; 4]) {
        match self {
            StatAxes::Channel => (0, [c, h * w], [1, c, 1, 1]),
            StatAxes::Sample => (1, [n, h * w], [n, 1, 1, 1]),
        }
    }

    /// The mean over the axes, kept as size-1 axes. Every slice of the first reduction has the
    /// same size, so the mean of the means is the mean over all three axes.
    ///
    /// Forward: two reductions (`stat_reduce.rs`); backward: the upstream gradient scaled once
    /// and broadcast back, where burn's autodiff of `mean_dim` takes four launches per axis.
    pub(crate) fn mean(self, x: Tensor<4>) -> Tensor<4> {
        stat_reduce::stat_reduce(x, self, true)
    }

    /// The sum over the axes, kept as size-1 axes (backward: a broadcast view, no launch).
    pub(crate) fn sum(self, x: Tensor<4>) -> Tensor<4> {
        stat_reduce::stat_reduce(x, self, false)
    }
}

/// Input gradient of a normalisation `x̂ = (x − μ)/σ` whose statistics are taken over `axes`:
/// `(ĝ − mean(ĝ) − x̂·mean(ĝ x̂)) / σ`, with `ĝ = γ·∂L/∂y`.
pub(crate) fn normalisation_backward(
    gh: Tensor<4>,
    xhat: Tensor<4>,
    inv_std: Tensor<4>,
    axes: StatAxes,
) -> Tensor<4> {
    let mean_g = axes.mean(gh.clone());
    let mean_gx = axes.mean(gh.clone() * xhat.clone());
    (gh - mean_g - xhat * mean_gx) * inv_std
}

#[cfg(test)]
mod tests {
    use super::StatAxes;
    use crate::device::{cpu, to_vec};
    use crate::rng::Rng;
    use burn::tensor::Tensor;

    fn assert_close(a: Tensor<4>, b: Tensor<4>, what: &str) {
        assert_eq!(a.dims(), b.dims(), "{what}: shapes");
        for (i, (x, y)) in to_vec(a).iter().zip(to_vec(b)).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    /// The two-launch reductions against burn's one-axis-at-a-time `mean_dims`/`sum_dims`, on
    /// contiguous tensors and on the channel-major views the GEMM convolutions return.
    #[test]
    fn stat_axes_match_reference() {
        let dev = cpu();
        let mut rng = Rng::new(5);
        let x = rng.normal_tensor([3, 5, 4, 2], 0.5, 2.0, &dev);
        let view = rng
            .normal_tensor([5, 3, 4, 2], 0.5, 2.0, &dev)
            .swap_dims(0, 1);
        for (t, layout) in [(x, "contiguous"), (view, "channel-major view")] {
            for (axes, dims) in [
                (StatAxes::Channel, [0, 2, 3]),
                (StatAxes::Sample, [1, 2, 3]),
            ] {
                let what = format!("{axes:?} on a {layout}");
                let mean = axes.mean(t.clone());
                assert_close(mean, t.clone().mean_dims(&dims), &format!("mean {what}"));
                let sum = axes.sum(t.clone());
                assert_close(sum, t.clone().sum_dims(&dims), &format!("sum {what}"));
            }
        }
    }

    /// The gradient of the statistics (`stat_reduce.rs`: a broadcast of the upstream gradient,
    /// scaled for the mean) against burn's autodiff of `mean_dims` / `sum_dims`.
    #[test]
    fn stat_axes_backward_matches_reference() {
        let dev = cpu();
        let mut rng = Rng::new(6);
        for (axes, dims, out) in [
            (StatAxes::Channel, [0, 2, 3], [1, 5, 1, 1]),
            (StatAxes::Sample, [1, 2, 3], [3, 1, 1, 1]),
        ] {
            for view in [false, true] {
                let base = if view {
                    rng.normal_tensor([5, 3, 4, 2], 0.5, 2.0, &dev)
                        .swap_dims(0, 1)
                } else {
                    rng.normal_tensor([3, 5, 4, 2], 0.5, 2.0, &dev)
                };
                let (w1, w2) = (
                    rng.normal_tensor(out, 0.0, 1.0, &dev),
                    rng.normal_tensor(out, 0.0, 1.0, &dev),
                );
                let grad = |f: &dyn Fn(Tensor<4>) -> (Tensor<4>, Tensor<4>)| {
                    let x = base.clone().detach().require_grad();
                    let (m, s) = f(x.clone());
                    // The statistics feed further ops, as in BatchNorm: x − mean, and a square.
                    let loss = (m.clone() * w1.clone()).sum()
                        + (s.square() * w2.clone()).sum()
                        + (x.clone() - m).square().sum();
                    x.grad(&loss.backward()).expect("x has a gradient")
                };
                let ours = grad(&|x| (axes.mean(x.clone()), axes.sum(x)));
                let reference = grad(&|x| (x.clone().mean_dims(&dims), x.sum_dims(&dims)));
                assert_close(ours, reference, &format!("{axes:?} backward, view {view}"));
            }
        }
    }
}
