//! The fused Adam step: its plain-tensor reference against burn's `Adam` and PyTorch's formula
//! (CPU); the fused step against the reference, and the optimiser against burn's `Adam` on a
//! network, records included — on the flex CPU backend (one loop) and on wgpu (the WGSL kernel;
//! Mesa lavapipe in CI; without an adapter those print why and pass, except when
//! `MARGAN_REQUIRE_GPU=1`).

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use common::{rel_err, to_vec64};
use margan::kernels::adam::{adam_step_kernel, adam_step_reference, runs_fused, AdamScalars};
use margan::layers::{Mode, Network};
use margan::optim::FusedAdamConfig;
use margan::rng::Rng;

const BETAS: (f32, f32) = (0.5, 0.999);
const EPS: f32 = 1e-8;

/// A gradient with exact zeros every 5th entry (there `v` stays 0 on the first step and the
/// update is `0 / ε̂`) and a wide range of magnitudes.
fn gradient<const D: usize>(shape: [usize; D], rng: &mut Rng, device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| {
            if i % 5 == 0 {
                0.0
            } else {
                (rng.normal() * 10f64.powi((i % 7) as i32 - 3)) as f32
            }
        })
        .collect();
    Tensor::<1>::from_data(TensorData::new(v, [n]), device).reshape(shape)
}

#[test]
fn adam_reference_matches_burn_adam_and_pytorch() {
    let device = common::device();
    let mut rng = Rng::new(5);
    let lr = 1e-2;
    let adam = AdamConfig::new()
        .with_beta_1(BETAS.0)
        .with_beta_2(BETAS.1)
        .with_epsilon(EPS)
        .build();
    let p0 = rng.normal_tensor([4, 3, 2, 5], 0.0, 1.0, &device).detach();
    let (mut pb, mut state) = (p0.clone(), None);
    let (mut pr, mut m, mut v) = (p0.clone(), p0.zeros_like(), p0.zeros_like());
    // PyTorch's Adam in f64: m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), p −= lr·m̂/(√v̂ + ε).
    let mut pt = to_vec64(p0.clone());
    let (mut mt, mut vt) = (vec![0.0; pt.len()], vec![0.0; pt.len()]);
    let (b1, b2) = (BETAS.0 as f64, BETAS.1 as f64);
    for t in 1..=4 {
        let g = gradient([4, 3, 2, 5], &mut rng, &device);
        let (p, s) = adam.step(lr, pb, g.clone(), state);
        (pb, state) = (p, s);
        let sc = AdamScalars::new(BETAS.0, BETAS.1, EPS, t, lr);
        (pr, m, v) = adam_step_reference(pr, g.clone(), m, v, &sc);
        for (i, gi) in to_vec64(g).into_iter().enumerate() {
            mt[i] = b1 * mt[i] + (1.0 - b1) * gi;
            vt[i] = b2 * vt[i] + (1.0 - b2) * gi * gi;
            let (mh, vh) = (
                mt[i] / (1.0 - b1.powi(t as i32)),
                vt[i] / (1.0 - b2.powi(t as i32)),
            );
            pt[i] -= lr * mh / (vh.sqrt() + EPS as f64);
        }
        let s = state.as_ref().expect("Adam keeps a state");
        assert_eq!(s.momentum.time, t, "step counter");
        let e = rel_err(&to_vec64(pr.clone()), &to_vec64(pb.clone()));
        assert!(
            e <= 1e-7,
            "step {t}: reference vs burn's Adam, parameters: {e:.2e}"
        );
        let e = rel_err(&to_vec64(m.clone()), &to_vec64(s.momentum.moment_1.clone()));
        assert!(e <= 1e-7, "step {t}: first moment: {e:.2e}");
        let e = rel_err(&to_vec64(v.clone()), &to_vec64(s.momentum.moment_2.clone()));
        assert!(e <= 1e-7, "step {t}: second moment: {e:.2e}");
        // Against PyTorch's formula: compare the updates (p − p₀), f32 rounding aside.
        let p0v = to_vec64(p0.clone());
        let ours: Vec<f64> = to_vec64(pr.clone())
            .iter()
            .zip(&p0v)
            .map(|(a, b)| a - b)
            .collect();
        let torch: Vec<f64> = pt.iter().zip(&p0v).map(|(a, b)| a - b).collect();
        let e = rel_err(&ours, &torch);
        assert!(
            e <= 1e-4,
            "step {t}: update vs PyTorch's Adam formula: {e:.2e}"
        );
    }
}

/// Every float parameter of a module, flattened.
struct Params(Vec<Vec<f64>>);

impl ModuleVisitor for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(to_vec64(param.val()));
    }
}

fn params(net: &Network) -> Vec<Vec<f64>> {
    let mut p = Params(Vec::new());
    net.visit(&mut p);
    p.0
}

/// `steps` Adam updates of a small DCGAN critic on `loss = Σ D(x)²`, fresh data each step.
fn train(net: Network, opt: &mut ModuleOptimizer, steps: usize, seed: u64) -> Network {
    let device = net.devices()[0].clone();
    let mut rng = Rng::new(seed);
    let mut net = net;
    for _ in 0..steps {
        let x = rng.uniform_tensor([3, 3, 32, 32], -1.0, 1.0, &device);
        let loss = net.forward(x, Mode::Train).square().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = opt.step(2e-3, net, grads);
    }
    net
}

fn critic(device: &Device) -> Network {
    margan::nets::DcganConfig::new()
        .with_width(8)
        .init_discriminator(device, &mut Rng::new(3))
}

fn assert_params_close(a: &Network, b: &Network, tol: f64, what: &str) {
    let (a, b) = (params(a), params(b));
    assert_eq!(a.len(), b.len(), "{what}: parameter count");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let e = rel_err(x, y);
        assert!(
            e <= tol,
            "{what}: parameter {i}: relative error {e:.2e} > {tol:.0e}"
        );
    }
}

/// Three fused steps on `fused` against the reference on `cpu`. With `perm`, the gradient is a
/// permuted (non-contiguous) view of a tensor laid out differently, as burn's matrix products
/// sometimes return weight gradients.
fn check<const D: usize>(
    shape: [usize; D],
    perm: Option<[usize; D]>,
    fused: &Device,
    cpu: &Device,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product::<usize>();
    let p0: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let on =
        |d: &Device| Tensor::<1>::from_data(TensorData::new(p0.clone(), [n]), d).reshape(shape);
    let (mut pk, mut mk, mut vk) = (on(fused), on(fused).zeros_like(), on(fused).zeros_like());
    let (mut pr, mut mr, mut vr) = (on(cpu), on(cpu).zeros_like(), on(cpu).zeros_like());
    for t in 1..=3 {
        let (gk, gr) = match perm {
            None => {
                let g = gradient(shape, &mut rng, cpu);
                (Tensor::from_data(g.to_data(), fused), g)
            }
            Some(axes) => {
                let mut src = [0; D];
                for (k, &a) in axes.iter().enumerate() {
                    src[a] = shape[k];
                }
                let g = gradient(src, &mut rng, cpu);
                let gk = Tensor::<D>::from_data(g.to_data(), fused).permute(axes);
                (gk, g.permute(axes))
            }
        };
        assert_eq!(gk.dims(), shape);
        let s = AdamScalars::new(BETAS.0, BETAS.1, EPS, t, 1e-2);
        (pk, mk, vk) = adam_step_kernel(pk, gk, mk, vk, &s);
        (pr, mr, vr) = adam_step_reference(pr, gr, mr, vr, &s);
        for (what, k, r) in [("p", &pk, &pr), ("m", &mk, &mr), ("v", &vk, &vr)] {
            let e = rel_err(&to_vec64(k.clone()), &to_vec64(r.clone()));
            assert!(
                e <= 1e-6,
                "{shape:?} (perm {perm:?}) step {t}: {what}: kernel vs reference {e:.2e}"
            );
        }
    }
}

/// The fused step against the reference: sizes around the WGSL workgroup and beyond, 4-D
/// shapes, and strided gradients (a transposed matrix, conv weight gradients laid out
/// `[k, k, C_out, C_in]`).
fn check_all(fused: &Device) {
    let cpu = margan::device::cpu();
    for (i, n) in [1usize, 7, 255, 256, 257, 70_001].into_iter().enumerate() {
        check([n], None, fused, &cpu, i as u64);
    }
    check([5, 3, 4, 4], None, fused, &cpu, 10);
    check([64, 128], None, fused, &cpu, 11);
    check([64, 129], Some([1, 0]), fused, &cpu, 12);
    check([5, 3, 4, 4], Some([2, 3, 0, 1]), fused, &cpu, 13);
    check([7, 3, 4, 4], Some([3, 0, 1, 2]), fused, &cpu, 14);
    shared_inputs_unchanged(fused);
}

/// A step whose parameter and moments are also held elsewhere leaves those alone (the flex loop
/// writes in place only into tensors it holds alone) and still takes the reference's values.
fn shared_inputs_unchanged(fused: &Device) {
    let mut rng = Rng::new(15);
    let shape = [3, 5, 7];
    let [p, m, g] = [0; 3].map(|_| gradient(shape, &mut rng, fused));
    let v = m.clone().square();
    let held = [p.clone(), m.clone(), v.clone()];
    let values = held.clone().map(to_vec64);
    let s = AdamScalars::new(BETAS.0, BETAS.1, EPS, 4, 1e-2);
    let (pk, mk, vk) = adam_step_kernel(p.clone(), g.clone(), m.clone(), v.clone(), &s);
    let (pr, mr, vr) = adam_step_reference(p, g, m, v, &s);
    for (what, k, r) in [("p", pk, pr), ("m", mk, mr), ("v", vk, vr)] {
        let e = rel_err(&to_vec64(k), &to_vec64(r));
        assert!(
            e <= 1e-6,
            "shared inputs: {what}: kernel vs reference {e:.2e}"
        );
    }
    for ((t, before), what) in held.into_iter().zip(values).zip(["p", "m", "v"]) {
        assert_eq!(
            to_vec64(t),
            before,
            "the step changed another reference to {what}"
        );
    }
}

/// Four steps of the fused optimiser against burn's `Adam` on a critic on `device`.
fn fused_against_burn_adam(device: &Device) {
    let config = FusedAdamConfig::default().with_betas(BETAS.0, BETAS.1);
    let probe = Tensor::<1>::zeros([4], device).inner();
    assert!(
        config.build().uses_kernel(&probe),
        "the fused step runs here"
    );
    assert!(!config.with_fused(false).build().uses_kernel(&probe));
    let fused = train(critic(device), &mut config.init(), 4, 1);
    let plain = train(critic(device), &mut config.with_fused(false).init(), 4, 1);
    assert_params_close(&fused, &plain, 1e-5, "fused vs burn's Adam, 4 steps");
}

/// A fused optimiser's record resumes exactly in a fresh one, and in burn's `Adam` to 1e-5.
fn record_round_trips(device: &Device) {
    let config = FusedAdamConfig::default().with_betas(BETAS.0, BETAS.1);
    let mut opt = config.init();
    let net = train(critic(device), &mut opt, 2, 1);
    let bytes = opt.into_bytes().expect("optimiser record");
    let cont = train(net.clone(), &mut opt, 1, 2);
    // The record loads into a fresh fused optimiser and into burn's own Adam alike.
    let mut reloaded = config.init().from_bytes(bytes.clone()).expect("reload");
    let resumed = train(net.clone(), &mut reloaded, 1, 2);
    assert_params_close(&resumed, &cont, 0.0, "fused, resumed from its record");
    let mut burn_adam = AdamConfig::new()
        .with_beta_1(BETAS.0)
        .with_beta_2(BETAS.1)
        .with_epsilon(EPS)
        .init()
        .from_bytes(bytes)
        .expect("burn's Adam reads the record");
    let by_burn = train(net.clone(), &mut burn_adam, 1, 2);
    assert_params_close(
        &by_burn,
        &cont,
        1e-5,
        "burn's Adam, resumed from the fused record",
    );
    // Without the moments the step differs: the record carried them.
    let fresh = train(net, &mut config.init(), 1, 2);
    let differs = params(&fresh)
        .iter()
        .zip(params(&cont).iter())
        .any(|(a, b)| rel_err(a, b) > 1e-4);
    assert!(
        differs,
        "a fresh optimiser should step differently from the resumed one"
    );
}

#[test]
fn adam_step_on_flex_matches_reference() {
    check_all(&margan::device::cpu());
}

#[test]
fn fused_adam_on_flex_matches_burn_adam_on_a_network() {
    let cpu = margan::device::cpu();
    assert!(runs_fused(&Tensor::<1>::zeros([4], &cpu)));
    assert!(!runs_fused(
        &Tensor::<1>::zeros([4], &cpu).cast(burn::tensor::DType::F64)
    ));
    fused_against_burn_adam(&cpu);
    // Not on burn's ndarray backend: there it is burn's `Adam`.
    #[cfg(feature = "ndarray")]
    {
        let nd = margan::device::ndarray().expect("the ndarray backend");
        assert!(!runs_fused(&Tensor::<1>::zeros([4], &nd)));
    }
}

#[test]
fn fused_adam_record_round_trips_on_flex() {
    // burn's `ModuleOptimizer::from_bytes` puts the loaded state on burn's default device, which
    // in a wgpu build is wgpu: that would start the wgpu runtime with burn's settings, and
    // margan's own set-up (`margan::device::wgpu`, which the wgpu tests of this binary call)
    // would then be refused. A process that uses wgpu sets margan's up first (the trainer's
    // does); so does this one.
    #[cfg(feature = "wgpu")]
    let _ = common::gpu();
    record_round_trips(&margan::device::cpu());
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use common::gpu;

    #[test]
    fn adam_step_kernel_matches_reference() {
        if margan::device::FUSION {
            eprintln!("SKIPPED: under burn's fusion FusedAdam leaves Adam to fusion and the kernel is not registered with it");
            return;
        }
        let Some(gpu) = gpu() else { return };
        check_all(&gpu);
    }

    #[test]
    fn fused_adam_matches_burn_adam_on_a_network() {
        let Some(gpu) = gpu() else { return };
        if margan::device::FUSION {
            let probe = Tensor::<1>::zeros([4], &gpu).inner();
            assert!(
                !FusedAdamConfig::default().build().uses_kernel(&probe),
                "under burn's fusion, burn's Adam"
            );
            return;
        }
        fused_against_burn_adam(&gpu);
    }

    #[test]
    fn fused_adam_record_round_trips() {
        let Some(gpu) = gpu() else { return };
        record_round_trips(&gpu);
    }
}
