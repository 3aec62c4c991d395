//! The margin estimator against the closed form for a linear classifier, and the direction of
//! the paper's effect on a small, seeded swiss-roll experiment.

mod common;

use common::device;
use margan::device::to_vec;
use margan::layers::{LayerKind, LinearConfig, Network};
use margan::margins::{estimate, MarginConfig};
use margan::rng::Rng;
use margan::Norm;

#[test]
fn linear_classifier_margins_match_the_closed_form() {
    let dev = device();
    let mut rng = Rng::new(3);
    let lin = LinearConfig::new(3, 1)
        .with_init_std(Some(1.0))
        .init(&dev, &mut rng);
    let w = to_vec(lin.weight.val());
    let b = 0.4f32;
    let mut lin = lin;
    lin.bias = Some(burn::module::Param::from_tensor(
        burn::tensor::Tensor::from_floats([b], &dev),
    ));
    let net = Network::new(vec![LayerKind::Linear(lin)]);
    let x = rng.normal_tensor([24, 3, 1, 1], 0.0, 1.5, &dev);
    let xs = to_vec(x.clone());
    for norm in Norm::ALL {
        // ‖·‖ of the dual norm: L∞ margin ↔ ‖w‖₁, L2 ↔ ‖w‖₂, L1 ↔ ‖w‖∞.
        let dual = match norm {
            Norm::Linf => w.iter().map(|v| v.abs() as f64).sum::<f64>(),
            Norm::L2 => w.iter().map(|v| (v * v) as f64).sum::<f64>().sqrt(),
            Norm::L1 => w.iter().map(|v| v.abs() as f64).fold(0.0, f64::max),
        };
        // From δ = 0, the L1 path must zero all but the largest coordinate, which the proximal
        // steps do only slowly when two |wᵢ| are close: there the (exact) linearised start is
        // what the estimator uses; L2 and L∞ are also checked from δ = 0.
        let inits: &[bool] = if norm == Norm::L1 {
            &[true]
        } else {
            &[true, false]
        };
        for &linearised_init in inits {
            let cfg = MarginConfig {
                linearised_init,
                max_iters: 2000,
                ..MarginConfig::new(norm)
            };
            let m = estimate(&net, x.clone(), &cfg);
            for i in 0..24 {
                let f: f64 = (0..3)
                    .map(|j| w[j] as f64 * xs[3 * i + j] as f64)
                    .sum::<f64>()
                    + b as f64;
                let expected = f.abs() / dual;
                let tol = if linearised_init { 1e-3 } else { 3e-2 };
                assert!(
                    (m.values[i] - expected).abs() <= tol * expected.max(0.05),
                    "{norm:?} init={linearised_init} sample {i}: {} vs closed form {expected}",
                    m.values[i]
                );
            }
            if linearised_init {
                assert!(m.converged.iter().all(|c| *c), "{norm:?}: not converged");
            }
        }
    }
}

#[test]
fn penalties_enlarge_the_swiss_roll_margins() {
    use margan::swiss::{expected_margins, train, variants, SwissRollConfig};
    let dev = device();
    let cfg = SwissRollConfig {
        width: 64,
        iterations: 1500,
        train_per_class: 128,
        eval_per_class: 64,
        margin_iters: 1500,
        ..SwissRollConfig::full(11)
    };
    let all = variants(cfg.weight);
    let (net, acc) = train(&cfg, None, &dev);
    let (base, _) = expected_margins(&net, &cfg, &dev);
    eprintln!("none: margins {base:?}, accuracy {acc:.3}");
    assert!(
        acc > 0.8,
        "the unpenalised classifier separates the rolls: accuracy {acc}"
    );
    // Every minimal L∞ perturbation is at most as long as the minimal L2 one, and so on.
    let ordered = |m: &[f64; 3]| m[2] <= m[1] * 1.001 && m[1] <= m[0] * 1.001;
    assert!(ordered(&base), "inconsistent margins {base:?}");
    // The paper's best penalty: L∞ gradient norm (L1 margin), hinge form.
    for name in ["linf hinge"] {
        let p = all.iter().find(|(n, _)| n == name).unwrap().1.clone();
        let (net, acc) = train(&cfg, p.as_ref(), &dev);
        let (m, _) = expected_margins(&net, &cfg, &dev);
        eprintln!("{name}: margins {m:?}, accuracy {acc:.3}");
        assert!(ordered(&m), "inconsistent margins {m:?}");
        for k in 0..3 {
            // Measured: 1.7–1.9× (the paper reports 2–3× on its swiss roll).
            assert!(
                m[k] > 1.4 * base[k],
                "{name}: margin {k} {:.3} not clearly larger than without penalty {:.3}",
                m[k],
                base[k]
            );
        }
    }
}

/// A classifier with no decision boundary (constant output) has no margin: the expected margin
/// is NaN, not 0, and no sample counts as converged; the grid reference finds no boundary point.
#[test]
fn a_classifier_without_a_boundary_has_no_margin() {
    use margan::margins_grid::grid_margins_reference;
    let dev = device();
    let mut lin = LinearConfig::new(2, 1).init(&dev, &mut Rng::new(0));
    lin.weight = burn::module::Param::from_tensor(burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(vec![0.0f32, 0.0], [2, 1]),
        &dev,
    ));
    lin.bias = Some(burn::module::Param::from_tensor(
        burn::tensor::Tensor::from_floats([1.0], &dev),
    ));
    let net = Network::new(vec![LayerKind::Linear(lin)]);
    let x = Rng::new(4).normal_tensor([6, 2, 1, 1], 0.0, 1.0, &dev);
    let pts: Vec<[f64; 2]> = to_vec(x.clone())
        .chunks(2)
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect();
    for norm in Norm::ALL {
        let m = estimate(&net, x.clone(), &MarginConfig::new(norm));
        assert!(
            m.mean().is_nan(),
            "{norm:?}: mean {} of {:?}",
            m.mean(),
            m.values
        );
        assert!(
            !m.converged.iter().any(|c| *c),
            "{norm:?}: {:?}",
            m.converged
        );
        let g = grid_margins_reference(&net, &pts, norm, [0.0, 0.0], 3.0, 60, &dev);
        assert!(g.iter().all(|v| !v.is_finite()), "{norm:?}: grid {g:?}");
        assert!(margan::margins::finite_mean(&g).is_nan());
    }
}

/// The grid reference itself, on a 2-D linear classifier: within one grid cell of the closed form.
#[test]
fn grid_reference_matches_the_closed_form() {
    use margan::margins_grid::grid_margins_reference;
    let dev = device();
    let (w, b) = ([0.8f32, -0.3], 0.25f32);
    let mut lin = LinearConfig::new(2, 1).init(&dev, &mut Rng::new(0));
    lin.weight = burn::module::Param::from_tensor(burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(w.to_vec(), [2, 1]),
        &dev,
    ));
    lin.bias = Some(burn::module::Param::from_tensor(
        burn::tensor::Tensor::from_floats([b], &dev),
    ));
    let net = Network::new(vec![LayerKind::Linear(lin)]);
    let mut rng = Rng::new(9);
    let pts: Vec<[f64; 2]> = (0..40)
        .map(|_| [3.0 * rng.uniform() - 1.5, 3.0 * rng.uniform() - 1.5])
        .collect();
    let (half, res) = (3.0, 300);
    for norm in Norm::ALL {
        let dual = match norm {
            Norm::Linf => (w[0].abs() + w[1].abs()) as f64,
            Norm::L2 => (w[0] as f64).hypot(w[1] as f64),
            Norm::L1 => w[0].abs().max(w[1].abs()) as f64,
        };
        let m = grid_margins_reference(&net, &pts, norm, [0.0, 0.0], half, res, &dev);
        for (p, got) in pts.iter().zip(&m) {
            let f = w[0] as f64 * p[0] + w[1] as f64 * p[1] + b as f64;
            let expected = f.abs() / dual;
            assert!(
                (got - expected).abs() < 2.0 * half / res as f64,
                "{norm:?} at {p:?}: grid {got} vs closed form {expected}"
            );
        }
    }
}

/// On a trained 2-D classifier with a wiggly boundary (the unpenalised swiss-roll MLP) the
/// estimator finds boundary points (never nearer than the exact margin) that are close to the
/// nearest ones (mean within 5% of the brute-force reference) in all three norms.
#[test]
fn estimator_matches_the_grid_reference_on_a_trained_net() {
    use margan::margins_grid::grid_margins_reference;
    use margan::swiss::{data, train, SwissRollConfig};
    use margan::toy::points_tensor;
    let dev = device();
    let cfg = SwissRollConfig {
        width: 32,
        iterations: 800,
        train_per_class: 128,
        ..SwissRollConfig::full(5)
    };
    let (net, acc) = train(&cfg, None, &dev);
    assert!(
        acc > 0.9,
        "the classifier separates the rolls: accuracy {acc}"
    );
    let (a, b) = data(32, cfg.scale, &mut Rng::new(77));
    let pts = [a, b].concat();
    let (half, res) = (3.5, 700);
    let cell = 2.0 * half / res as f64;
    for norm in Norm::ALL {
        let exact = grid_margins_reference(&net, &pts, norm, [0.0, 0.0], half, res, &dev);
        let est = estimate(
            &net,
            points_tensor(&pts, &dev),
            &MarginConfig {
                max_iters: 800,
                ..MarginConfig::new(norm)
            },
        );
        for (i, (e, x)) in est.values.iter().zip(&exact).enumerate() {
            assert!(
                *e >= x - 2.0 * cell,
                "{norm:?} sample {i}: estimate {e} is nearer than any boundary point ({x})"
            );
        }
        let (me, mx) = (
            est.values.iter().sum::<f64>() / pts.len() as f64,
            exact.iter().sum::<f64>() / pts.len() as f64,
        );
        eprintln!("{norm:?}: estimator {me:.4}, grid reference {mx:.4}");
        assert!(
            me <= 1.05 * mx + cell,
            "{norm:?}: the estimator's mean margin {me} is more than 5% above the exact {mx}"
        );
    }
}
