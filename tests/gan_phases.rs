//! The phase hook that `margan bench --phases` times with: called once per phase, in order,
//! and without changing the step.

mod common;

use common::device;
use margan::gan::{Gan, GanConfig};
use margan::nets::MlpConfig;
use margan::phase::Phase;
use margan::rng::Rng;
use margan::toy::Toy;
use margan::{GanLoss, GradientPenalty};
use std::cell::RefCell;
use std::rc::Rc;

fn gan(d_steps: usize) -> Gan {
    let dev = device();
    let mut rng = Rng::new(11);
    let g = MlpConfig::new(4, 2).with_width(16).init(&dev, &mut rng);
    let d = MlpConfig::new(2, 1).with_width(16).init(&dev, &mut rng);
    let config = GanConfig {
        loss: GanLoss::Hinge,
        penalty: Some(GradientPenalty::default()), // L∞ hinge at interpolates, λ = 20
        d_steps,
        z_dim: 4,
        ..Default::default()
    };
    Gan::new(g, d, config, rng.fork(), dev)
}

#[test]
fn phase_hook_sees_every_phase_in_order_and_leaves_the_step_unchanged() {
    let dev = device();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut hooked = gan(2);
    let s = seen.clone();
    hooked.phase_hook = Some(Box::new(move |p| s.borrow_mut().push(p)));
    let mut plain = gan(2);
    for _ in 0..3 {
        seen.borrow_mut().clear();
        let a = hooked
            .step(|r| Toy::EightGaussians.sample_tensor(32, r, &dev))
            .expect("finite");
        let b = plain
            .step(|r| Toy::EightGaussians.sample_tensor(32, r, &dev))
            .expect("finite");
        // Two critic steps, then the generator step.
        let mut want = Vec::new();
        want.extend_from_slice(&Phase::ALL[..5]);
        want.extend_from_slice(&Phase::ALL[..5]);
        want.extend_from_slice(&Phase::ALL[5..]);
        assert_eq!(*seen.borrow(), want);
        assert_eq!(
            (a.d_loss, a.g_loss, a.penalty),
            (b.d_loss, b.g_loss, b.penalty),
            "the hook changed the step"
        );
    }
}
