//! Spectral normalisation of a weight: `W / σ(W)`, with `σ` estimated by power iteration on a
//! persistent pair of singular-vector estimates `(u, v)` (Miyato et al. 2018).
//!
//! As in PyTorch, `u` and `v` are constants for differentiation: `σ = uᵀ W v` is differentiated
//! in `W` only, so `∂σ/∂W = u vᵀ`.

use super::Mode;
use super::{state, Running};
use crate::rng::Rng;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of [`SpectralNorm`].
#[derive(Config, Debug)]
pub struct SpectralNormConfig {
    /// Power iterations per forward pass in training mode.
    #[config(default = 1)]
    pub iterations: usize,
    /// Added to vector norms before dividing.
    #[config(default = 1e-12)]
    pub eps: f64,
    /// Power iterations run at initialisation, so `σ` is accurate from the first step.
    #[config(default = 15)]
    pub init_iterations: usize,
}

/// The singular-vector estimates `(u, v)` one forward pass used (constants). Each forward pass
/// in training mode moves the power iteration on, so a pass's backward passes must take `σ` at
/// these, not at the state as later passes left it: a trace keeps them
/// ([`super::Trace`]), as PyTorch's autograd keeps the `σ` of each pass.
#[derive(Clone, Debug)]
pub struct SnVectors {
    pub u: Tensor<1>,
    pub v: Tensor<1>,
}

/// Persistent power-iteration state of one weight, viewed as a `[rows, cols]` matrix.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    pub u: Running<1>,
    pub v: Running<1>,
    pub iterations: usize,
    pub eps: f64,
}

impl SpectralNormConfig {
    /// State for the `[rows, cols]` matrix view `w` of a weight.
    pub fn init(&self, w: &Tensor<2>, device: &Device, rng: &mut Rng) -> SpectralNorm {
        let [rows, cols] = w.dims();
        let u = normalize(rng.normal_tensor([rows], 0.0, 1.0, device), self.eps);
        let v = normalize(rng.normal_tensor([cols], 0.0, 1.0, device), self.eps);
        let sn = SpectralNorm {
            u: state(u.detach(), rng),
            v: state(v.detach(), rng),
            iterations: self.iterations,
            eps: self.eps,
        };
        sn.power_iteration(w, self.init_iterations);
        sn
    }
}

fn normalize(x: Tensor<1>, eps: f64) -> Tensor<1> {
    let norm = x.clone().square().sum().sqrt().add_scalar(eps);
    x / norm
}

impl SpectralNorm {
    /// Runs `n` power iterations on `w` (detached) and stores the new `u`, `v`.
    pub fn power_iteration(&self, w: &Tensor<2>, n: usize) {
        if n == 0 {
            return;
        }
        let device = w.device();
        let w = w.clone().detach();
        let mut u = self.u.value().to_device(&device);
        let mut v = self.v.value().to_device(&device);
        for _ in 0..n {
            // v ← Wᵀu / ‖Wᵀu‖, u ← W v / ‖W v‖
            v = normalize(
                w.clone()
                    .transpose()
                    .matmul(u.unsqueeze_dim::<2>(1))
                    .flatten(0, 1),
                self.eps,
            );
            u = normalize(
                w.clone()
                    .matmul(v.clone().unsqueeze_dim::<2>(1))
                    .flatten(0, 1),
                self.eps,
            );
        }
        self.u.update(u.detach());
        self.v.update(v.detach());
    }

    /// `σ = uᵀ W v` (shape `[1]`, differentiable in `w`), after the power iterations of
    /// training mode.
    pub fn sigma(&self, w: &Tensor<2>, mode: Mode) -> Tensor<1> {
        self.advance(w, mode);
        self.sigma_at(w, None)
    }

    /// What a forward pass does to the estimates: its power iterations in training mode, nothing
    /// in evaluation mode.
    pub fn advance(&self, w: &Tensor<2>, mode: Mode) {
        if mode == Mode::Train {
            self.power_iteration(w, self.iterations);
        }
    }

    /// `σ = uᵀ W v` at the estimates `at` (those a traced forward pass used), or the current
    /// ones; no power iteration.
    pub fn sigma_at(&self, w: &Tensor<2>, at: Option<&SnVectors>) -> Tensor<1> {
        let (u, v) = self.vectors_at(&w.device(), at);
        u.unsqueeze_dim::<2>(0)
            .matmul(w.clone())
            .matmul(v.unsqueeze_dim::<2>(1))
            .reshape([1])
    }

    /// The current `(u, v)`, constants.
    pub fn vectors(&self, device: &Device) -> (Tensor<1>, Tensor<1>) {
        (
            self.u.value().to_device(device).detach(),
            self.v.value().to_device(device).detach(),
        )
    }

    /// The current estimates, kept by a traced forward pass for its backward passes.
    pub fn snapshot(&self) -> SnVectors {
        let device = self.u.value().device();
        let (u, v) = self.vectors(&device);
        SnVectors { u, v }
    }

    fn vectors_at(&self, device: &Device, at: Option<&SnVectors>) -> (Tensor<1>, Tensor<1>) {
        match at {
            Some(s) => (s.u.clone().to_device(device), s.v.clone().to_device(device)),
            None => self.vectors(device),
        }
    }

    /// Chain rule through `W_sn = W / σ`: from `g = ∂L/∂W_sn` (matrix view) to `∂L/∂W`,
    /// i.e. `(g − ⟨g, W_sn⟩ u vᵀ) / σ`, at the estimates `at` (or the current ones).
    pub fn chain(
        &self,
        g: Tensor<2>,
        w_sn: Tensor<2>,
        sigma: Tensor<1>,
        at: Option<&SnVectors>,
    ) -> Tensor<2> {
        let (u, v) = self.vectors_at(&g.device(), at);
        let outer = u.unsqueeze_dim::<2>(1).matmul(v.unsqueeze_dim::<2>(0));
        let inner = (g.clone() * w_sn).sum().reshape([1, 1]);
        (g - outer * inner) / sigma.reshape([1, 1])
    }
}

/// Matrix view of a convolution weight for spectral normalisation: rows are output channels
/// (`[O, C, k, k]` → `[O, C·k·k]`; transposed convolutions `[C, O, k, k]` → `[O, C·k·k]`,
/// PyTorch's `dim=1`).
pub(crate) fn conv_matrix(w: Tensor<4>, transposed: bool) -> Tensor<2> {
    let w = if transposed { w.swap_dims(0, 1) } else { w };
    let [o, c, kh, kw] = w.dims();
    w.reshape([o, c * kh * kw])
}

fn conv_unmatrix(m: Tensor<2>, dims: [usize; 4], transposed: bool) -> Tensor<4> {
    if transposed {
        m.reshape([dims[1], dims[0], dims[2], dims[3]])
            .swap_dims(0, 1)
    } else {
        m.reshape(dims)
    }
}

/// A convolution weight as used by the layer: `W / σ(W)` when `sn` is set, with `σ` (after the
/// power iterations of training mode).
pub(crate) fn conv_weight(
    w: Tensor<4>,
    sn: &Option<SpectralNorm>,
    transposed: bool,
    mode: Mode,
) -> (Tensor<4>, Option<Tensor<1>>) {
    if let Some(sn) = sn {
        sn.advance(&conv_matrix(w.clone(), transposed), mode);
    }
    conv_weight_at(w, sn, transposed, None)
}

/// The weight the backward passes of a convolution see: [`conv_weight`] with `σ` at the
/// estimates `at` of the traced forward pass (or the current ones), no power iteration.
pub(crate) fn conv_weight_at(
    w: Tensor<4>,
    sn: &Option<SpectralNorm>,
    transposed: bool,
    at: Option<&SnVectors>,
) -> (Tensor<4>, Option<Tensor<1>>) {
    match sn {
        None => (w, None),
        Some(sn) => {
            let sigma = sn.sigma_at(&conv_matrix(w.clone(), transposed), at);
            (w / sigma.clone().reshape([1, 1, 1, 1]), Some(sigma))
        }
    }
}

/// Chain rule of [`SpectralNorm::chain`] for a convolution weight gradient.
pub(crate) fn conv_chain(
    g: Tensor<4>,
    w_sn: Tensor<4>,
    sigma: Option<Tensor<1>>,
    sn: &Option<SpectralNorm>,
    transposed: bool,
    at: Option<&SnVectors>,
) -> Tensor<4> {
    match (sn, sigma) {
        (Some(sn), Some(sigma)) => {
            let dims = g.dims();
            let m = sn.chain(
                conv_matrix(g, transposed),
                conv_matrix(w_sn, transposed),
                sigma,
                at,
            );
            conv_unmatrix(m, dims, transposed)
        }
        _ => g,
    }
}
