//! `margan margins`: the swiss-roll expected-margin table, as text, CSV and a plot of the
//! decision boundaries.

use crate::plot;
use margan::layers::Mode;
use margan::swiss::{self, SwissRollConfig};
use std::path::Path;

pub fn run(
    quick: bool,
    seed: u64,
    out: &Path,
    iterations: Option<usize>,
    weight: Option<f64>,
    only: &[String],
) -> Result<(), String> {
    let mut cfg = if quick {
        SwissRollConfig::quick(seed)
    } else {
        SwissRollConfig::full(seed)
    };
    cfg.iterations = iterations.unwrap_or(cfg.iterations);
    cfg.weight = weight.unwrap_or(cfg.weight);
    if !(cfg.weight >= 0.0 && cfg.weight.is_finite()) {
        return Err(format!(
            "--weight {}: the penalty weight λ must be a finite number ≥ 0",
            cfg.weight
        ));
    }
    let known: Vec<String> = swiss::variants(cfg.weight)
        .into_iter()
        .map(|(n, _)| n.replace(' ', "-").to_lowercase())
        .collect();
    for v in only {
        if !known.contains(&v.to_lowercase()) {
            return Err(format!(
                "unknown variant `{v}`; choose from {}",
                known.join(", ")
            ));
        }
    }
    cfg.only = only.iter().map(|v| v.to_lowercase()).collect();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create ({e})", out.display()))?;
    let device = margan::device::cpu();
    eprintln!("swiss roll vs 1.5× swiss roll; MLP width {}, {} Adam steps, λ = {}, margins over {} samples per class", cfg.width, cfg.iterations, cfg.weight, cfg.eval_per_class);
    let rows = swiss::run(&cfg, &device, |v| eprintln!("  training: {v}"));
    println!(
        "{:<12} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8} {:>9} {:>10}",
        "penalty", "L1", "L2", "L∞", "L1 grid", "L2 grid", "L∞ grid", "accuracy", "converged"
    );
    let mut csv = String::from("penalty,l1_margin,l2_margin,linf_margin,l1_grid,l2_grid,linf_grid,train_accuracy,converged_l1,converged_l2,converged_linf\n");
    for (r, _) in &rows {
        let [a, b, c] = r.margins;
        let [ga, gb, gc] = r.exact;
        let conv = r.converged.iter().sum::<f64>() / 3.0;
        println!(
            "{:<12} {:>8.3} {:>8.3} {:>8.3}   {:>8.3} {:>8.3} {:>8.3} {:>9.3} {:>9.0}%",
            r.variant,
            a,
            b,
            c,
            ga,
            gb,
            gc,
            r.accuracy,
            100.0 * conv
        );
        csv += &format!(
            "{},{a},{b},{c},{ga},{gb},{gc},{},{},{},{}\n",
            r.variant, r.accuracy, r.converged[0], r.converged[1], r.converged[2]
        );
    }
    println!(
        "(L· grid: the same margins by brute force, boundary traced on a {0}×{0} grid)",
        cfg.grid_res
    );
    if rows
        .iter()
        .any(|(r, _)| r.margins.iter().any(|m| m.is_nan()))
    {
        println!("(NaN: no decision boundary in reach, so no margin; that classifier did not separate the classes: more --iterations)");
    }
    std::fs::write(out.join("margins.csv"), csv).map_err(|e| format!("{}: {e}", out.display()))?;
    // One panel per variant: both classes over the classifier's decision surface.
    let (a, b) = swiss::data(
        cfg.eval_per_class,
        cfg.scale,
        &mut margan::rng::Rng::new(seed ^ 0xE7A1),
    );
    // The outer roll reaches 1.5 · 4.5π ≈ 21.2 (times the scale).
    let grid = plot::Grid {
        res: 96,
        lo: -22.0 * cfg.scale,
        hi: 22.0 * cfg.scale,
    };
    let points = margan::toy::points_tensor(&grid.points(), &device);
    let panels: Vec<image::RgbImage> = rows
        .iter()
        .map(|(r, net)| {
            let values = margan::device::to_vec(net.forward(points.clone(), Mode::Eval));
            plot::scatter(
                &a,
                &b,
                &values,
                grid,
                &r.variant,
                "green: roll  black: roll x1.5",
            )
        })
        .collect();
    let cols = 4;
    let (w, h) = (panels[0].width(), panels[0].height());
    let mut sheet = image::RgbImage::from_pixel(
        w * cols,
        h * panels.len().div_ceil(cols as usize) as u32,
        image::Rgb(plot::WHITE),
    );
    for (i, p) in panels.iter().enumerate() {
        image::imageops::replace(
            &mut sheet,
            p,
            ((i as u32 % cols) * w) as i64,
            ((i as u32 / cols) * h) as i64,
        );
    }
    plot::save(&sheet, &out.join("decision_boundaries.png"))?;
    eprintln!(
        "wrote {} and {}",
        out.join("margins.csv").display(),
        out.join("decision_boundaries.png").display()
    );
    Ok(())
}
