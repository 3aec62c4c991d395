//! `margan bench` as a user runs it: the iteration table, the phase table, several devices side
//! by side (flex against burn's ndarray backend when the build has it), and bad options.

mod common;

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
        // … critic, it/s, ms/it, vs none, vs burn, vs other (the penalty's name may be several
        // words).
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(cols[cols.len() - 6], "one", "{r}");
        let it_s: f64 = cols[cols.len() - 5].parse().unwrap();
        assert!(it_s > 0.0 && it_s.is_finite(), "{r}");
    }
    for phase in margan::phase::Phase::ALL {
        assert!(
            out.contains(phase.name()),
            "phase {} missing: {out}",
            phase.name()
        );
    }
    // The penalty phase takes time only with a penalty. Without one it holds nothing but the
    // phase hook's own wait on the device, which reads 0.00 or 0.01 ms (more often 0.01 than
    // not with separate critic passes on a 2-core machine), so it is compared with the
    // penalised row's phase rather than with 0.
    let pen_col = |r: &str| -> f64 {
        let cols: Vec<&str> = r.split_whitespace().collect();
        // conv batch penalty-words… critic, then 8 phases and the sum: the penalty phase is 3rd.
        cols[cols.len() - 9 + 2].parse().unwrap()
    };
    let (none, linf) = (pen_col(rows[4]), pen_col(rows[5]));
    assert!(linf > 0.0, "{}", rows[5]);
    assert!(
        none < linf / 10.0,
        "penalty phase without a penalty: {none} ms, with: {linf} ms\n{}\n{}",
        rows[4],
        rows[5]
    );
}

/// The critic's one pass against separate passes, each timed, with the ratio on the second.
#[test]
fn critic_passes_side_by_side() {
    let out = stdout_of(&bench(&[
        "--device",
        "cpu",
        "--penalty",
        "linf",
        "--conv",
        "gemm",
        "--critic-pass",
        "separate,one",
    ]));
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "{out}");
    let cols = |r: &str| r.split_whitespace().map(String::from).collect::<Vec<_>>();
    let (a, b) = (cols(rows[0]), cols(rows[1]));
    assert_eq!(a[a.len() - 6], "separate", "{out}");
    assert_eq!(
        a[a.len() - 1],
        "-",
        "nothing to compare the first with: {out}"
    );
    assert_eq!(b[b.len() - 6], "one", "{out}");
    let ratio: f64 = b[b.len() - 1].trim_end_matches('×').parse().unwrap();
    assert!(ratio > 0.0 && ratio.is_finite(), "{out}");
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
    // auto convolutions: GEMM on both CPU backends; the comparison row names each device's
    // path and ends with their ratio.
    let last = out.lines().last().unwrap();
    assert!(
        last.matches("gemm").count() == 2 && last.ends_with('×'),
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
            &["--critic-pass", "twice"][..],
            "unknown --critic-pass `twice`: use one or separate",
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
        (
            &["--device", "cpu", "--matmul-tuning", "f16-128x128+pf"][..],
            "--matmul-tuning f16-128x128+pf: no device here offers f16 tensor cores",
        ),
        (
            &["--device", "cpu", "--repeat", "5"][..],
            "--repeat 5: only with --layers",
        ),
        (
            &["--device", "cpu", "--layers", "--repeat", "0"][..],
            "--repeat 0: give at least 1 launch per sample",
        ),
        (
            &["--device", "cpu", "--batch", "4,0"][..],
            "--batch 0: a batch needs at least 1 sample",
        ),
    ] {
        let o = bench(args);
        assert!(!o.status.success(), "{args:?} should fail");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_margan"))
        .args(["bench", "--device", "cpu", "--iterations", "0"])
        .output()
        .expect("margan runs");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("'0' for '--iterations <ITERATIONS>'"),
        "{e}"
    );
}

/// A file as `bench/torch_dcgan32.py --json` writes it, in a scratch folder that goes with the
/// returned path (unless the test failed).
fn twin_json(name: &str, body: &str) -> TwinJson {
    let dir = common::tmp(&format!("against-{name}"));
    let path = dir.join("torch.json");
    std::fs::write(&path, body).unwrap();
    TwinJson(path.to_string_lossy().into_owned(), dir)
}

/// The path of a twin's JSON file (as the `--against` argument), and its folder.
struct TwinJson(String, #[allow(dead_code)] common::Scratch);

impl std::ops::Deref for TwinJson {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The ratio printed on a line `… margan PyTorch ratio×`, checked against the two numbers before.
fn check_ratio(line: &str) -> f64 {
    let w: Vec<&str> = line.split_whitespace().collect();
    let n = w.len();
    let (mine, theirs): (f64, f64) = (w[n - 3].parse().unwrap(), w[n - 2].parse().unwrap());
    let ratio: f64 = w[n - 1].trim_end_matches('×').parse().unwrap();
    // The printed numbers are rounded to 2 decimals.
    assert!(
        (ratio - mine / theirs).abs() < 0.006 + 0.01 * ratio,
        "{line}"
    );
    ratio
}

#[test]
fn against_the_pytorch_twin_prints_ratios_and_targets() {
    // PyTorch's it/s at batch 2 (none, linf), and for the targets' batches, which this run does
    // not measure.
    let path = twin_json(
        "iteration",
        r#"{"torch": "2.11.0", "device": "cpu", "tf32": false, "kind": "iteration", "rows": [
            {"batch": 2, "penalty": "none", "it_per_s": 1000.0, "ms_per_it": 1.0},
            {"batch": 2, "penalty": "linf", "it_per_s": 0.5, "ms_per_it": 2000.0},
            {"batch": 64, "penalty": "linf", "it_per_s": 70.0, "ms_per_it": 14.3}]}"#,
    );
    let out = stdout_of(&bench(&[
        "--device",
        "cpu",
        "--conv",
        "burn",
        "--penalty",
        "none,linf",
        "--against",
        &path,
    ]));
    assert!(
        out.contains("against PyTorch 2.11.0 on cpu (CPU), it/s:"),
        "{out}"
    );
    // margan's rows with PyTorch's it/s beside them: far slower than 1000 it/s, far faster than
    // 0.5 it/s.
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("against PyTorch"))
        .filter(|l| l.trim_start().starts_with("burn"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].contains("none") && check_ratio(rows[0]) < 1.0,
        "{out}"
    );
    assert!(
        rows[1].contains("linf") && check_ratio(rows[1]) > 1.0,
        "{out}"
    );
    assert!(
        out.contains(
            "target of issue #9: batch 64, linf: margan ≥ 1× PyTorch: not measured in this run"
        ),
        "{out}"
    );
    assert!(
        out.contains("(--against: the PyTorch twin runs DCGAN-32, preset cifar10-hinge-linf-hinge; this is shapes)"),
        "{out}"
    );
}

#[test]
fn against_cudnn_per_convolution() {
    let path = twin_json(
        "layers",
        r#"{"torch": "2.11.0", "device": "cpu", "tf32": false, "kind": "layers", "rows": [
            {"batch": 1, "layer": "D conv 3→128 32→16", "op": "fwd", "ms": 1e6},
            {"batch": 1, "layer": "D conv 3→128 32→16", "op": "dweight", "ms": 1e-6}]}"#,
    );
    let o = Command::new(env!("CARGO_BIN_EXE_margan"))
        .args([
            "bench", "--layers", "--device", "cpu", "--conv", "gemm", "--batch", "1",
        ])
        .args(["--iterations", "1", "--repeat", "2", "--against", &path])
        .output()
        .expect("margan runs");
    let out = stdout_of(&o);
    assert!(
        out.contains("against PyTorch's CPU convolutions (PyTorch 2.11.0 on cpu, CPU)"),
        "{out}"
    );
    // Two ops compared: one far within 3× (cuDNN "took" 1000 s), one far outside.
    assert!(
        out.contains(
            "target of issue #9: every op within 3× of PyTorch's CPU convolutions with TF32 off: gemm 1 of 2, worst"
        ),
        "{out}"
    );
    assert!(out.contains("NOT met"), "{out}");
    // Each op's time is the mean of 2 launches between waits; the file (written before the twin
    // recorded its repeats) counts as 1, and the verdict says they were timed unlike.
    assert!(
        out.contains("median of 1 samples of 2 launches between synchronisations"),
        "{out}"
    );
    assert!(
        out.contains("(but timed unlike: 1 launches per sample there, 2 here"),
        "{out}"
    );
}

#[test]
fn against_a_bad_file_names_the_fix() {
    let layers = twin_json(
        "wrong-kind",
        r#"{"torch": "2", "device": "cpu", "tf32": false, "kind": "layers", "rows": []}"#,
    );
    let garbage = twin_json("garbage", "it/s: 70");
    for (file, needle) in [
        (
            "/nonexistent/torch.json".to_string(),
            "--against /nonexistent/torch.json: cannot read it",
        ),
        (
            layers.to_string(),
            "it holds layers rows, and this bench needs iteration rows",
        ),
        (garbage.to_string(), "not the PyTorch twin's JSON"),
    ] {
        let o = bench(&["--device", "cpu", "--against", &file]);
        assert!(!o.status.success(), "{file} should fail");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{file}: {e}");
        assert!(
            e.contains("python3 bench/torch_dcgan32.py --json PATH"),
            "{file}: {e}"
        );
    }
}
