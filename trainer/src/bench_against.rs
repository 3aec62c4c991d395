//! `margan bench --against PATH`: margan's rows beside those of the PyTorch twin
//! (`bench/torch_dcgan32.py --json PATH`, run on the same GPU), their ratio, and whether the
//! targets of issue #9 are met: at batch 64 with the L∞ penalty margan's it/s ≥ PyTorch's, at
//! batch 256 ≥ 0.5×; with `--layers`, every convolution op within 3× of cuDNN with TF32 off.

use crate::bench::{critic_pass_name, BenchRow};
use crate::bench_layers::LayerTime;
use serde::Deserialize;

/// What the twin wrote.
#[derive(Deserialize, Debug)]
pub struct Reference {
    pub torch: String,
    pub device: String,
    pub tf32: bool,
    /// "iteration" or "layers".
    pub kind: String,
    /// With "layers": launches per timed sample (files written before it was recorded: 1).
    #[serde(default = "one")]
    pub repeat: usize,
    pub rows: Vec<serde_json::Value>,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
struct IterationRow {
    batch: usize,
    penalty: String,
    it_per_s: f64,
}

#[derive(Deserialize)]
struct LayerRow {
    batch: usize,
    layer: String,
    op: String,
    ms: f64,
}

/// (batch, penalty, least ratio of margan's it/s to PyTorch's) for the full iteration.
pub const ITERATION_TARGETS: [(usize, &str, f64); 2] = [(64, "linf", 1.0), (256, "linf", 0.5)];
/// Most ratio of margan's time to cuDNN's (TF32 off) for each convolution op.
pub const LAYER_TARGET: f64 = 3.0;

/// Reads the twin's JSON, of the kind `kind` ("iteration" or "layers").
pub fn load(path: &str, kind: &str) -> Result<Reference, String> {
    let how = if kind == "layers" {
        "python3 bench/torch_dcgan32.py --layers --json PATH"
    } else {
        "python3 bench/torch_dcgan32.py --json PATH"
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--against {path}: cannot read it ({e}); write it with `{how}`"))?;
    let r: Reference = serde_json::from_str(&text).map_err(|e| {
        format!("--against {path}: not the PyTorch twin's JSON ({e}); write it with `{how}`")
    })?;
    if r.kind != kind {
        return Err(format!(
            "--against {path}: it holds {} rows, and this bench needs {kind} rows; write them with `{how}`",
            r.kind
        ));
    }
    Ok(r)
}

fn rows<T: for<'de> Deserialize<'de>>(r: &Reference) -> Result<Vec<T>, String> {
    r.rows
        .iter()
        .map(|v| T::deserialize(v).map_err(|e| format!("--against: a row: {e}")))
        .collect()
}

/// Where the twin ran: cuDNN on a GPU, PyTorch's own kernels on the CPU.
fn library(r: &Reference) -> &'static str {
    if r.device == "cpu" {
        "PyTorch's CPU convolutions"
    } else {
        "cuDNN"
    }
}

/// Whether cuDNN could use TF32 tensor cores, in words.
fn tf32(r: &Reference) -> &'static str {
    match (r.device.as_str(), r.tf32) {
        ("cpu", _) => "CPU",
        (_, true) => "cuDNN TF32 on",
        (_, false) => "cuDNN TF32 off",
    }
}

/// The norm a bench row's penalty names ("none", "l2", "linf", …).
fn norm(penalty: &str) -> &str {
    penalty.split_whitespace().next().unwrap_or(penalty)
}

/// The report for the full iteration, one line each: margan's rows with PyTorch's it/s and the
/// ratio, then the targets (met or not, per convolution path; absent rows say so).
pub fn iteration_report(mine: &[BenchRow], r: &Reference) -> Result<Vec<String>, String> {
    let theirs: Vec<IterationRow> = rows(r)?;
    let find = |batch: usize, penalty: &str| {
        theirs
            .iter()
            .find(|t| t.batch == batch && t.penalty == penalty)
            .map(|t| t.it_per_s)
    };
    let mut out = vec![
        format!(
            "against PyTorch {} on {} ({}), it/s:",
            r.torch,
            r.device,
            tf32(r)
        ),
        format!(
            "{:>5} {:>6}  {:<24} {:>8} {:>10} {:>10} {:>9}",
            "conv", "batch", "penalty", "critic", "margan", "PyTorch", "ratio"
        ),
    ];
    for m in mine {
        let t = find(m.batch, norm(&m.penalty));
        out.push(format!(
            "{:>5} {:>6}  {:<24} {:>8} {:>10.2} {:>10} {:>9}",
            m.conv.name(),
            m.batch,
            m.penalty,
            critic_pass_name(m.one_pass),
            m.it_per_s,
            t.map_or("-".into(), |t| format!("{t:.2}")),
            t.map_or("-".into(), |t| format!("{:.2}×", m.it_per_s / t)),
        ));
    }
    for (batch, penalty, least) in ITERATION_TARGETS {
        let t = find(batch, penalty);
        let ours: Vec<&BenchRow> = mine
            .iter()
            .filter(|m| m.batch == batch && norm(&m.penalty) == penalty)
            .collect();
        let line = match (t, ours.is_empty()) {
            (None, _) | (_, true) => "not measured in this run".to_string(),
            (Some(t), false) => ours
                .iter()
                .map(|m| {
                    let ratio = m.it_per_s / t;
                    let verdict = if ratio >= least { "met" } else { "NOT met" };
                    let critic = if m.one_pass { "" } else { " (separate passes)" };
                    format!("{}{critic} {ratio:.2}× {verdict}", m.conv.name())
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push(format!(
            "target of issue #9: batch {batch}, {penalty}: margan ≥ {least}× PyTorch: {line}"
        ));
    }
    Ok(out)
}

/// The report for `--layers`: per op margan's time over cuDNN's on each path, and how many ops
/// are within [`LAYER_TARGET`]; `repeat` is margan's launches per sample (the verdict says so
/// when the twin's differ).
pub fn layer_report(
    mine: &[LayerTime],
    paths: &[String],
    r: &Reference,
    repeat: usize,
) -> Result<Vec<String>, String> {
    let theirs: Vec<LayerRow> = rows(r)?;
    let lib = library(r);
    let mut out = vec![
        format!(
            "against {lib} (PyTorch {} on {}, {}): margan's time / theirs",
            r.torch,
            r.device,
            tf32(r)
        ),
        format!(
            "{:>6}  {:<22} {:<7} {:>9}{}",
            "batch",
            "layer",
            "op",
            "their ms",
            paths.iter().map(|p| format!(" {p:>9}")).collect::<String>()
        ),
    ];
    let mut within = vec![0usize; paths.len()];
    let mut compared = 0usize;
    let mut worst = vec![0.0f64; paths.len()];
    for m in mine {
        let Some(t) = theirs
            .iter()
            .find(|t| t.batch == m.batch && t.layer == m.layer && t.op == m.op)
        else {
            continue;
        };
        compared += 1;
        let mut line = format!("{:>6}  {:<22} {:<7} {:>9.3}", m.batch, m.layer, m.op, t.ms);
        for (i, ms) in m.ms.iter().enumerate() {
            let ratio = ms / t.ms;
            within[i] += usize::from(ratio <= LAYER_TARGET);
            worst[i] = worst[i].max(ratio);
            line += &format!(" {:>8.2}×", ratio);
        }
        out.push(line);
    }
    if compared == 0 {
        return Err(
            "--against: no convolution op of this run is in the file (other batches?)".into(),
        );
    }
    for (i, p) in paths.iter().enumerate() {
        let verdict = if within[i] == compared {
            "met"
        } else {
            "NOT met"
        };
        out.push(format!(
            "target of issue #9: every op within {LAYER_TARGET}× of {lib} with TF32 off: {p} {} of {compared}, worst {:.2}×, {verdict}{}{}",
            within[i],
            worst[i],
            if r.tf32 { " (but this file has TF32 on)" } else { "" },
            if r.repeat != repeat {
                format!(
                    " (but timed unlike: {} launches per sample there, {repeat} here; rerun both with the same --repeat)",
                    r.repeat
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use margan::conv::ConvPath;

    fn row(conv: ConvPath, batch: usize, penalty: &str, it_per_s: f64) -> BenchRow {
        BenchRow {
            batch,
            conv,
            penalty: penalty.into(),
            one_pass: true,
            it_per_s,
            ms_per_it: 1e3 / it_per_s,
            phases: Vec::new(),
        }
    }

    fn reference(kind: &str, rows: serde_json::Value) -> Reference {
        Reference {
            torch: "2.11".into(),
            device: "NVIDIA H200".into(),
            tf32: true,
            kind: kind.into(),
            repeat: 10,
            rows: rows.as_array().unwrap().clone(),
        }
    }

    #[test]
    fn iteration_targets_are_judged_per_path() {
        let r = reference(
            "iteration",
            serde_json::json!([
                {"batch": 64, "penalty": "linf", "it_per_s": 70.0},
                {"batch": 256, "penalty": "linf", "it_per_s": 80.0},
            ]),
        );
        let mine = [
            row(ConvPath::Tiled, 64, "linf Hinge λ=20", 77.0),
            row(ConvPath::Gemm, 64, "linf Hinge λ=20", 63.0),
            row(ConvPath::Tiled, 256, "linf Hinge λ=20", 39.0),
        ];
        let lines = iteration_report(&mine, &r).unwrap();
        let text = lines.join("\n");
        assert!(text.contains("(cuDNN TF32 on)"), "{text}");
        assert!(
            text.contains(
                "target of issue #9: batch 64, linf: margan ≥ 1× PyTorch: tiled 1.10× met, gemm 0.90× NOT met"
            ),
            "{text}"
        );
        assert!(
            text.contains("batch 256, linf: margan ≥ 0.5× PyTorch: tiled 0.49× NOT met"),
            "{text}"
        );
    }

    #[test]
    fn layer_target_counts_ops_within_three_times() {
        let r = reference(
            "layers",
            serde_json::json!([
                {"batch": 64, "layer": "L", "op": "fwd", "ms": 1.0},
                {"batch": 64, "layer": "L", "op": "dinput", "ms": 1.0},
            ]),
        );
        let t = |op: &str, ms: Vec<f64>| LayerTime {
            batch: 64,
            layer: "L".into(),
            op: op.into(),
            ms,
        };
        let mine = [t("fwd", vec![2.9, 3.5]), t("dinput", vec![1.0, 0.5])];
        let paths = ["tiled".to_string(), "gemm".to_string()];
        let text = layer_report(&mine, &paths, &r, 10).unwrap().join("\n");
        assert!(
            text.contains("tiled 2 of 2, worst 2.90×, met (but this file has TF32 on)\n"),
            "{text}"
        );
        // Timed with other repeats: said in the verdict.
        let text = layer_report(&mine, &paths, &r, 1).unwrap().join("\n");
        assert!(
            text.contains("(but timed unlike: 10 launches per sample there, 1 here"),
            "{text}"
        );
        assert!(text.contains("gemm 1 of 2, worst 3.50×, NOT met"), "{text}");
        // Nothing in common: an error, not an empty verdict.
        let other = [LayerTime {
            batch: 256,
            ..t("fwd", vec![1.0, 1.0])
        }];
        assert!(layer_report(&other, &paths, &r, 10).is_err());
    }
}
