//! One full penalised GAN step (critic: HingeGAN + L∞ hinge penalty at interpolates, λ = 20;
//! then the generator) from fixed weights and data, and the comparison of two such steps on
//! different backends: losses, penalty and every parameter gradient.

use super::{rel_err, to_vec64};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use margan::gan::{Gan, GanConfig};
use margan::layers::{Mode, Network};
use margan::nets::DcganConfig;
use margan::rng::Rng;
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};
use serde_json::json;

struct Collect<'a> {
    grads: &'a GradientsParams,
    out: Vec<Vec<f64>>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.out.push(to_vec64(g));
        }
    }
}

/// The float tensors of a module with their shapes, in visiting order (layer by layer): the
/// trainable parameters (a BatchNorm's γ before its β, as PyTorch lists its weight before its
/// bias) or the rest, its state (BatchNorm's running statistics, spectral normalisation's
/// singular-vector estimates `u` then `v`).
struct Values {
    trainable: bool,
    out: Vec<(Vec<usize>, Vec<f64>)>,
}

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param.val();
        if v.is_require_grad() == self.trainable {
            self.out.push((v.dims().to_vec(), to_vec64(v)));
        }
    }
}

pub fn values_of(net: &Network, trainable: bool) -> Vec<(Vec<usize>, Vec<f64>)> {
    let mut v = Values {
        trainable,
        out: Vec::new(),
    };
    net.visit(&mut v);
    v.out
}

pub fn grads_of(net: &Network, grads: &GradientsParams) -> Vec<Vec<f64>> {
    let mut c = Collect {
        grads,
        out: Vec::new(),
    };
    net.visit(&mut c);
    c.out
}

/// Multiplies every trainable parameter by `k`: DCGAN's N(0, 0.02) initialisation gives
/// input gradients far below 1, where the hinge penalty is inactive; a steeper critic puts the
/// L∞ gradient norm above 1 so that the penalty and its kernel backward take part.
pub struct Steepen(pub f64);

impl ModuleMapper for Steepen {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if !param.val().is_require_grad() {
            return param;
        }
        let k = self.0;
        Param::initialized(
            param.id,
            param.val().detach().mul_scalar(k).detach().require_grad(),
        )
    }
}

pub const STEEPEN: f64 = 4.0;

/// What a step started from: both networks' parameters (shape, values), the real batch, the
/// latent batch, and what the penalty drew from the generator (for interpolates, the weights
/// `u`; for DRAGAN, the uniform noise and then `u`).
pub struct StepInputs {
    g_params: Vec<(Vec<usize>, Vec<f64>)>,
    d_params: Vec<(Vec<usize>, Vec<f64>)>,
    d_state: Vec<(Vec<usize>, Vec<f64>)>,
    real: (Vec<usize>, Vec<f64>),
    z: (Vec<usize>, Vec<f64>),
    u: Vec<f64>,
    noise: Vec<f64>,
}

pub struct StepResult {
    /// Mean L∞ gradient norm at real and fake samples.
    norms: [f64; 2],
    d_loss: f64,
    penalty: f64,
    g_loss: f64,
    d_grads: Vec<Vec<f64>>,
    g_grads: Vec<Vec<f64>>,
}

/// The paper's setting: L∞ hinge penalty at interpolates, λ = 20.
pub const PAPER_PENALTY: GradientPenalty = GradientPenalty {
    norm: Norm::Linf,
    form: Form::Hinge,
    at: Where::Interpolates,
    weight: LAMBDA,
};

/// The critic and generator losses of one step (HingeGAN, [`PAPER_PENALTY`]) and their
/// parameter gradients.
pub fn step(device: &Device) -> StepResult {
    step_from(device, GanLoss::Hinge, &PAPER_PENALTY, false, false).0
}

/// DCGAN-32 sizes of the step: width, latent size, batch, LeakyReLU slope, λ.
const WIDTH: usize = 8;
const Z_DIM: usize = 16;
const BATCH: usize = 4;
const SLOPE: f64 = 0.2;
const LAMBDA: f64 = 20.0;

/// [`step`] with any loss and penalty, a spectrally normalised critic (without BatchNorm) if
/// `spectral`, the critic's loss and penalty from one pass over real, fake and penalty points
/// if `one_pass` (`Network::trace_groups`, as `Gan` runs a critic step) or from a pass per
/// batch, and what it started from.
pub fn step_from(
    device: &Device,
    loss: GanLoss,
    penalty: &GradientPenalty,
    spectral: bool,
    one_pass: bool,
) -> (StepResult, StepInputs) {
    let cfg = DcganConfig::new()
        .with_width(WIDTH)
        .with_z_dim(Z_DIM)
        .with_slope(SLOPE)
        .with_spectral_d(spectral);
    let mut rng = Rng::new(31);
    let g = cfg.init_generator(device, &mut rng);
    let d = cfg
        .init_discriminator(device, &mut rng)
        .map(&mut Steepen(STEEPEN));
    let n = BATCH;
    let real = rng.uniform_tensor([n, 3, 32, 32], -1.0, 1.0, device);
    let z = rng.normal_tensor([n, Z_DIM, 1, 1], 0.0, 1.0, device);
    let shaped = |t: &Tensor<4>| (t.dims().to_vec(), to_vec64(t.clone()));
    // The penalty's draws from the generator, in its order (`GradientPenalty::points`): the
    // same draws from a copy of it.
    let mut copy = rng.clone();
    let (noise, u) = match penalty.at {
        Where::Interpolates => (
            vec![],
            to_vec64(copy.uniform_tensor([n, 1, 1, 1], 0.0, 1.0, device)),
        ),
        Where::RealPerturbed => (
            to_vec64(copy.uniform_tensor(real.dims(), 0.0, 1.0, device)),
            to_vec64(copy.uniform_tensor([n, 1, 1, 1], 0.0, 1.0, device)),
        ),
        Where::Real | Where::Fake => (vec![], vec![]),
    };
    let inputs = StepInputs {
        g_params: values_of(&g, true),
        d_params: values_of(&d, true),
        d_state: values_of(&d, false),
        real: shaped(&real),
        z: shaped(&z),
        u,
        noise,
    };

    // Critic: loss + penalty as a critic step computes them (`Gan::critic_loss`, one pass or a
    // pass per batch), gradients w.r.t. D's parameters.
    let fake = g.forward(z.clone(), Mode::Train).detach();
    let config = GanConfig {
        loss,
        penalty: Some(penalty.clone()),
        z_dim: Z_DIM,
        ..GanConfig::default()
    };
    let mut gan = Gan::new(g, d, config, rng, device.clone());
    gan.one_critic_pass = one_pass;
    let (d_loss, p, norms) = gan.critic_loss(real.clone(), fake);
    let (p, [norm_real, norm_fake]) = (
        p.expect("the step has a penalty"),
        norms.expect("diagnostics are on by default"),
    );
    let Gan { g, d, .. } = gan;
    let norms = [to_vec64(norm_real)[0], to_vec64(norm_fake)[0]];
    let total = d_loss.clone() + p.clone();
    let d_grads = grads_of(&d, &GradientsParams::from_grads(total.backward(), &d));

    // Generator: loss through the critic, frozen as `Gan::g_step` freezes it (the real batch
    // through it too for relativistic losses), gradients w.r.t. G's parameters.
    let frozen = d.no_grad();
    let cf = frozen
        .forward(g.forward(z, Mode::Train), Mode::Train)
        .reshape([n]);
    let cr = if loss.is_relativistic() {
        frozen.forward(real, Mode::Train).reshape([n]).detach()
    } else {
        cf.zeros_like().detach()
    };
    let g_loss = loss.g_loss(cr, cf);
    let g_grads = grads_of(&g, &GradientsParams::from_grads(g_loss.backward(), &g));

    let s = |t: Tensor<1>| to_vec64(t)[0];
    let result = StepResult {
        norms,
        d_loss: s(d_loss),
        penalty: s(p),
        g_loss: s(g_loss),
        d_grads,
        g_grads,
    };
    (result, inputs)
}

/// Steps as JSON for `bench/torch_dcgan32.py --check`, which recomputes each with PyTorch's
/// autograd from the same inputs and compares: the generator they share (every step starts
/// from the same seed) and, per step, its loss, penalty, critic (parameters and state),
/// batches, the penalty's draws and what margan computed.
pub fn steps_json(steps: &[(GanLoss, GradientPenalty, bool, StepResult, StepInputs)]) -> String {
    let tensors = |v: &[(Vec<usize>, Vec<f64>)]| {
        v.iter()
            .map(|(shape, values)| json!({"shape": shape, "values": values}))
            .collect::<Vec<_>>()
    };
    let first = &steps.first().expect("at least one step").4;
    let entries = steps
        .iter()
        .map(|(loss, penalty, spectral, result, inputs)| {
            assert!(
                inputs.g_params == first.g_params,
                "every step starts from the same generator"
            );
            json!({
                "loss": loss,
                "norm": penalty.norm,
                "form": penalty.form,
                "at": penalty.at,
                "lambda": penalty.weight,
                "spectral": spectral,
                "real": {"shape": inputs.real.0, "values": inputs.real.1},
                "z": {"shape": inputs.z.0, "values": inputs.z.1},
                "d_params": tensors(&inputs.d_params),
                "d_state": tensors(&inputs.d_state),
                "u": inputs.u,
                "noise": inputs.noise,
                "d_loss": result.d_loss,
                "penalty": result.penalty,
                "g_loss": result.g_loss,
                "grad_norms": result.norms,
                "d_grads": result.d_grads,
                "g_grads": result.g_grads,
            })
        })
        .collect::<Vec<_>>();
    json!({
        "width": WIDTH,
        "z_dim": Z_DIM,
        "slope": SLOPE,
        "g_params": tensors(&first.g_params),
        "steps": entries,
    })
    .to_string()
}

pub fn compare(a: &StepResult, b: &StepResult, what: &str, reference: &str) {
    compare_within(a, b, what, reference, [1e-4, 1e-3]);
}

/// [`compare`] with the tolerances given: `[losses and penalty (relative, floor 1), gradients
/// (relative to each gradient's largest value)]`. Returns the largest errors seen, in that order.
pub fn compare_within(
    a: &StepResult,
    b: &StepResult,
    what: &str,
    reference: &str,
    tol: [f64; 2],
) -> [f64; 2] {
    let mut worst = [0.0f64; 2];
    eprintln!(
        "{what}: D {:.6} penalty {:.6} G {:.6}; {reference}: D {:.6} penalty {:.6} G {:.6}; ‖∇‖∞ {:?}",
        a.d_loss, a.penalty, a.g_loss, b.d_loss, b.penalty, b.g_loss, b.norms
    );
    assert!(
        b.penalty > 0.0,
        "the penalty is active at this initialisation"
    );
    for (quantity, x, y) in [
        ("D loss", a.d_loss, b.d_loss),
        ("penalty", a.penalty, b.penalty),
        ("G loss", a.g_loss, b.g_loss),
    ] {
        let e = (x - y).abs() / y.abs().max(1.0);
        worst[0] = worst[0].max(e);
        assert!(e <= tol[0], "{quantity}: {what} {x} vs {reference} {y}");
    }
    for (net, ga, gb) in [("D", &a.d_grads, &b.d_grads), ("G", &a.g_grads, &b.g_grads)] {
        assert_eq!(ga.len(), gb.len(), "{net}: number of parameter gradients");
        assert!(!ga.is_empty());
        for (k, (x, y)) in ga.iter().zip(gb).enumerate() {
            let e = rel_err(x, y);
            worst[1] = worst[1].max(e);
            assert!(
                e < tol[1],
                "{net} parameter {k} ({what} vs {reference}): gradient relative error {e:.2e}"
            );
        }
    }
    worst
}
