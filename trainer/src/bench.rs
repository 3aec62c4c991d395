//! `margan bench`: training iterations per second of a preset, after warm-up.

use crate::config::RunConfig;
use burn::tensor::Device;
use margan::conv::{resolve, with_conv_path, ConvPath};
use margan::gan::Gan;
use margan::rng::Rng;
use margan::GradientPenalty;
use std::time::Instant;

pub struct BenchRow {
    pub batch: usize,
    /// The convolution path that ran (`auto` resolved).
    pub conv: ConvPath,
    pub penalty: String,
    pub it_per_s: f64,
    pub ms_per_it: f64,
}

/// Times `iterations` full steps (`d_steps` critic updates + 1 generator update) per
/// (convolution path, batch, penalty) after `warmup` untimed ones, on synthetic data already on
/// the device.
pub fn run(
    config: &RunConfig,
    device: &Device,
    paths: &[ConvPath],
    batches: &[usize],
    penalties: &[Option<GradientPenalty>],
    warmup: usize,
    iterations: usize,
) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for &path in paths {
        let path = with_conv_path(path, || resolve(device));
        with_conv_path(path, || {
            rows.extend(run_path(
                config, device, path, batches, penalties, warmup, iterations,
            ))
        });
    }
    rows
}

fn run_path(
    config: &RunConfig,
    device: &Device,
    path: ConvPath,
    batches: &[usize],
    penalties: &[Option<GradientPenalty>],
    warmup: usize,
    iterations: usize,
) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for &batch in batches {
        for penalty in penalties {
            let mut rng = Rng::new(config.seed);
            let g = config.model.init_generator(device, &mut rng);
            let d = config.model.init_discriminator(device, &mut rng);
            let mut gc = config.gan_config();
            gc.penalty = penalty.clone();
            let mut gan = Gan::new(g, d, gc, rng.fork(), device.clone());
            // As in training, where gradient norms are measured only on logged iterations.
            gan.diagnostics = false;
            let [c, h, w] = config.model.sample_shape();
            let real = rng.uniform_tensor([batch, c, h, w], -1.0, 1.0, device);
            for _ in 0..warmup {
                gan.step(|_| real.clone()).expect("finite");
            }
            let _ = device.sync();
            let t = Instant::now();
            for _ in 0..iterations {
                gan.step(|_| real.clone()).expect("finite");
            }
            let _ = device.sync();
            let secs = t.elapsed().as_secs_f64();
            let name = match penalty {
                None => "none".to_string(),
                Some(p) => format!("{} {:?} λ={}", p.norm.name(), p.form, p.weight),
            };
            rows.push(BenchRow {
                batch,
                conv: path,
                penalty: name,
                it_per_s: iterations as f64 / secs,
                ms_per_it: 1e3 * secs / iterations as f64,
            });
        }
    }
    rows
}

pub fn print(preset: &str, device: &str, rows: &[BenchRow]) {
    println!("margan bench: preset {preset}, device {device}");
    let first = rows.first().map(|r| r.conv);
    println!(
        "{:>5} {:>6}  {:<24} {:>10} {:>10} {:>9} {:>10}",
        "conv",
        "batch",
        "penalty",
        "it/s",
        "ms/it",
        "vs none",
        format!("vs {}", first.map_or("-", |c| c.name()))
    );
    let ratio = |x: Option<f64>| x.map_or_else(|| "-".into(), |x| format!("{x:.2}×"));
    for r in rows {
        let find = |conv: Option<ConvPath>, penalty: &str| {
            rows.iter()
                .find(|b| Some(b.conv) == conv && b.batch == r.batch && b.penalty == penalty)
                .map(|b| r.it_per_s / b.it_per_s)
        };
        println!(
            "{:>5} {:>6}  {:<24} {:>10.2} {:>10.1} {:>9} {:>10}",
            r.conv.name(),
            r.batch,
            r.penalty,
            r.it_per_s,
            r.ms_per_it,
            ratio(find(Some(r.conv), "none")),
            ratio(find(first, &r.penalty)),
        );
    }
}
