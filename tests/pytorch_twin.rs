//! margan's penalised DCGAN-32 step against an independent implementation: the PyTorch twin of
//! the benchmark (`bench/torch_dcgan32.py --check`) recomputes it in float64 with autograd
//! (`autograd.grad(create_graph=True)` for the penalty's double backward) from the same
//! parameters, batches and interpolation weights, and compares the losses, the penalty, the mean
//! input-gradient norms and every parameter gradient of both networks. margan runs in f64 too
//! (`common::device_f64`), so what is left is summation order, not rounding.
//!
//! Needs `python3` with `torch`; without them the test prints why it skips.

mod common;

use common::penalised_step::{step_from, step_json};
use std::path::Path;
use std::process::Command;

#[test]
fn penalised_step_matches_pytorch() {
    let has_torch = Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_torch {
        eprintln!(
            "SKIPPED penalised_step_matches_pytorch: no python3 with torch here \
             (pip install torch, then rerun)"
        );
        return;
    }
    let (result, inputs) = step_from(&common::device_f64());
    let path = std::env::temp_dir().join(format!("margan-step-{}.json", std::process::id()));
    std::fs::write(&path, step_json(&result, &inputs)).expect("write the step");
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
        out.status.success() && text.contains("same step"),
        "margan's penalised step differs from PyTorch's (table above)"
    );
}
