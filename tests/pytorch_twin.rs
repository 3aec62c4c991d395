//! margan's penalised DCGAN-32 step against an independent implementation: the PyTorch twin of
//! the benchmark (`bench/torch_dcgan32.py --check`, its losses and penalties written after the
//! paper's code) recomputes it in float64 with autograd (`autograd.grad(create_graph=True)` for
//! the penalty's double backward) from the same parameters, batches and penalty draws, and
//! compares the losses, the penalty, the mean input-gradient norms and every parameter gradient
//! of both networks. margan runs in f64 too (`common::device_f64`), so what is left is summation
//! order, not rounding. The steps: the paper's (HingeGAN, L∞ hinge penalty at interpolates), each
//! of the other nine losses with that penalty, and HingeGAN with each other norm, form and place
//! of the penalty.
//!
//! Needs `python3` with `torch`; without them the test prints why it skips, unless
//! `MARGAN_REQUIRE_TORCH` is set (`test.sh` sets it, after `.ci/torch-env` installed torch).

mod common;

use common::penalised_step::{step_from, steps_json, PAPER_PENALTY};
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};
use std::path::Path;
use std::process::Command;

#[test]
fn penalised_steps_match_pytorch() {
    let has_torch = Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_torch {
        assert!(
            std::env::var_os("MARGAN_REQUIRE_TORCH").is_none(),
            "MARGAN_REQUIRE_TORCH is set (by .ci/torch-env) but python3 has no torch: \
             source .ci/torch-env, or pip install torch"
        );
        eprintln!(
            "SKIPPED penalised_steps_match_pytorch: no python3 with torch here \
             (pip install torch, then rerun)"
        );
        return;
    }
    let paper = PAPER_PENALTY;
    let mut configs: Vec<(GanLoss, GradientPenalty)> = GanLoss::ALL
        .into_iter()
        .map(|l| (l, paper.clone()))
        .collect();
    let hinge = |p: GradientPenalty| (GanLoss::Hinge, p);
    configs.extend([Norm::L1, Norm::L2].map(|norm| {
        hinge(GradientPenalty {
            norm,
            ..paper.clone()
        })
    }));
    configs.extend(
        // At the real samples, where some L∞ norms are below 1 and others above: the LS and
        // squared-hinge forms differ there.
        [Form::Ls, Form::SquaredHinge, Form::ZeroCentered].map(|form| {
            hinge(GradientPenalty {
                form,
                at: Where::Real,
                ..paper.clone()
            })
        }),
    );
    configs.extend([Where::RealPerturbed, Where::Real, Where::Fake].map(|at| {
        hinge(GradientPenalty {
            at,
            form: Form::ZeroCentered,
            norm: Norm::L2,
            ..paper.clone()
        })
    }));
    let device = common::device_f64();
    // Each BatchNorm critic's loss and penalty from a pass per batch (as the paper's code), and
    // a few from margan's one pass over real, fake and penalty points (`Gan::one_critic_pass`,
    // the default): the paper's step, a relativistic loss, DRAGAN's points and R1.
    let one_pass: Vec<(GanLoss, GradientPenalty, bool, bool)> = configs
        .iter()
        .filter(|(l, p)| {
            matches!(l, GanLoss::Hinge | GanLoss::RaLsgan)
                && (p.norm == Norm::Linf || p.at != Where::Interpolates)
                && p.form != Form::SquaredHinge
        })
        .map(|(l, p)| (*l, p.clone(), false, true))
        .collect();
    let mut runs: Vec<_> = configs
        .into_iter()
        .map(|(l, p)| (l, p, false, false))
        .collect();
    runs.extend(one_pass);
    // A spectrally normalised critic (no BatchNorm; one power iteration per forward pass in
    // training mode, PyTorch's `torch.nn.utils.spectral_norm` as the paper's code uses it), with
    // a zero-centred penalty (always active) at interpolates and at the real samples.
    for at in [Where::Interpolates, Where::Real] {
        let p = GradientPenalty {
            form: Form::ZeroCentered,
            at,
            ..paper.clone()
        };
        runs.push((GanLoss::Hinge, p, true, false));
    }
    let steps: Vec<_> = runs
        .into_iter()
        .map(|(loss, penalty, spectral, one_pass)| {
            let (result, inputs) = step_from(&device, loss, &penalty, spectral, one_pass);
            (loss, penalty, spectral, result, inputs)
        })
        .collect();
    assert_eq!(
        steps.len(),
        27,
        "20 steps with a pass per batch, 7 in one pass"
    );
    let path = std::env::temp_dir().join(format!("margan-steps-{}.json", std::process::id()));
    std::fs::write(&path, steps_json(&steps)).expect("write the steps");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/torch_dcgan32.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--check")
        .arg(&path)
        .output()
        .expect("run the PyTorch twin");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && text.contains("every step the same"),
        "a margan step differs from PyTorch's (tables above)"
    );
}
