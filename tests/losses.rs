//! Every loss against its closed form on hand-written logits.

mod common;

use burn::tensor::Tensor;
use common::device;
use margan::device::scalar;
use margan::GanLoss;

const REAL: [f64; 4] = [1.5, -0.3, 0.8, 2.2];
const FAKE: [f64; 4] = [-1.2, 0.4, -0.1, 0.9];

fn sp(x: f64) -> f64 {
    (1.0 + x.exp()).ln()
}
fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    v.iter().sum::<f64>() / v.len() as f64
}
fn pairs() -> impl Iterator<Item = (f64, f64)> {
    REAL.into_iter().zip(FAKE)
}
fn r() -> impl Iterator<Item = f64> {
    REAL.into_iter()
}
fn f() -> impl Iterator<Item = f64> {
    FAKE.into_iter()
}

/// (D loss, G loss) in closed form.
fn closed_form(loss: GanLoss) -> (f64, f64) {
    let (mr, mf) = (mean(r()), mean(f()));
    let relu = |x: f64| x.max(0.0);
    match loss {
        GanLoss::Sgan => (
            mean(r().map(|x| sp(-x))) + mean(f().map(sp)),
            mean(f().map(|x| sp(-x))),
        ),
        GanLoss::Lsgan => (
            mean(r().map(|x| (x - 1.0).powi(2))) + mean(f().map(|x| x * x)),
            mean(f().map(|x| (x - 1.0).powi(2))),
        ),
        GanLoss::Hinge => (
            mean(r().map(|x| relu(1.0 - x))) + mean(f().map(|x| relu(1.0 + x))),
            -mf,
        ),
        GanLoss::Wgan => (mf - mr, -mf),
        GanLoss::RpSgan => (
            2.0 * mean(pairs().map(|(a, b)| sp(-(a - b)))),
            mean(pairs().map(|(a, b)| sp(-(b - a)))),
        ),
        GanLoss::RpLsgan => (
            2.0 * mean(pairs().map(|(a, b)| (a - b - 1.0).powi(2))),
            mean(pairs().map(|(a, b)| (b - a - 1.0).powi(2))),
        ),
        GanLoss::RpHinge => (
            2.0 * mean(pairs().map(|(a, b)| relu(1.0 - (a - b)))),
            mean(pairs().map(|(a, b)| relu(1.0 - (b - a)))),
        ),
        GanLoss::RaSgan => (
            mean(r().map(|x| sp(-(x - mf)))) + mean(f().map(|x| sp(x - mr))),
            mean(r().map(|x| sp(x - mf))) + mean(f().map(|x| sp(-(x - mr)))),
        ),
        GanLoss::RaLsgan => (
            mean(r().map(|x| (x - mf - 1.0).powi(2))) + mean(f().map(|x| (x - mr + 1.0).powi(2))),
            mean(r().map(|x| (x - mf + 1.0).powi(2))) + mean(f().map(|x| (x - mr - 1.0).powi(2))),
        ),
        GanLoss::RaHinge => (
            mean(r().map(|x| relu(1.0 - (x - mf)))) + mean(f().map(|x| relu(1.0 + (x - mr)))),
            mean(r().map(|x| relu(1.0 + (x - mf)))) + mean(f().map(|x| relu(1.0 - (x - mr)))),
        ),
    }
}

#[test]
fn every_loss_equals_its_closed_form() {
    let dev = device();
    let t = |v: [f64; 4]| Tensor::<1>::from_floats(v.map(|x| x as f32), &dev);
    for loss in GanLoss::ALL {
        let (d, g) = closed_form(loss);
        let (dd, gg) = (
            scalar(loss.d_loss(t(REAL), t(FAKE))),
            scalar(loss.g_loss(t(REAL), t(FAKE))),
        );
        assert!(
            (dd - d).abs() < 1e-5 * d.abs().max(1.0),
            "{loss:?} D: {dd} vs {d}"
        );
        assert!(
            (gg - g).abs() < 1e-5 * g.abs().max(1.0),
            "{loss:?} G: {gg} vs {g}"
        );
    }
}

#[test]
fn sgan_is_stable_for_large_logits() {
    let dev = device();
    let big = Tensor::<1>::from_floats([80.0f32, -80.0], &dev);
    let v = scalar(GanLoss::Sgan.d_loss(big.clone(), big.clone().neg()));
    assert!(v.is_finite() && (v - 80.0).abs() < 1e-3, "{v}");
}

#[test]
fn names_round_trip_and_unknown_names_are_rejected() {
    for loss in GanLoss::ALL {
        assert_eq!(loss.name().parse::<GanLoss>().unwrap(), loss);
    }
    assert_eq!("HingeGAN".parse::<GanLoss>().unwrap(), GanLoss::Hinge);
    let err = "hingee".parse::<GanLoss>().unwrap_err().to_string();
    assert!(
        err.contains("unknown loss") && err.contains("rahinge"),
        "{err}"
    );
}
