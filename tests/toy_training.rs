//! A short HingeGAN + L∞ hinge-penalty run on 8 Gaussians moves the generator onto the modes.

mod common;

use common::device;
use margan::device::to_vec;
use margan::gan::{Gan, GanConfig};
use margan::nets::MlpConfig;
use margan::rng::Rng;
use margan::toy::{mean_distance_to_modes, mode_coverage, Toy};
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};

fn points(t: burn::tensor::Tensor<4>) -> Vec<[f64; 2]> {
    to_vec(t)
        .chunks(2)
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect()
}

#[test]
fn hinge_gan_with_linf_penalty_learns_eight_gaussians() {
    let dev = device();
    let mut rng = Rng::new(2024);
    let z_dim = 8;
    let g = MlpConfig::new(z_dim, 2)
        .with_width(128)
        .init(&dev, &mut rng);
    let d = MlpConfig::new(2, 1).with_width(128).init(&dev, &mut rng);
    let config = GanConfig {
        loss: GanLoss::Hinge,
        penalty: Some(GradientPenalty {
            norm: Norm::Linf,
            form: Form::Hinge,
            at: Where::Interpolates,
            weight: 20.0,
        }),
        lr_d: 1e-3,
        lr_g: 1e-3,
        beta1: 0.5,
        beta2: 0.9,
        d_steps: 1,
        z_dim,
    };
    let mut gan = Gan::new(g, d, config, rng.fork(), dev.clone());
    let z = Rng::new(7).normal_tensor([1000, z_dim, 1, 1], 0.0, 1.0, &dev);
    let modes = Toy::EightGaussians.modes();
    let before = points(gan.generate(z.clone()));
    let d0 = mean_distance_to_modes(&before, &modes);

    let batch = 256;
    let mut last = None;
    for _ in 0..1500 {
        last = Some(
            gan.step(|r| Toy::EightGaussians.sample_tensor(batch, r, &dev))
                .expect("finite losses"),
        );
    }
    let after = points(gan.generate(z));
    let d1 = mean_distance_to_modes(&after, &modes);
    let coverage = mode_coverage(&after, &modes, 0.3);
    eprintln!(
        "mean distance to nearest mode: {d0:.3} → {d1:.3}; coverage {coverage}; last step {last:?}"
    );
    assert!(
        d1 < 0.35 * d0,
        "generator did not approach the modes: {d0:.3} → {d1:.3}"
    );
    assert!(coverage >= 0.75, "only {coverage} of the modes covered");
    let real = Toy::EightGaussians.sample(1000, &mut Rng::new(1));
    assert!(
        mean_distance_to_modes(&real, &modes) < d1,
        "real data is closer to the modes than samples"
    );
}
