//! Margins of a classifier `D` (decision boundary `D(x) = 0`): for each sample the smallest
//! perturbation `δ`, in L1, L2 or L∞ norm, with `D(x + δ) = 0`.
//!
//! As in the paper's appendix A, `min ‖δ‖ s.t. D(x+δ) = 0` is solved by gradient descent on the
//! augmented Lagrangian `‖δ‖ + λ·D(x+δ) + ρ/2·D(x+δ)²`, with the multipliers updated every few
//! steps; the non-smooth norm is handled by its proximal operator (exact zeros for L1, exact
//! ties for L∞), which plain subgradient steps only approach. The result is then put exactly on the boundary by a
//! bisection along the ray `x + sδ`, so every reported margin belongs to a boundary point (an
//! upper bound of the true margin that the optimisation makes tight).

use crate::device::to_vec;
use crate::layers::{Mode, Network};
use crate::norms::{row_norm_reference, Norm};
use burn::tensor::{Tensor, TensorData};

/// Settings of the margin estimator.
#[derive(Clone, Debug, PartialEq)]
pub struct MarginConfig {
    /// The norm in which the margin (the perturbation) is measured.
    pub norm: Norm,
    /// Cap on gradient steps (default 600).
    pub max_iters: usize,
    /// Initial step (default 0.5, divided per sample by `1 + ρ‖∇D(x)‖²`), decayed geometrically
    /// to `lr · final_lr_ratio`.
    pub lr: f64,
    /// Default 1e-2.
    pub final_lr_ratio: f64,
    /// Penalty parameter `ρ` (default 10).
    pub rho: f64,
    /// Steps between multiplier updates (default 20).
    pub multiplier_every: usize,
    /// Stop when every sample's `|D(x+δ)|` is below this and `‖δ‖` moved less than
    /// `tol · ‖δ‖` over the last multiplier period (default 1e-4).
    pub tol: f64,
    /// Start from the linearised solution (DeepFool-like) instead of `δ = 0` (default true).
    pub linearised_init: bool,
    /// Random rays (besides the linearised direction) searched for their first boundary
    /// crossing before the optimisation, which then starts from the nearest crossing found —
    /// a global look that a local descent lacks where the boundary is wiggly (default 16;
    /// 0 = none). Needs `linearised_init`.
    pub ray_starts: usize,
    /// Seed of those rays (default 0).
    pub seed: u64,
}

impl MarginConfig {
    pub fn new(norm: Norm) -> Self {
        MarginConfig {
            norm,
            max_iters: 600,
            lr: 0.5,
            final_lr_ratio: 1e-2,
            rho: 10.0,
            multiplier_every: 20,
            tol: 1e-4,
            linearised_init: true,
            ray_starts: 16,
            seed: 0,
        }
    }
}

/// Per-sample margins and whether each sample's optimisation converged (constraint met and
/// `‖δ‖` settled, and the ray reached the boundary).
#[derive(Clone, Debug, PartialEq)]
pub struct Margins {
    pub values: Vec<f64>,
    pub converged: Vec<bool>,
    /// Gradient steps taken.
    pub iterations: usize,
}

impl Margins {
    /// The expected margin: the mean over samples (those whose ray reached the boundary); NaN
    /// when none did (a classifier with no boundary in reach has no margin to report, not 0).
    pub fn mean(&self) -> f64 {
        finite_mean(&self.values)
    }
}

/// The mean of the finite values; NaN when there are none.
pub fn finite_mean(values: &[f64]) -> f64 {
    let v: Vec<f64> = values.iter().cloned().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

fn flat(t: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = t.dims();
    t.reshape([n, c * h * w])
}

/// `D(x)` as `[N]` (evaluation mode, detached).
fn critic(net: &Network, x: Tensor<4>) -> Tensor<1> {
    let n = x.dims()[0];
    net.forward(x, Mode::Eval).reshape([n]).detach()
}

/// The minimiser of `‖δ‖_p` for the linearisation `D(x) + gᵀδ = 0`.
fn linearised(d: Tensor<1>, g: Tensor<2>, norm: Norm) -> Tensor<2> {
    let [n, m] = g.dims();
    let d = d.reshape([n, 1]);
    match norm {
        // δ = −D g / ‖g‖₂²
        Norm::L2 => g.clone() * d.neg() / g.square().sum_dim(1).clamp_min(1e-30),
        // L∞ margin: δ = −D sign(g) / ‖g‖₁
        Norm::Linf => g.clone().sign() * d.neg() / g.abs().sum_dim(1).clamp_min(1e-30),
        // L1 margin: all of δ on the coordinate of the largest |gᵢ|: δᵢ = −D / gᵢ
        Norm::L1 => {
            let idx = g.clone().abs().argmax(1);
            let gi = g.clone().gather(1, idx.clone());
            let step = d.neg() / gi.clone().abs().clamp_min(1e-30) * gi.sign();
            g.zeros_like()
                .scatter(1, idx, step, burn::tensor::ops::IndexingUpdateOp::Add)
                .reshape([n, m])
        }
    }
}

/// `prox_{η‖·‖}(v)` for one row: soft thresholding (L1), shrinking the length (L2), and for
/// L∞ `v − η·P(v/η)` with `P` the projection onto the unit L1 ball (Moreau decomposition).
pub fn prox(v: &mut [f32], eta: f32, norm: Norm) {
    match norm {
        Norm::L1 => v
            .iter_mut()
            .for_each(|x| *x = x.signum() * (x.abs() - eta).max(0.0)),
        Norm::L2 => {
            let len = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let k = if len > eta { 1.0 - eta / len } else { 0.0 };
            v.iter_mut().for_each(|x| *x *= k);
        }
        Norm::Linf => {
            let u: Vec<f32> = v.iter().map(|x| x / eta).collect();
            let l1: f32 = u.iter().map(|x| x.abs()).sum();
            if l1 <= 1.0 {
                v.iter_mut().for_each(|x| *x = 0.0);
                return;
            }
            // θ of the projection onto {‖u‖₁ ≤ 1} (Duchi et al. 2008).
            let mut a: Vec<f32> = u.iter().map(|x| x.abs()).collect();
            a.sort_by(|p, q| q.partial_cmp(p).unwrap());
            let (mut cum, mut theta) = (0.0f32, 0.0f32);
            for (j, aj) in a.iter().enumerate() {
                cum += aj;
                let t = (cum - 1.0) / (j + 1) as f32;
                if *aj > t {
                    theta = t;
                }
            }
            for (x, ui) in v.iter_mut().zip(&u) {
                let p = ui.signum() * (ui.abs() - theta).max(0.0);
                *x -= eta * p;
            }
        }
    }
}

/// Margins of every sample of `x` (`[N, ...]`) for the classifier `net` (output `[N, 1, 1, 1]`).
///
/// Proximal gradient on the augmented Lagrangian: a gradient step on `λ·D(x+δ) + ρ/2·D(x+δ)²`
/// (step `lr / (1 + ρ‖∇D(x)‖²)` per sample, decayed geometrically), then the proximal step of
/// `‖δ‖`; the multipliers `λ += ρ·D(x+δ)` every `multiplier_every` steps.
pub fn estimate(net: &Network, x: Tensor<4>, cfg: &MarginConfig) -> Margins {
    let dims = x.dims();
    let n = dims[0];
    let device = x.device();
    let x = x.detach();
    let (d0, g0) = {
        let (y, g) = net.input_grad(x.clone(), Mode::Eval);
        (y.reshape([n]).detach(), flat(g.detach()))
    };
    let m = g0.dims()[1];
    let steps: Vec<f64> = to_vec(g0.clone().square().sum_dim(1))
        .iter()
        .map(|g2| cfg.lr / (1.0 + cfg.rho * *g2 as f64))
        .collect();
    let lin = linearised(d0.clone(), g0, cfg.norm);
    let (start, start_margin) = if cfg.linearised_init {
        nearest_ray_crossing(net, &x, &d0, &lin, cfg)
    } else {
        (lin.zeros_like(), vec![f64::INFINITY; n])
    };
    let mut delta: Vec<f32> = to_vec(start);
    let mut lam = vec![0.0f64; n];
    let decay = cfg.final_lr_ratio.powf(1.0 / cfg.max_iters.max(1) as f64);
    let mut prev = delta.clone();
    let mut settled = vec![false; n];
    let mut iterations = 0;
    for t in 1..=cfg.max_iters {
        iterations = t;
        let d =
            Tensor::<2>::from_data(TensorData::new(delta.clone(), [n, m]), &device).require_grad();
        let c = net
            .forward(x.clone() + d.clone().reshape(dims), Mode::Eval)
            .reshape([n]);
        let lam_t = Tensor::<1>::from_data(
            TensorData::new(lam.iter().map(|v| *v as f32).collect::<Vec<_>>(), [n]),
            &device,
        );
        let smooth = lam_t * c.clone() + c.clone().square().mul_scalar(cfg.rho / 2.0);
        let grads = smooth.sum().backward();
        let g = to_vec(d.grad(&grads).expect("δ has a gradient"));
        let scale = decay.powi(t as i32);
        for i in 0..n {
            let eta = (steps[i] * scale) as f32;
            let row = &mut delta[i * m..(i + 1) * m];
            row.iter_mut()
                .zip(&g[i * m..(i + 1) * m])
                .for_each(|(v, gi)| *v -= eta * gi);
            prox(row, eta, cfg.norm);
        }
        if t % cfg.multiplier_every == 0 {
            let c = to_vec(c.detach());
            for i in 0..n {
                lam[i] += cfg.rho * c[i] as f64;
                let size: f64 = delta[i * m..(i + 1) * m]
                    .iter()
                    .map(|v| (*v as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let moved: f64 = delta[i * m..(i + 1) * m]
                    .iter()
                    .zip(&prev[i * m..(i + 1) * m])
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                settled[i] = (c[i].abs() as f64) < cfg.tol && moved <= cfg.tol * size.max(1e-6);
            }
            prev.clone_from(&delta);
            if settled.iter().all(|s| *s) {
                break;
            }
        }
    }
    let delta = Tensor::<2>::from_data(TensorData::new(delta, [n, m]), &device);
    let (optimised, crossed, _) = to_boundary(net, &x, &d0, &delta, cfg.norm);
    // The start (the nearest crossing of the linearised direction and the random rays) is a
    // boundary point too: where the optimisation wandered off (e.g. the L1 proximal path between
    // two near-equal gradient coordinates), the nearer of the two is the better (still upper)
    // estimate of the margin.
    let values: Vec<f64> = optimised
        .iter()
        .zip(&start_margin)
        .map(|(a, b)| a.min(*b))
        .collect();
    let converged = crossed
        .iter()
        .zip(&settled)
        .map(|(c, s)| *c && *s)
        .collect();
    Margins {
        values,
        converged,
        iterations,
    }
}

/// Points scanned along each ray for its first boundary crossing.
const SCAN: usize = 128;

/// Scales each `δ` so that `x + sδ` lies on the first boundary point along the ray (a scan for
/// the first sign change, then bisection on `s`), and returns
/// `‖sδ‖` (∞ where the ray never crosses) and whether the crossing was found.
fn to_boundary(
    net: &Network,
    x: &Tensor<4>,
    d0: &Tensor<1>,
    delta: &Tensor<2>,
    norm: Norm,
) -> (Vec<f64>, Vec<bool>, Vec<f64>) {
    let dims = x.dims();
    let n = dims[0];
    let device = x.device();
    let sign0: Vec<bool> = to_vec(d0.clone()).iter().map(|v| *v > 0.0).collect();
    let at = |s: &[f64]| -> Vec<f32> {
        let s = Tensor::<2>::from_data(
            TensorData::new(s.iter().map(|v| *v as f32).collect::<Vec<_>>(), [n, 1]),
            &device,
        );
        to_vec(critic(net, x.clone() + (delta.clone() * s).reshape(dims)))
    };
    // Find s_hi with a sign change (s = 1 is where the optimisation ended).
    let mut hi = vec![1.0f64; n];
    let mut found = vec![false; n];
    for _ in 0..12 {
        let v = at(&hi);
        for i in 0..n {
            if !found[i] {
                if (v[i] > 0.0) != sign0[i] || v[i] == 0.0 {
                    found[i] = true;
                } else {
                    hi[i] *= 2.0;
                }
            }
        }
        if found.iter().all(|f| *f) {
            break;
        }
    }
    // The ray may cross the boundary several times before s_hi (a wiggly boundary): scan it
    // and keep the bracket of the first crossing, so that the bisection finds the nearest one.
    let mut lo = vec![0.0f64; n];
    let top = hi.clone();
    let mut first = vec![false; n];
    for k in 1..=SCAN {
        let s: Vec<f64> = top.iter().map(|h| h * k as f64 / SCAN as f64).collect();
        let v = at(&s);
        for i in 0..n {
            if found[i] && !first[i] {
                if (v[i] > 0.0) == sign0[i] && v[i] != 0.0 {
                    lo[i] = s[i];
                } else {
                    hi[i] = s[i];
                    first[i] = true;
                }
            }
        }
    }
    for _ in 0..40 {
        let mid: Vec<f64> = lo.iter().zip(&hi).map(|(a, b)| 0.5 * (a + b)).collect();
        let v = at(&mid);
        for i in 0..n {
            if (v[i] > 0.0) == sign0[i] && v[i] != 0.0 {
                lo[i] = mid[i];
            } else {
                hi[i] = mid[i];
            }
        }
    }
    let norms = to_vec(row_norm_reference(delta.clone(), norm));
    let values = (0..n)
        .map(|i| {
            if found[i] {
                hi[i] * norms[i] as f64
            } else {
                f64::INFINITY
            }
        })
        .collect();
    (values, found, hi)
}

/// The nearest first boundary crossing, per sample, among the rays along the linearised `lin`
/// and `cfg.ray_starts` random directions (of `lin`'s L2 length): the crossing point `sδ` and
/// its norm. Where no ray crosses, `lin` and ∞.
fn nearest_ray_crossing(
    net: &Network,
    x: &Tensor<4>,
    d0: &Tensor<1>,
    lin: &Tensor<2>,
    cfg: &MarginConfig,
) -> (Tensor<2>, Vec<f64>) {
    let dims = x.dims();
    let [n, m] = lin.dims();
    let k = cfg.ray_starts + 1;
    let device = x.device();
    let length = lin.clone().square().sum_dim(1).sqrt().clamp_min(1e-3); // [n, 1]
    let random = crate::rng::Rng::new(cfg.seed).normal_tensor([n, k - 1, m], 0.0, 1.0, &device);
    let random = random.clone() / random.square().sum_dim(2).sqrt().clamp_min(1e-12)
        * length.clone().reshape([n, 1, 1]);
    let rays = Tensor::cat(vec![lin.clone().reshape([n, 1, m]), random], 1).reshape([n * k, m]);
    let xs =
        x.clone()
            .reshape([n, 1, m])
            .repeat_dim(1, k)
            .reshape([n * k, dims[1], dims[2], dims[3]]);
    let ds = d0.clone().reshape([n, 1]).repeat_dim(1, k).reshape([n * k]);
    let (dist, _, scale) = to_boundary(net, &xs, &ds, &rays, cfg.norm);
    let rays = to_vec(rays);
    let mut start = to_vec(lin.clone());
    let mut best = vec![f64::INFINITY; n];
    for i in 0..n {
        for j in 0..k {
            let r = i * k + j;
            if dist[r] < best[i] {
                best[i] = dist[r];
                for (v, d) in start[i * m..(i + 1) * m]
                    .iter_mut()
                    .zip(&rays[r * m..(r + 1) * m])
                {
                    *v = (*d as f64 * scale[r]) as f32;
                }
            }
        }
    }
    (
        Tensor::from_data(TensorData::new(start, [n, m]), &device),
        best,
    )
}
