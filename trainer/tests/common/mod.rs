//! Helpers shared by the trainer's command-line tests: the binary, scratch folders, runs that
//! must succeed or fail with a given message, the toy run, a run's checkpoint.
#![allow(dead_code)]

use margan::pack::Pack;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn margan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_margan"))
}

/// A scratch folder for one test, removed when the test passes; kept (and its path printed)
/// when it fails, to be looked at.
pub struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

pub fn tmp(name: &str) -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "margan-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("margan runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(cmd: &mut Command) -> Output {
    let o = run(cmd);
    assert!(o.status.success(), "margan failed: {}", stderr(&o));
    o
}

pub fn fails_with(cmd: &mut Command, needles: &[&str]) -> String {
    let o = run(cmd);
    assert!(!o.status.success(), "margan should have failed");
    let e = stderr(&o);
    for n in needles {
        assert!(e.contains(n), "error message lacks `{n}`: {e}");
    }
    assert!(!e.contains("panicked"), "a panic instead of an error: {e}");
    e
}

pub fn toy(out: &Path, iterations: usize) -> Command {
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

pub fn sections(dir: &Path) -> Pack {
    let bytes = std::fs::read(dir.join("checkpoint.bin")).expect("checkpoint exists");
    Pack::from_bytes(&bytes, "checkpoint").expect("checkpoint parses")
}
