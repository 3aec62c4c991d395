//! The `margan` binary's checkpoints as a user meets them: resuming gives what an uninterrupted
//! run gives (toy and DCGAN runs, BatchNorm and spectral norm), on the run's device; a run
//! killed mid-write or interrupted with Ctrl-C loses nothing.

mod common;

use common::{fails_with, margan, ok, sections, stderr, tmp, toy};
use std::path::Path;
use std::process::Command;

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
    // Nor retrained or rewritten by a resume that asks for fewer iterations than it has: it
    // says so, and how to go on.
    let before = std::fs::read(b.join("checkpoint.bin")).unwrap();
    let metrics = std::fs::read(b.join("metrics.jsonl")).unwrap();
    let o = ok(margan()
        .args(["train", "--iterations", "20", "--resume"])
        .arg(&b));
    let e = stderr(&o);
    assert!(
        e.contains("already at iteration 30 and --iterations is 20: nothing to train")
            && e.contains("--iterations 60"),
        "{e}"
    );
    assert_eq!(std::fs::read(b.join("checkpoint.bin")).unwrap(), before);
    assert_eq!(std::fs::read(b.join("metrics.jsonl")).unwrap(), metrics);
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
