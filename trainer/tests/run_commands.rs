//! What is done with a run folder: `margan sample` and `margan export` on a finished run, their
//! refusals (bad arguments, damaged checkpoints, 2-D runs), and a second default run that must
//! not overwrite the first.

mod common;

use common::{fails_with, margan, ok, sections, tmp, toy};
use margan::pack::Pack;

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
