//! The `margan` binary as a user runs it: configs, bad data, divergence, the margins command
//! (a run folder's sampling and export: `run_commands.rs`; resume and interruption: `resume.rs`).

mod common;

use common::{fails_with, margan, ok, sections, tmp, toy};

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
