//! The `margan` binary as a user runs it: configs, errors, resume, interruption, export.

use margan::pack::Pack;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn margan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_margan"))
}

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "margan-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("margan runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(cmd: &mut Command) -> Output {
    let o = run(cmd);
    assert!(o.status.success(), "margan failed: {}", stderr(&o));
    o
}

fn fails_with(cmd: &mut Command, needles: &[&str]) -> String {
    let o = run(cmd);
    assert!(!o.status.success(), "margan should have failed");
    let e = stderr(&o);
    for n in needles {
        assert!(e.contains(n), "error message lacks `{n}`: {e}");
    }
    assert!(!e.contains("panicked"), "a panic instead of an error: {e}");
    e
}

fn toy(out: &Path, iterations: usize) -> Command {
    let mut c = margan();
    c.args([
        "train",
        "--quiet",
        "--preset",
        "toy-8gaussians",
        "--batch-size",
        "64",
        "--iterations",
    ])
    .arg(iterations.to_string())
    .args(["--log-every", "5", "--sample-every", "1000", "--out"])
    .arg(out);
    c
}

fn sections(dir: &Path) -> Pack {
    let bytes = std::fs::read(dir.join("checkpoint.bin")).expect("checkpoint exists");
    Pack::from_bytes(&bytes, "checkpoint").expect("checkpoint parses")
}

/// Generator and critic (weights, running statistics, spectral-norm vectors) and RNG/iteration
/// are byte-identical, and so are the losses logged at the iterations both runs logged. (burn
/// serialises Adam's per-parameter states in hash-map order, so those bytes are not compared;
/// any difference in their content would show in the weights.)
fn assert_same_state(a: &Path, b: &Path) {
    let (pa, pb) = (sections(a), sections(b));
    for s in ["g", "d"] {
        assert!(pa.get(s) == pb.get(s), "section `{s}` differs");
    }
    assert_same_progress(a, b);
}

/// RNG/iteration (`state.json`) and the losses logged at the iterations both runs logged.
fn assert_same_progress(a: &Path, b: &Path) {
    let (pa, pb) = (sections(a), sections(b));
    assert!(
        pa.get("state.json") == pb.get("state.json"),
        "section `state.json` differs"
    );
    let metrics = |d: &Path| -> std::collections::BTreeMap<u64, String> {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("it_per_s");
                (v["iteration"].as_u64().unwrap(), v.to_string())
            })
            .collect()
    };
    let (ma, mb) = (metrics(a), metrics(b));
    let common: Vec<_> = ma.keys().filter(|k| mb.contains_key(k)).collect();
    assert!(common.len() >= 5, "too few common metric lines: {common:?}");
    for k in common {
        assert_eq!(ma[k], mb[k], "metrics differ at iteration {k}");
    }
}

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
        margan().args(["train", "--norm", "l7", "--print-config"]),
        &["unknown gradient norm", "linf"],
    );
    fails_with(
        margan().args(["train", "--data", "toy:spiral", "--print-config"]),
        &["unknown toy data set"],
    );
    fails_with(margan().args(["train", "--bogus"]), &["--bogus"]);
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
fn resume_gives_the_same_result_as_an_uninterrupted_run() {
    let (a, b) = (tmp("straight"), tmp("resumed"));
    ok(&mut toy(&a, 30));
    ok(&mut toy(&b, 12));
    ok(margan()
        .args(["train", "--quiet", "--iterations", "30", "--resume"])
        .arg(&b));
    assert_same_state(&a, &b);
    // A finished run is not overwritten by accident.
    fails_with(&mut toy(&a, 30), &["already holds a run", "--resume"]);
}

/// The same for the default DCGAN run, with BatchNorm in both networks and with a spectrally
/// normalised critic: a checkpoint holds the running statistics and the power iteration's
/// estimates as of the last step, and the resumed run starts from them.
#[test]
fn resume_of_a_dcgan_run_is_exact_with_batchnorm_and_spectral_norm() {
    let config = String::from_utf8(ok(margan().args(["train", "--print-config"])).stdout)
        .expect("the config is text");
    for spectral in [false, true] {
        let dir = tmp("dcgan-config");
        let file = dir.join("run.toml");
        let text = config.replace("spectral_d = false", &format!("spectral_d = {spectral}"));
        assert!(text.contains(&format!("spectral_d = {spectral}")), "{text}");
        std::fs::write(&file, text).unwrap();
        let dcgan = |out: &Path, iterations: usize| {
            let mut c = margan();
            c.args(["train", "--quiet", "--config"])
                .arg(&file)
                .args(["--batch-size", "8", "--iterations"])
                .arg(iterations.to_string())
                .args(["--log-every", "1", "--sample-every", "1000", "--out"])
                .arg(out);
            c
        };
        let (a, b) = (tmp("dcgan-straight"), tmp("dcgan-resumed"));
        ok(&mut dcgan(&a, 8));
        ok(&mut dcgan(&b, 3));
        ok(margan()
            .args(["train", "--quiet", "--iterations", "8", "--resume"])
            .arg(&b));
        assert_same_progress(&a, &b);
        // Every tensor of both networks, trained or state, value for value. (Not the bytes: a
        // resumed run's running states keep the ids its fresh networks drew, which records
        // carry but nothing reads.)
        let cfg = margan::nets::DcganConfig::new()
            .with_width(16)
            .with_z_dim(32)
            .with_spectral_d(spectral);
        let dev = margan::device::cpu();
        for (name, init) in [
            ("g", cfg.init_generator(&dev, &mut margan::rng::Rng::new(0))),
            (
                "d",
                cfg.init_discriminator(&dev, &mut margan::rng::Rng::new(0)),
            ),
        ] {
            let values = |dir: &Path| {
                let pack = sections(dir);
                let bytes = pack.get(name).expect("the checkpoint holds the network");
                let net = margan::model::network_from_bytes(init.clone(), bytes, name)
                    .expect("the checkpoint loads");
                float_values(&net)
            };
            let (va, vb) = (values(&a), values(&b));
            assert_eq!(va.len(), vb.len());
            for (k, (x, y)) in va.iter().zip(&vb).enumerate() {
                assert!(
                    x == y,
                    "spectral_d = {spectral}: {name} tensor {k} ({} values) differs after resuming",
                    x.len()
                );
            }
        }
    }
}

/// Every float tensor of a module (parameters and running state), in visiting order.
fn float_values<M: burn::module::Module>(m: &M) -> Vec<Vec<f32>> {
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Values(Vec<Vec<f32>>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let data = p.val().into_data().convert::<f32>();
            self.0.push(data.try_into_vec::<f32>().expect("f32 values"));
        }
    }
    margan::layers::sync_state(m);
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

#[test]
fn resume_keeps_the_runs_device_unless_told_otherwise() {
    if margan::device::ndarray().is_err() {
        eprintln!(
            "SKIPPED: this build has no ndarray backend to start a run on (--features ndarray)"
        );
        return;
    }
    let dir = tmp("device");
    ok(toy(&dir, 4).args(["--device", "ndarray"]));
    let resume = |iterations: &str, device: &[&str]| {
        let o = ok(margan()
            .args(["train", "--iterations", iterations, "--resume"])
            .arg(&dir)
            .args(device));
        stderr(&o)
    };
    let e = resume("6", &[]);
    assert!(e.contains("at iteration 4 on ndarray (cpu)"), "{e}");
    let e = resume("8", &["--device", "cpu"]);
    assert!(e.contains("at iteration 6 on cpu (flex)"), "{e}");
}

fn kill(pid: u32, signal: &str) {
    let st = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(st.success());
}

#[test]
fn killing_during_checkpoint_writes_loses_nothing() {
    // Checkpoints every iteration, so a SIGKILL very likely lands inside a write.
    let (a, b) = (tmp("reference"), tmp("killed"));
    let n = 400;
    ok(toy(&a, n).args(["--checkpoint-every", "1"]));
    for delay_ms in [1500u64, 700] {
        let mut child = toy(&b, n)
            .args(["--checkpoint-every", "1"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        kill(child.id(), "-KILL");
        let _ = child.wait();
        if b.join("checkpoint.bin").exists() {
            break;
        }
    }
    let first = sections(&b); // parses: never a torn checkpoint
    let it: serde_json::Value = serde_json::from_slice(first.get("state.json").unwrap()).unwrap();
    assert!(
        it["iteration"].as_u64().unwrap() < n as u64,
        "the run was killed before the end"
    );
    ok(margan().args(["train", "--quiet", "--resume"]).arg(&b));
    assert_same_state(&a, &b);
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_resume_continues() {
    let (a, b) = (tmp("ref-int"), tmp("interrupted"));
    let n = 1000;
    ok(&mut toy(&a, n));
    let child = toy(&b, n)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    kill(child.id(), "-INT");
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert!(!o.status.success(), "interrupted run reports failure");
    assert!(
        e.contains("interrupted at iteration") && e.contains("--resume"),
        "{e}"
    );
    ok(margan().args(["train", "--quiet", "--resume"]).arg(&b));
    assert_same_state(&a, &b);
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
