//! The mean-terms kernel (a GAN loss or a penalty form in one launch each way):
//! - everywhere (CPU): each loss's and penalty form's terms, run through the plain-tensor
//!   reference, give the value and the input gradient of the loss written in tensor ops
//!   (`losses.rs`, `Form::apply`), kinks included;
//! - on wgpu (lavapipe in CI): the kernel against the reference, value and gradient, for every φ,
//!   one and two groups per term, group sizes around the workgroup's 256.
//!
//! Run with `cargo test --release -p margan --features wgpu --test mean_terms_kernel`.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{assert_close, device};
use margan::kernels::mean_terms::{mean_terms_reference, MeanTerms};
#[cfg(feature = "wgpu")]
use margan::kernels::mean_terms::{MeanTerm, Phi};
use margan::losses::GanLoss;
use margan::penalty::Form;
use margan::rng::Rng;

/// `n` values around 0 and ±1 (the losses' kinks), with exact kinks mixed in: 1, −1, 0.
fn values(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n)
        .map(|i| match i % 7 {
            0 => 1.0,
            1 => -1.0,
            2 => 0.0,
            _ => (rng.normal() * 1.5) as f32,
        })
        .collect()
}

fn tensor(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device).require_grad()
}

/// `(value, ∂value/∂x)` of `f` at `x`.
fn value_and_grad(
    x: &[f32],
    device: &Device,
    f: impl Fn(Tensor<1>) -> Tensor<1>,
) -> (Tensor<1>, Tensor<1>) {
    let x = tensor(x, device);
    let y = f(x.clone());
    let grads = y.backward();
    let g = x.grad(&grads).expect("x has a gradient");
    (y.detach(), g)
}

#[test]
fn loss_terms_match_the_losses() {
    let device = device();
    let mut rng = Rng::new(5);
    let n = 9;
    let mut checked = 0;
    for loss in GanLoss::ALL {
        // A pass over real, fake and penalty points: the loss reads the first two groups.
        let x = values(3 * n, &mut rng);
        match loss.d_terms() {
            Some(terms) => {
                let spec = MeanTerms { groups: 3, terms };
                let ours = value_and_grad(&x, &device, |x| mean_terms_reference(x, &spec));
                let theirs = value_and_grad(&x, &device, |x| {
                    loss.d_loss(x.clone().slice(0..n), x.slice(n..2 * n))
                });
                let what = format!("{} critic loss", loss.name());
                assert_close(ours.0, theirs.0, 1e-6, &what);
                assert_close(ours.1, theirs.1, 1e-6, &format!("{what}, gradient"));
                checked += 1;
            }
            None => assert!(
                loss.name().starts_with("ra"),
                "{} has no terms",
                loss.name()
            ),
        }
        let f = values(n, &mut rng);
        match loss.g_terms() {
            Some(terms) => {
                let spec = MeanTerms { groups: 1, terms };
                let ours = value_and_grad(&f, &device, |x| mean_terms_reference(x, &spec));
                let theirs = value_and_grad(&f, &device, |x| loss.g_loss(x.clone(), x));
                let what = format!("{} generator loss", loss.name());
                assert_close(ours.0, theirs.0, 1e-6, &what);
                assert_close(ours.1, theirs.1, 1e-6, &format!("{what}, gradient"));
                checked += 1;
            }
            None => assert!(loss.is_relativistic(), "{} has no terms", loss.name()),
        }
    }
    assert_eq!(
        checked,
        7 + 4,
        "critic losses with terms + generator losses with terms"
    );
}

#[test]
fn penalty_form_terms_match_the_forms() {
    let device = device();
    let mut rng = Rng::new(6);
    // Norms: positive, some exactly 1 (the kink of the hinge forms), one 0.
    let mut norms: Vec<f32> = values(20, &mut rng).iter().map(|v| v.abs() + 0.2).collect();
    norms[0] = 1.0;
    norms[1] = 0.0;
    for form in [
        Form::Ls,
        Form::Hinge,
        Form::SquaredHinge,
        Form::ZeroCentered,
    ] {
        let spec = MeanTerms {
            groups: 1,
            terms: vec![form.term(20.0)],
        };
        let ours = value_and_grad(&norms, &device, |x| mean_terms_reference(x, &spec));
        let theirs = value_and_grad(&norms, &device, |x| form.apply(x).mean().mul_scalar(20.0));
        assert_close(ours.0, theirs.0, 1e-6, &format!("{form:?}"));
        assert_close(ours.1, theirs.1, 1e-6, &format!("{form:?}, gradient"));
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use common::gpu;
    use margan::kernels::mean_terms::mean_terms_kernel;

    /// Specs covering every φ, one and two groups per term, negative and fractional scales.
    fn specs() -> Vec<MeanTerms> {
        use Phi::*;
        let mut out = Vec::new();
        for phi in [Identity, Relu, Square, ReluSquare, Softplus] {
            out.push(MeanTerms {
                groups: 1,
                terms: vec![MeanTerm::new(-0.75, phi, 0, 1.5, -1.0)],
            });
            out.push(MeanTerms {
                groups: 3,
                terms: vec![
                    MeanTerm::new(1.0, phi, 1, -1.0, 1.0),
                    MeanTerm::paired(2.0, phi, (0, 1.0), (1, -1.0), -1.0),
                    MeanTerm::new(0.5, Relu, 0, 1.0, 0.0),
                ],
            });
        }
        out
    }

    #[test]
    fn mean_terms_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(7);
        let mut cases = 0;
        for spec in specs() {
            for n in [1, 5, 256, 257, 1000] {
                let x = values(spec.groups * n, &mut rng);
                let what = format!("{spec:?}, {n} per group");
                let (v, g) = value_and_grad(&x, &gpu, |x| mean_terms_kernel(x, &spec));
                let (v_ref, g_ref) = value_and_grad(&x, &gpu, |x| mean_terms_reference(x, &spec));
                assert_close(v, v_ref, 1e-5, &what);
                assert_close(g, g_ref, 1e-5, &format!("{what}, gradient"));
                cases += 1;
            }
        }
        assert_eq!(cases, 50);
    }

    /// The losses as the GAN runs them on wgpu (`d_loss_in_pass`, `g_loss_from_fake`: the kernel)
    /// against the tensor-op losses on the CPU.
    #[test]
    fn losses_in_pass_on_wgpu_match_the_cpu() {
        let Some(gpu) = gpu() else { return };
        let cpu = device();
        let mut rng = Rng::new(8);
        let n = 64;
        for loss in GanLoss::ALL {
            let x = values(3 * n, &mut rng);
            let what = format!("{} critic loss", loss.name());
            let (v, g) = value_and_grad(&x, &gpu, |x| loss.d_loss_in_pass(x, 3));
            let (v_ref, g_ref) = value_and_grad(&x, &cpu, |x| {
                loss.d_loss(x.clone().slice(0..n), x.slice(n..2 * n))
            });
            assert_close(v.to_device(&cpu), v_ref, 1e-5, &what);
            assert_close(g.to_device(&cpu), g_ref, 1e-5, &format!("{what}, gradient"));
            if !loss.is_relativistic() {
                let f = values(n, &mut rng);
                let what = format!("{} generator loss", loss.name());
                let (v, g) = value_and_grad(&f, &gpu, |x| loss.g_loss_from_fake(x).unwrap());
                let (v_ref, g_ref) = value_and_grad(&f, &cpu, |x| loss.g_loss(x.clone(), x));
                assert_close(v.to_device(&cpu), v_ref, 1e-5, &what);
                assert_close(g.to_device(&cpu), g_ref, 1e-5, &format!("{what}, gradient"));
            }
        }
    }
}
