//! `margan bench`: training iterations per second of a preset, after warm-up.

use crate::config::RunConfig;
use crate::train::READ_EVERY;
use burn::tensor::{Device, Tensor};
use margan::conv::{resolve, with_conv_path, ConvPath};
use margan::gan::{Gan, StepTensors};
use margan::phase::Phase;
use margan::rng::Rng;
use margan::GradientPenalty;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

/// What `margan bench` times.
pub struct BenchPlan {
    pub paths: Vec<ConvPath>,
    pub batches: Vec<usize>,
    pub penalties: Vec<Option<GradientPenalty>>,
    /// How the critic steps run the critic (`Gan::one_critic_pass`): `true` one pass over the
    /// real, fake and penalty batches, `false` one pass per batch; each is timed.
    pub critic_passes: Vec<bool>,
    /// Untimed iterations first (they also absorb burn's autotune on wgpu).
    pub warmup: usize,
    pub iterations: usize,
    /// Also time each phase of the iteration, in `iterations` extra iterations that synchronise
    /// the device after every phase (so the overlap of phases is lost there, not in `it/s`).
    pub phases: bool,
}

pub struct BenchRow {
    pub batch: usize,
    /// The convolution path that ran (`auto` resolved).
    pub conv: ConvPath,
    pub penalty: String,
    /// Whether the critic took one pass over its batches (`Gan::one_critic_pass`).
    pub one_pass: bool,
    pub it_per_s: f64,
    pub ms_per_it: f64,
    /// Milliseconds per iteration in each phase, when asked for (synchronised).
    pub phases: Vec<(Phase, f64)>,
}

/// Times `iterations` full steps (`d_steps` critic updates + 1 generator update) per
/// (convolution path, batch, penalty) after `warmup` untimed ones, on synthetic data already on
/// the device. Each row is printed as soon as it is measured (a GPU lent for minutes may be
/// taken back before the last one), the phase table at the end.
pub fn run(
    preset: &str,
    name: &str,
    config: &RunConfig,
    device: &Device,
    plan: &BenchPlan,
) -> Vec<BenchRow> {
    print_header(preset, name);
    let mut rows = Vec::new();
    for &path in &plan.paths {
        let path = with_conv_path(path, || resolve(device));
        with_conv_path(path, || run_path(config, device, path, plan, &mut rows));
    }
    print_phases(&rows);
    rows
}

fn run_path(
    config: &RunConfig,
    device: &Device,
    path: ConvPath,
    plan: &BenchPlan,
    rows: &mut Vec<BenchRow>,
) {
    let (warmup, iterations) = (plan.warmup, plan.iterations);
    for &batch in &plan.batches {
        for penalty in &plan.penalties {
            for &one_pass in &plan.critic_passes {
                let mut rng = Rng::new(config.seed);
                let g = config.model.init_generator(device, &mut rng);
                let d = config.model.init_discriminator(device, &mut rng);
                let mut gc = config.gan_config();
                gc.penalty = penalty.clone();
                let mut gan = Gan::new(g, d, gc, rng.fork(), device.clone());
                // As in training, where gradient norms are measured only on logged iterations.
                gan.diagnostics = false;
                gan.one_critic_pass = one_pass;
                let [c, h, w] = config.model.sample_shape();
                let real = rng.uniform_tensor([batch, c, h, w], -1.0, 1.0, device);
                run_steps(&mut gan, &real, warmup);
                let settled = settle(&mut gan, &real, device, warmup.max(2));
                let t = Instant::now();
                run_steps(&mut gan, &real, iterations);
                let _ = device.sync();
                let secs = t.elapsed().as_secs_f64();
                let phases = if plan.phases {
                    time_phases(&mut gan, &real, iterations)
                } else {
                    Vec::new()
                };
                let name = match penalty {
                    None => "none".to_string(),
                    Some(p) => format!("{} {:?} λ={}", p.norm.name(), p.form, p.weight),
                };
                rows.push(BenchRow {
                    batch,
                    conv: path,
                    penalty: name,
                    one_pass,
                    it_per_s: iterations as f64 / secs,
                    ms_per_it: 1e3 * secs / iterations as f64,
                    phases,
                });
                print_row(rows);
                if let Some(s) = settled {
                    println!("{:>14}{s}", "");
                }
            }
        }
    }
}

/// How a row's critic ran, for the tables.
pub fn critic_pass_name(one_pass: bool) -> &'static str {
    if one_pass {
        "one"
    } else {
        "separate"
    }
}

/// Blocks of relative difference under this are steady.
const STEADY: f64 = 0.05;
/// Most blocks [`settle`] runs (and most samples `bench --layers` adds to an op's warm-up).
pub(crate) const MAX_SETTLE_BLOCKS: usize = 8;

/// Whether a timing of `now` ms after one of `before` ms is steady: within 5% of it.
pub(crate) fn steady(before: f64, now: f64) -> bool {
    (now - before).abs() <= STEADY * before
}

/// Blocks of `block` iterations after the warm-up, each timed between waits on the device,
/// until one takes within 5% of the one before (at most 8 blocks): a GPU that has just been idle
/// or has just measured dozens of product shapes may take a while to reach its steady speed,
/// and the first row timed would pay for it. Returns a note for the table where the first block
/// and the last differ by more than 5% (their ms per iteration), `None` where the warm-up was
/// enough.
fn settle(gan: &mut Gan, real: &Tensor<4>, device: &Device, block: usize) -> Option<String> {
    let _ = device.sync();
    let mut ms = Vec::new();
    while ms.len() < MAX_SETTLE_BLOCKS {
        let t = Instant::now();
        run_steps(gan, real, block);
        let _ = device.sync();
        ms.push(1e3 * t.elapsed().as_secs_f64() / block as f64);
        if let [.., a, b] = ms[..] {
            if steady(a, b) {
                break;
            }
        }
    }
    let (first, last) = (ms[0], ms[ms.len() - 1]);
    let reached = ms.len() < MAX_SETTLE_BLOCKS;
    (!steady(last, first)).then(|| {
        format!(
            "(after the warm-up, {} blocks of {block} iterations {}: {first:.1} → {last:.1} ms/it)",
            ms.len(),
            if reached {
                "to reach a steady speed"
            } else {
                "and still not steady"
            }
        )
    })
}

/// `n` iterations on `real`, their figures read back every [`READ_EVERY`] iterations (as
/// `margan train` does, and as the PyTorch twin, which reads nothing, waits on the device only
/// at the end); panics on a NaN/inf loss.
fn run_steps(gan: &mut Gan, real: &Tensor<4>, n: usize) {
    let mut pending = Vec::new();
    for i in 0..n {
        pending.push(gan.step_tensors(|_| real.clone()));
        if pending.len() == READ_EVERY || i + 1 == n {
            StepTensors::read_all(std::mem::take(&mut pending)).expect("finite losses");
        }
    }
}

/// Milliseconds per iteration spent in each phase over `iterations` steps, the device
/// synchronised at every phase end.
fn time_phases(gan: &mut Gan, real: &Tensor<4>, iterations: usize) -> Vec<(Phase, f64)> {
    let totals = Rc::new(RefCell::new(vec![0.0f64; Phase::ALL.len()]));
    let last = Rc::new(RefCell::new(Instant::now()));
    let device = gan.device.clone();
    let (t, l) = (totals.clone(), last.clone());
    gan.phase_hook = Some(Box::new(move |phase| {
        let _ = device.sync();
        let now = Instant::now();
        let i = Phase::ALL
            .iter()
            .position(|&p| p == phase)
            .expect("a known phase");
        t.borrow_mut()[i] += (now - *l.borrow()).as_secs_f64();
        *l.borrow_mut() = now;
    }));
    for _ in 0..iterations {
        let _ = gan.device.sync();
        *last.borrow_mut() = Instant::now();
        gan.step(|_| real.clone()).expect("finite");
    }
    gan.phase_hook = None;
    let totals = totals.borrow();
    Phase::ALL
        .iter()
        .zip(totals.iter())
        .map(|(&p, &s)| (p, 1e3 * s / iterations as f64))
        .collect()
}

fn print_header(preset: &str, device: &str) {
    println!(
        "margan bench: preset {preset}, device {device}; tiled path's matrix products: {}",
        margan::kernels::matmul::matmul_tuning().name()
    );
    println!(
        "{:>5} {:>6}  {:<24} {:>8} {:>10} {:>10} {:>9} {:>10} {:>9}",
        "conv", "batch", "penalty", "critic", "it/s", "ms/it", "vs none", "vs conv 1", "vs other"
    );
}

/// The last row of `rows`, with its ratios to the same batch without a penalty, to the first
/// convolution path's row and to the row whose critic ran the other way (`critic`: one pass or
/// separate passes), where those were measured before it.
fn print_row(rows: &[BenchRow]) {
    let (Some(r), Some(first)) = (rows.last(), rows.first().map(|r| r.conv)) else {
        return;
    };
    let ratio = |x: Option<f64>| x.map_or_else(|| "-".into(), |x| format!("{x:.2}×"));
    let find = |conv: ConvPath, penalty: &str, one_pass: bool| {
        rows.iter()
            .find(|b| {
                b.conv == conv
                    && b.batch == r.batch
                    && b.penalty == penalty
                    && b.one_pass == one_pass
            })
            .map(|b| r.it_per_s / b.it_per_s)
    };
    println!(
        "{:>5} {:>6}  {:<24} {:>8} {:>10.2} {:>10.1} {:>9} {:>10} {:>9}",
        r.conv.name(),
        r.batch,
        r.penalty,
        critic_pass_name(r.one_pass),
        r.it_per_s,
        r.ms_per_it,
        ratio(find(r.conv, "none", r.one_pass)),
        ratio(find(first, &r.penalty, r.one_pass)),
        ratio(find(r.conv, &r.penalty, !r.one_pass)),
    );
}

fn print_phases(rows: &[BenchRow]) {
    if rows.iter().all(|r| r.phases.is_empty()) {
        return;
    }
    println!("phases, ms per iteration (device synchronised after each phase):");
    print!(
        "{:>5} {:>6}  {:<24} {:>8}",
        "conv", "batch", "penalty", "critic"
    );
    for p in Phase::ALL {
        print!(" {:>8}", p.name());
    }
    println!(" {:>8}", "sum");
    for r in rows {
        print!(
            "{:>5} {:>6}  {:<24} {:>8}",
            r.conv.name(),
            r.batch,
            r.penalty,
            critic_pass_name(r.one_pass)
        );
        for (_, ms) in &r.phases {
            print!(" {ms:>8.2}");
        }
        println!(" {:>8.2}", r.phases.iter().map(|(_, ms)| ms).sum::<f64>());
    }
}

/// With several devices (same plan on each, so rows line up): it/s side by side and each
/// device's ratio to the first.
pub fn print_devices(tables: &[(String, Vec<BenchRow>)]) {
    let Some((_, first)) = tables.first() else {
        return;
    };
    println!("devices compared, it/s (and the ratio to device 0):");
    for (i, (name, _)) in tables.iter().enumerate() {
        println!("  [{i}] {name}");
    }
    print!("{:>6}  {:<24}", "batch", "penalty");
    for i in 0..tables.len() {
        print!(" {:>14}", format!("[{i}] conv it/s"));
        if i > 0 {
            print!(" {:>8}", format!("[{i}]/[0]"));
        }
    }
    println!();
    for (k, r0) in first.iter().enumerate() {
        print!("{:>6}  {:<24}", r0.batch, r0.penalty);
        for (i, (_, rows)) in tables.iter().enumerate() {
            let r = &rows[k];
            print!(" {:>14}", format!("{} {:.2}", r.conv.name(), r.it_per_s));
            if i > 0 {
                print!(" {:>8}", format!("{:.3}×", r.it_per_s / r0.it_per_s));
            }
        }
        println!();
    }
}
