//! The gradient penalty's parameter gradient (autodiff through the differentiable backward
//! pass) against central finite differences, for every norm × form, on a small MLP and a small
//! conv critic. f64, inputs chosen away from L∞/L1 ties and from the hinge kink.

mod common;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};
use common::{device_f64, rel_err, to_vec64};
use margan::layers::*;
use margan::nets::MlpConfig;
use margan::penalty::{sample_norms, GradientPenalty, Where};
use margan::rng::Rng;
use margan::{Form, Norm};

fn penalty_value(net: &Network, x: &Tensor<4>, p: &GradientPenalty) -> Tensor<1> {
    let (_, g) = net.input_grad(x.clone(), Mode::Train);
    p.from_input_grad(g).0
}

/// Trainable parameters as (id, number of elements).
fn params(net: &Network) -> Vec<(ParamId, usize)> {
    struct V(Vec<(ParamId, usize)>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if p.val().is_require_grad() {
                self.0.push((p.id, p.val().shape().num_elements()));
            }
        }
    }
    let mut v = V(Vec::new());
    net.visit(&mut v);
    v.0
}

struct Perturb {
    id: ParamId,
    index: usize,
    delta: f64,
}

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if param.id != self.id {
            return param;
        }
        let (id, t, mapper) = param.consume();
        let (dims, device) = (t.dims(), t.device());
        let mut v = to_vec64(t);
        v[self.index] += self.delta;
        Param::from_mapped_value(
            id,
            Tensor::from_data(TensorData::new(v, dims), &device).require_grad(),
            mapper,
        )
    }
}

fn grads_by_param(net: &Network, grads: &burn::tensor::Gradients) -> Vec<Vec<f64>> {
    struct V<'a>(&'a burn::tensor::Gradients, Vec<Vec<f64>>);
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if p.val().is_require_grad() {
                // A parameter the penalty does not depend on (the last bias) has no gradient.
                let g = p.val().grad(self.0).unwrap_or_else(|| p.val().zeros_like());
                self.1.push(to_vec64(g));
            }
        }
    }
    let mut v = V(grads, Vec::new());
    net.visit(&mut v);
    v.1
}

/// Whether the input gradient at `x` is safely away from the non-differentiable points of the
/// penalty: L∞ ties, zero components (L1), and norms near 1 (hinge kink); and whether some
/// norms exceed 1 so that hinge forms are not trivially zero.
fn well_posed(net: &Network, x: &Tensor<4>, norm: Norm) -> bool {
    let (_, g) = net.input_grad(x.clone(), Mode::Train);
    let [n, c, h, w] = g.dims();
    let m = c * h * w;
    let rows = to_vec64(g.clone().detach().reshape([n, m]));
    let norms = to_vec64(sample_norms(g.detach(), norm));
    let gap = 1e-3;
    let no_kink = norms.iter().all(|v| (v - 1.0).abs() > 0.02);
    let some_active = norms.iter().any(|v| *v > 1.0);
    let rows_ok = rows.chunks(m).all(|r| {
        let mut a: Vec<f64> = r.iter().map(|v| v.abs()).collect();
        let min_abs = a.iter().cloned().fold(f64::INFINITY, f64::min);
        a.sort_by(|p, q| q.partial_cmp(p).unwrap());
        let tie_free = a.len() < 2 || a[0] - a[1] > gap;
        match norm {
            Norm::Linf => tie_free,
            Norm::L1 => min_abs > gap,
            Norm::L2 => true,
        }
    });
    no_kink && some_active && rows_ok
}

fn check_all_combinations(name: &str, make: impl Fn(&mut Rng) -> (Network, Tensor<4>)) {
    for norm in Norm::ALL {
        for form in Form::ALL {
            let p = GradientPenalty {
                norm,
                form,
                at: Where::Real,
                weight: 3.0,
            };
            // Deterministic search for a well-posed draw.
            let (net, x) = (0..200)
                .map(|s| make(&mut Rng::new(1000 + s)))
                .find(|(net, x)| well_posed(net, x, norm))
                .unwrap_or_else(|| panic!("{name}: no well-posed draw for {norm:?}"));
            let value = penalty_value(&net, &x, &p);
            let analytic = grads_by_param(&net, &value.backward());
            let eps = 1e-6;
            let mut checked = 0;
            for ((id, numel), analytic) in params(&net).into_iter().zip(analytic) {
                let fd: Vec<f64> = (0..numel)
                    .map(|index| {
                        let at = |delta| {
                            let moved = net.clone().map(&mut Perturb { id, index, delta });
                            margan::device::scalar(penalty_value(&moved, &x, &p))
                        };
                        (at(eps) - at(-eps)) / (2.0 * eps)
                    })
                    .collect();
                let e = rel_err(&analytic, &fd);
                if e >= 1e-5 {
                    eprintln!(
                        "param {numel}: analytic {:?}\n fd {:?}",
                        &analytic[..numel.min(8)],
                        &fd[..numel.min(8)]
                    );
                }
                assert!(e < 1e-5, "{name} {norm:?} {form:?}: penalty gradient vs finite differences, relative error {e:.2e}");
                checked += numel;
            }
            assert!(checked > 20, "{name}: checked only {checked} parameters");
            let total: f64 = margan::device::scalar(penalty_value(&net, &x, &p));
            assert!(
                total > 0.0,
                "{name} {norm:?} {form:?}: trivial (zero) penalty"
            );
        }
    }
}

#[test]
fn penalty_gradient_matches_finite_differences_on_an_mlp() {
    let dev = device_f64();
    check_all_combinations("mlp", |rng| {
        let lin = |i, o, rng: &mut Rng| {
            LayerKind::Linear(
                LinearConfig::new(i, o)
                    .with_init_std(Some(0.8))
                    .init(&dev, rng),
            )
        };
        let net = Network::new(vec![
            lin(3, 6, rng),
            LayerKind::Relu(Relu),
            lin(6, 6, rng),
            LayerKind::Tanh(Tanh),
            lin(6, 1, rng),
        ]);
        let x = rng.normal_tensor([5, 3, 1, 1], 0.0, 1.5, &dev);
        (net, x)
    });
}

#[test]
fn penalty_gradient_matches_finite_differences_on_a_conv_critic() {
    let dev = device_f64();
    check_all_combinations("conv", |rng| {
        let net = Network::new(vec![
            LayerKind::Conv2d(
                Conv2dConfig::new(2, 3, 3)
                    .with_stride(2)
                    .with_padding(1)
                    .init(&dev, rng),
            ),
            LayerKind::LeakyRelu(LeakyRelu::new(0.2)),
            LayerKind::Conv2d(Conv2dConfig::new(3, 2, 2).init(&dev, rng)),
            LayerKind::Tanh(Tanh),
            LayerKind::Reshape(Reshape::flatten()),
            LayerKind::Linear(LinearConfig::new(2 * 2 * 2, 1).init_std_scaled(rng, &dev)),
        ]);
        let x = rng.normal_tensor([3, 2, 5, 5], 0.0, 1.0, &dev);
        (net, x)
    });
}

/// A last layer with larger weights, so that input-gradient norms straddle 1.
trait Scaled {
    fn init_std_scaled(self, rng: &mut Rng, dev: &burn::tensor::Device) -> Linear;
}
impl Scaled for LinearConfig {
    fn init_std_scaled(self, rng: &mut Rng, dev: &burn::tensor::Device) -> Linear {
        self.with_init_std(Some(3.0)).init(dev, rng)
    }
}

#[test]
fn penalty_points_and_diagnostics() {
    let dev = device_f64();
    let mut rng = Rng::new(21);
    let net = MlpConfig::new(2, 1).with_width(8).init(&dev, &mut rng);
    let real = rng.normal_tensor([16, 2, 1, 1], 1.0, 1.0, &dev);
    let fake = rng.normal_tensor([16, 2, 1, 1], -1.0, 1.0, &dev);
    let (r, f) = (to_vec64(real.clone()), to_vec64(fake.clone()));
    let base = GradientPenalty {
        norm: Norm::L2,
        form: Form::Ls,
        at: Where::Interpolates,
        weight: 1.0,
    };
    // Interpolates: x̂ = u r + (1 − u) f with one u ∈ [0, 1] per pair.
    let xi = to_vec64(base.points(real.clone(), fake.clone(), &mut rng));
    for i in 0..16 {
        let u = (xi[2 * i] - f[2 * i]) / (r[2 * i] - f[2 * i]);
        assert!(
            (-1e-9..=1.0 + 1e-9).contains(&u),
            "interpolation weight {u}"
        );
        let second = f[2 * i + 1] + u * (r[2 * i + 1] - f[2 * i + 1]);
        assert!(
            (xi[2 * i + 1] - second).abs() < 1e-9,
            "both coordinates share u"
        );
    }
    // DRAGAN: x̂ − r ∈ [0, ½ std(r)].
    let dragan = GradientPenalty {
        at: Where::RealPerturbed,
        ..base.clone()
    };
    let xd = to_vec64(dragan.points(real.clone(), fake.clone(), &mut rng));
    let mean = r.iter().sum::<f64>() / r.len() as f64;
    let std = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64).sqrt();
    assert!(xd
        .iter()
        .zip(&r)
        .all(|(a, b)| a - b >= -1e-12 && a - b <= 0.5 * std + 1e-12));
    assert!(
        xd.iter().zip(&r).any(|(a, b)| a - b > 1e-3),
        "DRAGAN perturbs"
    );
    // R1 / R2 reuse the loss traces; diagnostics are the mean norms at real and fake samples.
    let tr = net.trace(real.clone(), Mode::Train);
    let tf = net.trace(fake.clone(), Mode::Train);
    for at in [Where::Real, Where::Fake] {
        let p = GradientPenalty { at, ..base.clone() };
        let out = p.compute(&net, &tr, &tf, &mut rng);
        let x = if at == Where::Real { &real } else { &fake };
        let (_, g) = net.input_grad(x.clone(), Mode::Train);
        let expected = p.from_input_grad(g).0;
        assert!(
            (margan::device::scalar(out.value) - margan::device::scalar(expected)).abs() < 1e-12
        );
        let (_, gr) = net.input_grad(real.clone(), Mode::Train);
        let (_, gf) = net.input_grad(fake.clone(), Mode::Train);
        let nr = margan::device::scalar(sample_norms(gr, Norm::L2).mean());
        let nf = margan::device::scalar(sample_norms(gf, Norm::L2).mean());
        assert!((margan::device::scalar(out.grad_norm_real) - nr).abs() < 1e-12);
        assert!((margan::device::scalar(out.grad_norm_fake) - nf).abs() < 1e-12);
    }
}

#[test]
fn linf_norm_takes_absolute_values() {
    let dev = device_f64();
    let g = Tensor::<2>::from_data(
        TensorData::new(vec![-3.0f64, 2.0, 0.5, -0.25, 0.0, 0.0], [3, 2]),
        &dev,
    );
    assert_eq!(
        to_vec64(margan::norms::row_norm_reference(g.clone(), Norm::Linf)),
        vec![3.0, 0.5, 0.0]
    );
    assert_eq!(
        to_vec64(margan::norms::row_norm_reference(g.clone(), Norm::L1)),
        vec![5.0, 0.75, 0.0]
    );
    let l2 = to_vec64(margan::norms::row_norm_reference(g.clone(), Norm::L2));
    assert!(
        (l2[0] - 13f64.sqrt()).abs() < 1e-12
            && (l2[1] - 0.3125f64.sqrt()).abs() < 1e-12
            && l2[2] < 1e-11
    );
    // A zero row has a finite (zero) L2 gradient, as in PyTorch.
    let g = g.require_grad();
    let grads = margan::norms::row_norm_reference(g.clone(), Norm::L2)
        .sum()
        .backward();
    let d = to_vec64(g.grad(&grads).unwrap());
    assert!(d.iter().all(|v| v.is_finite()) && d[4] == 0.0 && d[5] == 0.0);
}
