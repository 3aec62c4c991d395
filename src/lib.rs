//! margan: GANs whose discriminators are maximum-margin classifiers.
//!
//! burn's autodiff is first-order only, so every layer here carries, besides its forward pass,
//! a backward pass written in differentiable tensor ops ([`layers::Layer`]). Composing them gives
//! the critic's input gradient `∇ₓ Σ D(x)` as an ordinary tensor expression; first-order autodiff
//! of a penalty on it then yields the exact second-order parameter gradient.
//!
//! Activations are always rank-4 tensors: images are `[N, C, H, W]`, vectors are `[N, F, 1, 1]`.

pub mod conv;
pub mod device;
pub mod error;
pub mod export;
pub mod gan;
pub mod kernels;
pub mod layers;
pub mod losses;
pub mod margins;
pub mod margins_grid;
pub mod model;
pub mod nets;
pub mod norms;
pub mod optim;
pub mod pack;
pub mod penalty;
pub mod phase;
pub mod rng;
mod scoped;
pub mod shapes;
pub mod swiss;
pub mod toy;

pub use error::MarganError;
pub use layers::{Layer, Mode, Network, Trace};
pub use losses::GanLoss;
pub use norms::Norm;
pub use penalty::{Form, GradientPenalty, PenaltyOutput, Where};
pub use rng::Rng;
