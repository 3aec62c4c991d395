//! The paper's expected-margin experiment (Table 1): a swiss roll against the same swiss roll
//! scaled by 1.5, classified by a 4-layer ReLU MLP trained with cross-entropy and Adam, without
//! and with gradient penalties; the expected L1, L2 and L∞ margins over samples of both classes.

use crate::gan::adam;
use crate::layers::{Mode, Network};
use crate::losses::d_sgan;
use crate::margins::{estimate, MarginConfig};
use crate::margins_grid::{boundary_points, distances_to};
use crate::nets::MlpConfig;
use crate::norms::Norm;
use crate::penalty::{Form, GradientPenalty, Where};
use crate::rng::Rng;
use crate::toy::{points_tensor, Toy};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Settings of the experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct SwissRollConfig {
    /// Hidden width of the MLP (paper: 512).
    pub width: usize,
    /// Adam steps (full batch of `train_per_class` points per class).
    pub iterations: usize,
    pub train_per_class: usize,
    /// Samples per class whose margins are averaged (paper: 256).
    pub eval_per_class: usize,
    pub lr: f64,
    /// Penalty weight λ of the penalised variants.
    pub weight: f64,
    /// Iteration cap of the margin estimator.
    pub margin_iters: usize,
    /// Cells per side of the grid on which the brute-force reference traces the boundary
    /// (default 600; 0 skips the reference).
    pub grid_res: usize,
    /// Spatial scale: points are scikit-learn's `make_swiss_roll` (noise 0.25) times this.
    /// Default 1/7.5, the 2-D swiss roll of the WGAN-GP toy experiments the paper builds on.
    pub scale: f64,
    /// Only the variants with these names (`none`, `linf-hinge`, …); all when empty.
    pub only: Vec<String>,
    pub seed: u64,
}

impl SwissRollConfig {
    /// The full experiment.
    pub fn full(seed: u64) -> Self {
        SwissRollConfig {
            width: 512,
            iterations: 3000,
            train_per_class: 512,
            eval_per_class: 256,
            lr: 1e-3,
            weight: 20.0,
            margin_iters: 3000,
            grid_res: 600,
            scale: 1.0 / 7.5,
            only: Vec::new(),
            seed,
        }
    }

    /// A smaller version for `--quick` (minutes on 2 CPU cores).
    pub fn quick(seed: u64) -> Self {
        SwissRollConfig {
            width: 128,
            iterations: 1500,
            train_per_class: 256,
            eval_per_class: 256,
            margin_iters: 1500,
            ..Self::full(seed)
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct MarginRow {
    pub variant: String,
    pub penalty: Option<GradientPenalty>,
    /// Expected L1, L2, L∞ margins (the augmented-Lagrangian estimator).
    pub margins: [f64; 3],
    /// The same by brute force on a grid (`margins_grid`); NaN when skipped. (Either is NaN
    /// where the classifier has no boundary in reach.)
    pub exact: [f64; 3],
    /// Fraction of samples whose estimate converged, per norm.
    pub converged: [f64; 3],
    /// Training accuracy of the classifier.
    pub accuracy: f64,
}

/// No penalty, then gradient norm L1, L2, L∞ × form LS, hinge (at interpolates between the
/// two classes).
pub fn variants(weight: f64) -> Vec<(String, Option<GradientPenalty>)> {
    let mut v = vec![("none".to_string(), None)];
    for norm in Norm::ALL {
        for form in [Form::Ls, Form::Hinge] {
            let name = format!(
                "{} {}",
                norm.name(),
                if form == Form::Ls { "LS" } else { "hinge" }
            );
            v.push((
                name,
                Some(GradientPenalty {
                    norm,
                    form,
                    at: Where::Interpolates,
                    weight,
                }),
            ));
        }
    }
    v
}

/// `n` points of each class: the 2-D swiss roll `scale·(t·(cos t, sin t) + 0.25·ε)`,
/// `t ~ U[1.5π, 4.5π]` (label "real", D > 0), and the same roll scaled by 1.5.
pub fn data(n: usize, scale: f64, rng: &mut Rng) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    // Toy::SwissRoll is make_swiss_roll / 5 (noise 0.05).
    let roll = |rng: &mut Rng, s: f64| -> Vec<[f64; 2]> {
        Toy::SwissRoll
            .sample(n, rng)
            .into_iter()
            .map(|p| [5.0 * scale * s * p[0], 5.0 * scale * s * p[1]])
            .collect()
    };
    let a = roll(rng, 1.0);
    let b = roll(rng, 1.5);
    (a, b)
}

/// Trains the classifier of one variant; returns it and its training accuracy.
pub fn train(
    cfg: &SwissRollConfig,
    penalty: Option<&GradientPenalty>,
    device: &Device,
) -> (Network, f64) {
    let mut rng = Rng::new(cfg.seed);
    let (a, b) = data(cfg.train_per_class, cfg.scale, &mut rng);
    let (xa, xb) = (points_tensor(&a, device), points_tensor(&b, device));
    let mut net = MlpConfig::new(2, 1)
        .with_width(cfg.width)
        .init(device, &mut rng);
    let mut opt = adam(0.9, 0.999);
    let n = cfg.train_per_class;
    for _ in 0..cfg.iterations {
        let ta = net.trace(xa.clone(), Mode::Train);
        let tb = net.trace(xb.clone(), Mode::Train);
        let mut loss = d_sgan(ta.output().reshape([n]), tb.output().reshape([n]));
        if let Some(p) = penalty {
            loss = loss + p.compute(&net, &ta, &tb, &mut rng).value;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = opt.step(cfg.lr, net, grads);
    }
    let out = |x: Tensor<4>| crate::device::to_vec(net.forward(x, Mode::Eval));
    let correct =
        out(xa).iter().filter(|v| **v > 0.0).count() + out(xb).iter().filter(|v| **v < 0.0).count();
    let acc = correct as f64 / (2 * n) as f64;
    (net, acc)
}

/// Expected L1, L2, L∞ margins of `net` over fresh samples of both classes.
pub fn expected_margins(
    net: &Network,
    cfg: &SwissRollConfig,
    device: &Device,
) -> ([f64; 3], [f64; 3]) {
    let mut rng = Rng::new(cfg.seed ^ 0xE7A1);
    let (a, b) = data(cfg.eval_per_class, cfg.scale, &mut rng);
    let x = points_tensor(&[a, b].concat(), device);
    let mut means = [0.0; 3];
    let mut conv = [0.0; 3];
    for (k, norm) in Norm::ALL.into_iter().enumerate() {
        let m = estimate(
            net,
            x.clone(),
            &MarginConfig {
                max_iters: cfg.margin_iters,
                ..MarginConfig::new(norm)
            },
        );
        means[k] = m.mean();
        conv[k] = m.converged.iter().filter(|c| **c).count() as f64 / m.converged.len() as f64;
    }
    (means, conv)
}

/// The expected margins of [`expected_margins`]' samples by brute force (boundary traced on a
/// `grid_res²` grid around the data); NaN when `grid_res` is 0 or no boundary was found.
pub fn grid_margins(net: &Network, cfg: &SwissRollConfig, device: &Device) -> [f64; 3] {
    if cfg.grid_res == 0 {
        return [f64::NAN; 3];
    }
    let mut rng = Rng::new(cfg.seed ^ 0xE7A1);
    let (a, b) = data(cfg.eval_per_class, cfg.scale, &mut rng);
    let pts = [a, b].concat();
    let reach = pts
        .iter()
        .flat_map(|p| [p[0].abs(), p[1].abs()])
        .fold(0.0, f64::max);
    let boundary = boundary_points(net, [0.0, 0.0], 1.5 * reach, cfg.grid_res, device);
    let mut out = [0.0; 3];
    for (k, norm) in Norm::ALL.into_iter().enumerate() {
        out[k] = crate::margins::finite_mean(&distances_to(&boundary, &pts, norm));
    }
    out
}

/// Runs every variant; `progress` is told which one starts.
pub fn run(
    cfg: &SwissRollConfig,
    device: &Device,
    mut progress: impl FnMut(&str),
) -> Vec<(MarginRow, Network)> {
    variants(cfg.weight)
        .into_iter()
        .filter(|(name, _)| {
            cfg.only.is_empty() || cfg.only.contains(&name.replace(' ', "-").to_lowercase())
        })
        .map(|(name, penalty)| {
            progress(&name);
            let (net, accuracy) = train(cfg, penalty.as_ref(), device);
            let (margins, converged) = expected_margins(&net, cfg, device);
            let exact = grid_margins(&net, cfg, device);
            (
                MarginRow {
                    variant: name,
                    penalty,
                    margins,
                    exact,
                    converged,
                    accuracy,
                },
                net,
            )
        })
        .collect()
}
