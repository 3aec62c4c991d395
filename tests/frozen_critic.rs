//! The generator update runs through a frozen copy of the critic (`Gan::g_step`: the critic's
//! parameters are constants there, so its weight gradients are never computed). Checked on the
//! CPU: the generator's gradients are those through the tracked critic, on every convolution
//! path; the frozen copy yields no critic gradients; and the critic itself keeps training.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use common::{device, rel_err, to_vec64};
use margan::conv::{with_conv_path, ConvPath};
use margan::gan::{Gan, GanConfig};
use margan::layers::{Mode, Network};
use margan::nets::DcganConfig;
use margan::rng::Rng;

/// Every float parameter's gradient (`None` where it has none) and whether it requires one.
struct Collect<'a>(&'a GradientsParams, Vec<(bool, Option<Vec<f64>>)>);

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = self.0.get::<D>(param.id).map(to_vec64);
        self.1.push((param.val().is_require_grad(), g));
    }
}

fn collect(net: &Network, grads: &GradientsParams) -> Vec<(bool, Option<Vec<f64>>)> {
    let mut c = Collect(grads, Vec::new());
    net.visit(&mut c);
    c.1
}

fn nets(rng: &mut Rng) -> (Network, Network) {
    let dev = device();
    let cfg = DcganConfig::new().with_width(8).with_z_dim(16);
    (
        cfg.init_generator(&dev, rng),
        cfg.init_discriminator(&dev, rng),
    )
}

#[test]
fn generator_gradients_through_the_frozen_critic_equal_the_tracked_ones() {
    let dev = device();
    for path in [ConvPath::Burn, ConvPath::Gemm] {
        with_conv_path(path, || {
            let mut rng = Rng::new(5);
            let (g, d) = nets(&mut rng);
            let z = rng.normal_tensor([3, 16, 1, 1], 0.0, 1.0, &dev);
            // G's and D's gradients of the mean critic output at G(z).
            let grads = |critic: &Network| {
                let out = critic.forward(g.forward(z.clone(), Mode::Train), Mode::Train);
                let mut grads = out.mean().backward();
                (
                    collect(&g, &GradientsParams::from_module(&mut grads, &g)),
                    collect(critic, &GradientsParams::from_module(&mut grads, critic)),
                )
            };
            let (g_tracked, d_tracked) = grads(&d);
            let (g_frozen, d_frozen) = grads(&d.clone().no_grad());
            assert!(
                d_tracked.iter().any(|(_, g)| g.is_some()),
                "{path:?}: the tracked critic has weight gradients"
            );
            assert!(
                d_frozen.iter().all(|(req, g)| !req && g.is_none()),
                "{path:?}: the frozen critic has no gradients and requires none"
            );
            assert_eq!(g_frozen.len(), g_tracked.len());
            let mut checked = 0;
            for (i, ((_, a), (_, b))) in g_frozen.iter().zip(&g_tracked).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => {
                        let e = rel_err(a, b);
                        assert!(e < 1e-6, "{path:?}: generator parameter {i}: error {e:.2e}");
                        checked += 1;
                    }
                    (None, None) => {}
                    _ => panic!("{path:?}: generator parameter {i}: gradient on one side only"),
                }
            }
            assert!(
                checked >= 8,
                "{path:?}: {checked} generator gradients compared"
            );
            // The frozen copy is a copy: the critic itself still requires gradients.
            assert!(collect(&d, &GradientsParams::new())
                .iter()
                .any(|(req, _)| *req));
        });
    }
}

fn params(net: &Network) -> Vec<f64> {
    struct All(Vec<f64>);
    impl ModuleVisitor for All {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.val().is_require_grad() {
                self.0.extend(to_vec64(param.val()));
            }
        }
    }
    let mut a = All(Vec::new());
    net.visit(&mut a);
    a.0
}

#[test]
fn the_critic_keeps_training_after_generator_steps() {
    let dev = device();
    let mut rng = Rng::new(9);
    let (g, d) = nets(&mut rng);
    let config = GanConfig {
        z_dim: 16,
        ..Default::default()
    };
    let mut gan = Gan::new(g, d, config, rng.fork(), dev.clone());
    gan.diagnostics = false;
    let mut before = params(&gan.d);
    assert!(!before.is_empty());
    for it in 0..3 {
        let g_before = params(&gan.g);
        gan.step(|r| r.uniform_tensor([4, 3, 32, 32], -1.0, 1.0, &dev))
            .expect("finite step");
        let after = params(&gan.d);
        assert_eq!(
            after.len(),
            before.len(),
            "step {it}: the critic lost parameters"
        );
        let moved = after.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert!(
            moved > after.len() / 2,
            "step {it}: only {moved} of {} critic values changed",
            after.len()
        );
        let g_after = params(&gan.g);
        assert!(
            g_after.iter().zip(&g_before).any(|(a, b)| a != b),
            "step {it}: G moved"
        );
        before = after;
    }
}
