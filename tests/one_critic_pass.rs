//! A critic step in one pass of the critic over its real batch, its fake batch and the
//! penalty's points side by side (`Gan::one_critic_pass`, `Network::trace_groups`: BatchNorm
//! statistics per group) against one pass per batch, as the paper's code runs it: the same
//! loss, penalty, gradient norms, critic parameter gradients (the penalty's double backward
//! included), BatchNorm running statistics and random draws. On the CPU backend, and on wgpu
//! (the grouped BatchNorm kernels, lavapipe in CI).

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use common::penalised_step::{grads_of, values_of, Steepen, STEEPEN};
use common::{rel_err, to_vec64};
use margan::gan::{Gan, GanConfig};
use margan::layers::{accumulate, Mode, Network};
use margan::nets::DcganConfig;
use margan::rng::Rng;
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};

const BATCH: usize = 4;

/// A run with DCGAN-32 networks (width 8, BatchNorm in the critic) from a fixed seed: two calls
/// give two runs with equal weights and no shared state.
fn gan(device: &Device, loss: GanLoss, penalty: Option<GradientPenalty>, one_pass: bool) -> Gan {
    let cfg = DcganConfig::new().with_width(8).with_z_dim(16);
    let mut rng = Rng::new(41);
    let g = cfg.init_generator(device, &mut rng);
    let d = cfg
        .init_discriminator(device, &mut rng)
        .map(&mut Steepen(STEEPEN));
    let config = GanConfig {
        loss,
        penalty,
        z_dim: 16,
        ..GanConfig::default()
    };
    let mut gan = Gan::new(g, d, config, Rng::new(42), device.clone());
    gan.one_critic_pass = one_pass;
    gan
}

struct Outcome {
    figures: Vec<f64>,
    grads: Vec<Vec<f64>>,
    state: Vec<Vec<f64>>,
    next_draw: Vec<f64>,
}

/// The critic's loss, penalty and gradient norms, its parameter gradients, its running
/// statistics afterwards and the run's next random draw.
fn critic_step(gan: &mut Gan, real: &Tensor<4>, fake: &Tensor<4>) -> Outcome {
    let (loss, penalty, norms) = gan.critic_loss(real.clone(), fake.clone());
    let total = match &penalty {
        Some(p) => loss.clone() + p.clone(),
        None => loss.clone(),
    };
    let grads = GradientsParams::from_grads(total.backward(), &gan.d);
    let mut figures = vec![to_vec64(loss)[0]];
    figures.extend(penalty.map(|p| to_vec64(p)[0]));
    for n in norms.expect("diagnostics are on") {
        figures.push(to_vec64(n)[0]);
    }
    let grads = grads_of(&gan.d, &grads);
    assert_eq!(
        grads.len(),
        values_of(&gan.d, true).len(),
        "every critic parameter has a gradient"
    );
    let state = values_of(&gan.d, false)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let next_draw = to_vec64(gan.rng.uniform_tensor([3], 0.0, 1.0, &gan.device));
    Outcome {
        figures,
        grads,
        state,
        next_draw,
    }
}

fn penalties() -> Vec<Option<GradientPenalty>> {
    let p = |norm, form, at| {
        Some(GradientPenalty {
            norm,
            form,
            at,
            weight: 20.0,
        })
    };
    vec![
        p(Norm::Linf, Form::Hinge, Where::Interpolates),
        p(Norm::L2, Form::Ls, Where::RealPerturbed),
        p(Norm::L1, Form::ZeroCentered, Where::Real),
        p(Norm::L2, Form::SquaredHinge, Where::Fake),
        None,
    ]
}

/// One pass against one pass per batch, for every kind of penalty point and without a
/// penalty, with a plain and a relativistic loss.
fn one_pass_matches_separate_passes(device: &Device, tol: f64) {
    let mut checked = 0;
    for loss in [GanLoss::Hinge, GanLoss::RaLsgan] {
        for penalty in penalties() {
            let what = format!("{loss:?}, {penalty:?}");
            let mut data = Rng::new(7);
            let real = data.uniform_tensor([BATCH, 3, 32, 32], -1.0, 1.0, device);
            let fake = data.uniform_tensor([BATCH, 3, 32, 32], -1.0, 1.0, device);
            let mut one = gan(device, loss, penalty.clone(), true);
            let mut separate = gan(device, loss, penalty.clone(), false);
            assert!(
                one.d.can_trace_groups(),
                "a BatchNorm critic takes one pass"
            );
            let a = critic_step(&mut one, &real, &fake);
            let b = critic_step(&mut separate, &real, &fake);
            let e = rel_err(&a.figures, &b.figures);
            assert!(
                e <= tol,
                "{what}: loss, penalty, norms {:?} vs {:?}",
                a.figures,
                b.figures
            );
            if let Some(p) = &penalty {
                // The steepened critic makes the penalty take part.
                assert!(
                    a.figures[1] > 1e-3,
                    "{what}: penalty {} is inactive",
                    a.figures[1]
                );
                assert!(p.weight > 0.0);
            }
            assert_eq!(a.grads.len(), b.grads.len());
            for (i, (x, y)) in a.grads.iter().zip(&b.grads).enumerate() {
                let e = rel_err(x, y);
                assert!(
                    e <= tol,
                    "{what}: gradient of parameter {i}: relative error {e:.2e}"
                );
            }
            assert_eq!(
                a.state.len(),
                4,
                "{what}: two BatchNorms' running mean and variance"
            );
            for (i, (x, y)) in a.state.iter().zip(&b.state).enumerate() {
                let e = rel_err(x, y);
                assert!(
                    e <= tol,
                    "{what}: running statistic {i}: relative error {e:.2e}"
                );
            }
            assert_eq!(a.next_draw, b.next_draw, "{what}: the same random draws");
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

#[test]
fn one_critic_pass_matches_separate_passes_on_cpu() {
    one_pass_matches_separate_passes(&common::device(), 1e-4);
}

#[cfg(feature = "wgpu")]
#[test]
fn one_critic_pass_matches_separate_passes_on_wgpu() {
    let Some(gpu) = common::gpu() else { return };
    one_pass_matches_separate_passes(&gpu, 1e-4);
}

/// Whole training steps (critic and generator, with Adam) stay together.
#[test]
fn steps_with_one_critic_pass_follow_separate_passes() {
    let device = common::device();
    let penalty = Some(GradientPenalty::default());
    let mut one = gan(&device, GanLoss::Hinge, penalty.clone(), true);
    let mut separate = gan(&device, GanLoss::Hinge, penalty, false);
    let batch = |rng: &mut Rng| rng.uniform_tensor([BATCH, 3, 32, 32], -1.0, 1.0, &device);
    for i in 0..3 {
        let a = one.step(batch).expect("finite");
        let b = separate.step(batch).expect("finite");
        let (a, b) = (
            [
                a.d_loss,
                a.g_loss,
                a.penalty,
                a.grad_norm_real,
                a.grad_norm_fake,
            ],
            [
                b.d_loss,
                b.g_loss,
                b.penalty,
                b.grad_norm_real,
                b.grad_norm_fake,
            ],
        );
        let e = rel_err(&a, &b);
        assert!(e <= 1e-3, "step {i}: {a:?} vs {b:?}");
        assert!(a[2] > 0.0, "step {i}: the penalty takes part");
    }
}

/// A grouped trace's backward passes are those of each group's own trace.
#[test]
fn grouped_trace_backward_matches_each_group() {
    let device = common::device();
    let cfg = DcganConfig::new().with_width(8).with_z_dim(16);
    let d = || cfg.init_discriminator(&device, &mut Rng::new(3));
    let mut rng = Rng::new(4);
    let x = rng.uniform_tensor([3 * BATCH, 3, 32, 32], -1.0, 1.0, &device);
    let gy = rng.normal_tensor([3 * BATCH, 1, 1, 1], 0.0, 1.0, &device);
    let grouped = d();
    let trace = grouped.trace_groups(x.clone(), Mode::Train, 3);
    let gx = grouped.backward_input(&trace, gy.clone());
    let (params, gx2) = grouped.backward_params(&trace, gy.clone());
    let each = d();
    let mut parts = Vec::new();
    let mut sums = GradientsParams::new();
    for g in 0..3 {
        let rows = g * BATCH..(g + 1) * BATCH;
        let t = each.trace(x.clone().slice(rows.clone()), Mode::Train);
        let part = each.backward_input(&t, gy.clone().slice(rows.clone()));
        let (p, _) = each.backward_params(&t, gy.clone().slice(rows.clone()));
        assert!(
            rel_err(&to_vec64(trace.group(g).output()), &to_vec64(t.output())) < 1e-5,
            "group {g}'s output"
        );
        parts.push(part);
        add_into(&each, &mut sums, &p);
    }
    let expected = to_vec64(Tensor::cat(parts, 0));
    assert!(rel_err(&to_vec64(gx), &expected) < 1e-5, "input gradient");
    assert!(
        rel_err(&to_vec64(gx2), &expected) < 1e-5,
        "input gradient of backward_params"
    );
    let (a, b) = (grads_of(&grouped, &params), grads_of(&each, &sums));
    assert_eq!(a.len(), values_of(&grouped, true).len(), "every parameter");
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(rel_err(x, y) < 1e-4, "parameter {i}: {:.2e}", rel_err(x, y));
    }
}

/// Adds `from`'s gradient of every parameter of `net` into `to`.
fn add_into(net: &Network, to: &mut GradientsParams, from: &GradientsParams) {
    struct Add<'a>(&'a mut GradientsParams, &'a GradientsParams);
    impl ModuleVisitor for Add<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.1.get::<D>(param.id) {
                accumulate(self.0, param.id, g);
            }
        }
    }
    net.visit(&mut Add(to, from));
}

/// A critic with spectral normalisation cannot take one pass (its power iteration would move
/// once instead of once per batch): the run falls back to separate passes.
#[test]
fn spectral_critic_takes_separate_passes() {
    let device = common::device();
    let cfg = DcganConfig::new()
        .with_width(8)
        .with_z_dim(16)
        .with_spectral_d(true);
    let d = cfg.init_discriminator(&device, &mut Rng::new(5));
    assert!(!d.can_trace_groups());
    let x = Rng::new(6).uniform_tensor([2 * BATCH, 3, 32, 32], -1.0, 1.0, &device);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        d.trace_groups(x.clone(), Mode::Train, 2)
    }));
    assert!(refused.is_err(), "trace_groups refuses a spectral critic");
    let g = cfg.init_generator(&device, &mut Rng::new(7));
    let mut gan = Gan::new(
        g,
        d,
        GanConfig {
            z_dim: 16,
            ..GanConfig::default()
        },
        Rng::new(8),
        device.clone(),
    );
    assert!(gan.one_critic_pass);
    let (loss, penalty, _) = gan.critic_loss(x.clone().slice(0..BATCH), x.slice(BATCH..2 * BATCH));
    assert!(to_vec64(loss)[0].is_finite() && to_vec64(penalty.unwrap())[0].is_finite());
}
