//! `margan bench` as a user runs it: the iteration table, the phase table, several devices side
//! by side (flex against burn's ndarray backend when the build has it), and bad options.

use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_margan"))
        .arg("bench")
        .args([
            "--preset",
            "shapes",
            "--batch",
            "2",
            "--warmup",
            "0",
            "--iterations",
            "1",
        ])
        .args(args)
        .output()
        .expect("margan runs")
}

fn stdout_of(o: &Output) -> String {
    assert!(
        o.status.success(),
        "margan bench failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The rows of the iteration table: lines that start with a convolution path's name.
fn rows(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            let w = l.split_whitespace().next().unwrap_or("");
            w == "burn" || w == "gemm"
        })
        .collect()
}

#[test]
fn iteration_and_phase_tables() {
    let out = stdout_of(&bench(&[
        "--device",
        "cpu",
        "--penalty",
        "none,linf",
        "--conv",
        "burn,gemm",
        "--phases",
    ]));
    assert!(
        out.contains("margan bench: preset shapes, device cpu (flex)"),
        "{out}"
    );
    // 2 paths × 2 penalties in the iteration table, and again in the phase table.
    let rows = rows(&out);
    assert_eq!(rows.len(), 8, "{out}");
    for r in &rows[..4] {
        // … it/s, ms/it, vs none, vs burn (the penalty's name may be several words).
        let cols: Vec<&str> = r.split_whitespace().collect();
        let it_s: f64 = cols[cols.len() - 4].parse().unwrap();
        assert!(it_s > 0.0 && it_s.is_finite(), "{r}");
    }
    for phase in margan::phase::Phase::ALL {
        assert!(
            out.contains(phase.name()),
            "phase {} missing: {out}",
            phase.name()
        );
    }
    // The penalty phase takes time only with a penalty.
    let pen_col = |r: &str| -> f64 {
        let cols: Vec<&str> = r.split_whitespace().collect();
        // conv batch penalty-words… then 8 phases and the sum: the penalty phase is 3rd.
        cols[cols.len() - 9 + 2].parse().unwrap()
    };
    assert_eq!(pen_col(rows[4]), 0.0, "{}", rows[4]);
    assert!(pen_col(rows[5]) > 0.0, "{}", rows[5]);
}

#[test]
fn matmul_table_says_why_it_is_empty_on_the_cpu() {
    let out = stdout_of(&bench(&[
        "--device",
        "cpu",
        "--penalty",
        "none",
        "--matmul",
        "--matmul-tuning",
        "128x64+pf",
    ]));
    assert!(
        out.contains("tiled path's matrix products: 128x64+pf"),
        "{out}"
    );
    assert!(
        out.contains("matrix products: none measured (the tuner measures products of at least"),
        "{out}"
    );
}

#[test]
fn cpu_backends_side_by_side() {
    let o = bench(&["--device", "cpu,ndarray", "--penalty", "linf"]);
    if margan::device::ndarray().is_err() {
        eprintln!("SKIPPED the comparison: this build has no ndarray backend (--features ndarray)");
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("--features ndarray"), "{e}");
        return;
    }
    let out = stdout_of(&o);
    assert!(out.contains("device ndarray (cpu)"), "{out}");
    assert!(out.contains("devices compared"), "{out}");
    assert!(out.contains("[1] ndarray (cpu)"), "{out}");
    // auto convolutions: burn's on flex, GEMM on ndarray; the comparison row shows both.
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("burn") && last.contains("gemm") && last.ends_with('×'),
        "{last}"
    );
}

#[test]
fn bad_options_name_the_fix() {
    for (args, needle) in [
        (
            &["--conv", "fft"][..],
            "unknown --conv path `fft`: use auto, burn, gemm or tiled",
        ),
        (
            &["--device", "tpu"][..],
            "possible values: cpu, wgpu, ndarray, auto",
        ),
        (&["--penalty", "l3"][..], "l3"),
        (
            &["--device", "cpu", "--matmul-tuning", "f16"][..],
            "--matmul-tuning f16: no device here offers f16 tensor cores",
        ),
        (
            &["--matmul-tuning", "fast"][..],
            "unknown --matmul-tuning `fast`: use measure, heuristic, burn, a kernel variant \
             (64x64+pf, 64x64, 128x64+pf",
        ),
    ] {
        let o = bench(args);
        assert!(!o.status.success(), "{args:?} should fail");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}
