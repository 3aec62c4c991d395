//! The `margan` binary as a user runs it: configs, errors, divergence, export and sampling
//! (resume and interruption: `resume.rs`).

mod common;

use common::{fails_with, margan, ok, sections, tmp, toy};
use margan::pack::Pack;

#[test]
fn config_round_trip_and_validation_errors() {
    let dir = tmp("config");
    let o = ok(margan().args(["train", "--preset", "cifar10-wgan-l2-ls", "--print-config"]));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("loss = \"wgan\"")
            && text.contains("norm = \"l2\"")
            && text.contains("weight = 20"),
        "{text}"
    );
    let file = dir.join("run.toml");
    std::fs::write(&file, &text).unwrap();
    let again = ok(margan()
        .args(["train", "--print-config", "--config"])
        .arg(&file));
    assert_eq!(
        String::from_utf8(again.stdout).unwrap(),
        text,
        "TOML round trip"
    );

    std::fs::write(
        &file,
        text.replace("batch_size = 32", "batch_size = 32\nbatchsize = 4"),
    )
    .unwrap();
    fails_with(
        margan().args(["train", "--config"]).arg(&file),
        &["run.toml", "batchsize"],
    );
    std::fs::write(&file, text.replace("beta1 = 0.5", "beta1 = 1.5")).unwrap();
    fails_with(
        margan().args(["train", "--config"]).arg(&file),
        &["beta1", "[0, 1)"],
    );
    std::fs::write(&file, text.replace("loss = \"wgan\"", "loss = \"wgann\"")).unwrap();
    fails_with(margan().args(["train", "--config"]).arg(&file), &["wgann"]);
    fails_with(
        margan().args(["train", "--config", "/nonexistent/run.toml"]),
        &["/nonexistent/run.toml", "cannot read"],
    );
    fails_with(
        margan().args(["train", "--preset", "cifar10-hinge-l3-ls"]),
        &["unknown preset"],
    );
    fails_with(
        margan().args(["train", "--batch-size", "0", "--print-config"]),
        &["batch_size", "at least 1"],
    );
    fails_with(
        margan().args(["train", "--iterations", "0", "--print-config"]),
        &["iterations", "at least 1"],
    );
    fails_with(
        margan().args(["train", "--norm", "l7", "--print-config"]),
        &["unknown gradient norm", "linf"],
    );
    fails_with(
        margan().args(["train", "--data", "toy:spiral", "--print-config"]),
        &["unknown toy data set"],
    );
    fails_with(margan().args(["train", "--bogus"]), &["--bogus"]);
    // A negative number reaches the config's checks, which say what the value must be.
    fails_with(
        margan().args(["train", "--lr-g", "-1", "--print-config"]),
        &["lr_g", "must be a positive number, got -1"],
    );
    fails_with(
        margan().args([
            "train",
            "--norm",
            "linf",
            "--lambda",
            "-3",
            "--print-config",
        ]),
        &["penalty.weight", "must be ≥ 0, got -3"],
    );
    fails_with(
        margan().args(["train", "--matmul-tuning", "fastest", "--print-config"]),
        &["unknown --matmul-tuning `fastest`", "f16-emulated"],
    );
    let out = tmp("f16-on-cpu");
    fails_with(
        margan()
            .args([
                "train",
                "--device",
                "cpu",
                "--matmul-tuning",
                "f16",
                "--iterations",
                "1",
            ])
            .arg("--out")
            .arg(&out),
        &["no device here offers f16 tensor cores", "f16-emulated"],
    );
    // Data that do not fit the model.
    fails_with(
        margan().args([
            "train",
            "--preset",
            "toy-8gaussians",
            "--data",
            "shapes",
            "--print-config",
        ]),
        &["data", "model"],
    );
    // Overrides land in the resolved config.
    let o = ok(margan().args([
        "train",
        "--print-config",
        "--norm",
        "l1",
        "--form",
        "ls",
        "--at",
        "dragan",
        "--lambda",
        "5",
        "--loss",
        "rasgan",
    ]));
    let t = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "norm = \"l1\"",
        "form = \"ls\"",
        "at = \"real-perturbed\"",
        "weight = 5",
        "loss = \"rasgan\"",
    ] {
        assert!(t.contains(needle), "{needle} missing in {t}");
    }
}

#[test]
fn missing_and_corrupt_data_give_one_line_errors() {
    let dir = tmp("data");
    let e = fails_with(
        margan()
            .args([
                "train",
                "--quiet",
                "--preset",
                "cifar10-hinge-linf-hinge",
                "--device",
                "cpu",
                "--out",
            ])
            .arg(dir.join("r1"))
            .arg("--data")
            .arg(format!("cifar10:{}", dir.join("none").display())),
        &["not a folder", "CIFAR-10"],
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    let cifar = dir.join("cifar");
    std::fs::create_dir_all(&cifar).unwrap();
    std::fs::write(cifar.join("data_batch_1.bin"), vec![3u8; 3073 + 100]).unwrap();
    fails_with(
        margan()
            .args([
                "train",
                "--quiet",
                "--preset",
                "cifar10-hinge-linf-hinge",
                "--device",
                "cpu",
                "--out",
            ])
            .arg(dir.join("r2"))
            .arg("--data")
            .arg(format!("cifar10:{}", cifar.display())),
        &["data_batch_1.bin", "truncated"],
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "hi").unwrap();
    fails_with(
        margan()
            .args(["train", "--quiet", "--device", "cpu", "--out"])
            .arg(dir.join("r3"))
            .arg("--data")
            .arg(format!("folder:{}", empty.display())),
        &["no .png/.jpg/.jpeg"],
    );
    std::fs::write(empty.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    fails_with(
        margan()
            .args(["train", "--quiet", "--device", "cpu", "--out"])
            .arg(dir.join("r4"))
            .arg("--data")
            .arg(format!("folder:{}", empty.display())),
        &["broken.png", "cannot decode"],
    );
}

#[test]
fn diverging_training_stops_with_a_clear_message() {
    let dir = tmp("nan");
    let e = fails_with(
        toy(&dir, 200).args([
            "--lr-d",
            "1e30",
            "--lr-g",
            "1e30",
            "--checkpoint-every",
            "1",
        ]),
        &["not finite", "last good checkpoint"],
    );
    assert!(e.contains("--resume"), "{e}");
    sections(&dir); // the last good checkpoint is readable

    // Steps whose figures are read a few at a time (nothing logged, sampled or saved for 100
    // iterations): the first non-finite one is still found and named, within the steps read
    // together, and no checkpoint of it is written (only the one before the first step).
    let lagged = tmp("nan-lagged");
    let e = fails_with(
        margan()
            .args(["train", "--quiet", "--preset", "toy-8gaussians"])
            .args([
                "--batch-size",
                "64",
                "--iterations",
                "200",
                "--lr-d",
                "1e30",
            ])
            .args([
                "--lr-g",
                "1e30",
                "--log-every",
                "100",
                "--sample-every",
                "1000",
            ])
            .args(["--checkpoint-every", "100", "--out"])
            .arg(&lagged),
        &["not finite at iteration", "last good checkpoint"],
    );
    let at: usize = e
        .split("not finite at iteration ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no iteration in: {e}"));
    assert!((1..=8).contains(&at), "diverged at {at}: {e}");
    assert!(e.contains(&format!("(iteration ≤ {})", at - 1)), "{e}");
    let pack = sections(&lagged);
    let state: serde_json::Value =
        serde_json::from_slice(pack.get("state.json").expect("state section")).unwrap();
    assert_eq!(
        state["iteration"], 0,
        "the checkpoint before the first step"
    );
}

#[test]
fn export_and_sample_write_files_and_reject_bad_runs() {
    let dir = tmp("export");
    let run_dir = dir.join("run");
    ok(margan()
        .args([
            "train",
            "--quiet",
            "--iterations",
            "2",
            "--batch-size",
            "4",
            "--log-every",
            "1",
            "--out",
        ])
        .arg(&run_dir));
    for f in [
        "config.toml",
        "metrics.jsonl",
        "samples.png",
        "losses.png",
        "checkpoint.bin",
    ] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    let out = dir.join("g.margan");
    ok(margan()
        .args(["export", "--run"])
        .arg(&run_dir)
        .arg("--out")
        .arg(&out));
    let pack = Pack::from_bytes(&std::fs::read(&out).unwrap(), "export").unwrap();
    let info: serde_json::Value = serde_json::from_slice(pack.get("export.json").unwrap()).unwrap();
    assert_eq!(info["format"], "margan-generator");
    assert_eq!(info["iteration"], 2);
    ok(margan()
        .args(["sample", "--n", "9", "--run"])
        .arg(&run_dir)
        .arg("--out")
        .arg(dir.join("s.png")));
    let img = image::open(dir.join("s.png")).unwrap();
    assert!(img.width() > 100);
    fails_with(
        margan().args(["sample", "--n", "0", "--run"]).arg(&run_dir),
        &["'0' for '--n <N>'", "not in 1.."],
    );
    // Sampling and export read the networks only: a damaged optimiser state does not stop them
    // (resuming, which needs it, names it).
    let mut pack = sections(&run_dir);
    for (name, bytes) in &mut pack.sections {
        if name == "opt_g" {
            bytes.truncate(bytes.len() / 2);
        }
    }
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::write(damaged.join("checkpoint.bin"), pack.to_bytes()).unwrap();
    let again = dir.join("g2.margan");
    ok(margan()
        .args(["export", "--run"])
        .arg(&damaged)
        .arg("--out")
        .arg(&again));
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&out).unwrap(),
        "the same generator exported"
    );
    ok(margan()
        .args(["sample", "--n", "9", "--run"])
        .arg(&damaged)
        .arg("--out")
        .arg(dir.join("s2.png")));
    fails_with(
        margan()
            .args(["train", "--iterations", "3", "--resume"])
            .arg(&damaged),
        &["checkpoint.bin", "opt_g", "corrupt"],
    );
    // A corrupt checkpoint gives a message, not a panic.
    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("checkpoint.bin"), b"MARGANPK\x01\x00\x00\x00\x05").unwrap();
    fails_with(
        margan().args(["sample", "--run"]).arg(&bad),
        &["checkpoint.bin", "truncated"],
    );
    fails_with(
        margan()
            .args(["export", "--run"])
            .arg(dir.join("nope"))
            .arg("--out")
            .arg(dir.join("x")),
        &["no checkpoint"],
    );
}

#[test]
fn a_second_default_run_does_not_overwrite_the_first() {
    let cwd = tmp("twice");
    for _ in 0..2 {
        ok(margan().current_dir(&cwd).args([
            "train",
            "--quiet",
            "--preset",
            "toy-8gaussians",
            "--iterations",
            "2",
            "--batch-size",
            "8",
        ]));
    }
    assert!(cwd.join("runs/toy-8gaussians/checkpoint.bin").exists());
    assert!(cwd.join("runs/toy-8gaussians-2/checkpoint.bin").exists());
}

#[test]
fn a_2d_run_is_neither_sampled_nor_exported() {
    let run = tmp("toy-export");
    ok(&mut toy(&run, 2));
    fails_with(
        margan().args(["sample", "--run"]).arg(&run),
        &["2-D runs have their scatter plot"],
    );
    let out = run.join("g.margan");
    fails_with(
        margan()
            .args(["export", "--run"])
            .arg(&run)
            .arg("--out")
            .arg(&out),
        &["a 2-D run", "image generators"],
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn margins_checks_its_arguments_and_writes_its_table() {
    fails_with(
        margan().args(["margins", "--quick", "--variants", "none,l3-ls"]),
        &["unknown variant `l3-ls`", "linf-hinge"],
    );
    fails_with(
        margan().args(["margins", "--quick", "--iterations", "0"]),
        &["'0' for '--iterations <ITERATIONS>'"],
    );
    fails_with(
        margan().args(["margins", "--quick", "--weight", "-1"]),
        &["--weight -1", "≥ 0"],
    );
    // Two Adam steps leave the classifier without a boundary: its margins are NaN (not 0), and
    // the table says why.
    let out = tmp("margins");
    let o = ok(margan()
        .args([
            "margins",
            "--quick",
            "--iterations",
            "2",
            "--variants",
            "none",
            "--out",
        ])
        .arg(&out));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("no decision boundary in reach"), "{table}");
    let csv = std::fs::read_to_string(out.join("margins.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[0].starts_with("penalty,l1_margin,l2_margin,linf_margin"),
        "{csv}"
    );
    assert!(rows[1].starts_with("none,NaN,NaN,NaN,"), "{csv}");
    assert!(
        image::open(out.join("decision_boundaries.png"))
            .unwrap()
            .width()
            > 100
    );
}
