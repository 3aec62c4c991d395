//! The training loop: progress bar, metrics, samples, plots, checkpoints, Ctrl-C, resume.

use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{Prefetch, Source};
use crate::plot;
use burn::tensor::{Device, Tensor, TensorData};
use margan::gan::{Gan, StepStats, StepTensors};
use margan::layers::Mode;
use margan::rng::Rng;
use margan::MarganError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Most steps whose figures stay on the device before they are read (see the training loop).
pub const READ_EVERY: usize = 8;
/// Longest time the figures stay unread (the progress bar moves at least this often).
const READ_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metric {
    pub iteration: usize,
    #[serde(flatten)]
    pub stats: StepStats,
    pub it_per_s: f64,
}

/// Latents of the sample grid: fixed by the seed for the whole run.
pub fn fixed_latents(config: &RunConfig, n: usize, device: &Device) -> Tensor<4> {
    Rng::new(config.seed ^ 0x5A3D_1E00).normal_tensor(
        [n, config.model.z_dim(), 1, 1],
        0.0,
        1.0,
        device,
    )
}

fn to_points(v: &[f32]) -> Vec<[f64; 2]> {
    v.chunks(2).map(|p| [p[0] as f64, p[1] as f64]).collect()
}

/// Writes the sample grid (images) or the scatter plot over the critic (2-D) to `file`.
pub fn write_samples(
    config: &RunConfig,
    gan: &Gan,
    source: Option<&Source>,
    file: &Path,
) -> Result<(), String> {
    let device = &gan.device;
    let [c, h, _] = config.model.sample_shape();
    if c == 2 && h == 1 {
        let fake = margan::device::to_vec(gan.generate(fixed_latents(config, 512, device)));
        let real = source
            .map(|s| s.batch(config.seed, u64::MAX, 512))
            .unwrap_or_default();
        let grid = plot::Grid {
            res: 96,
            lo: -3.0,
            hi: 3.0,
        };
        let points = margan::toy::points_tensor(&grid.points(), device);
        let values = margan::device::to_vec(gan.d.forward(points, Mode::Eval).detach());
        let title = format!("iteration {}", gan.iteration);
        plot::save(
            &plot::scatter(
                &to_points(&real),
                &to_points(&fake),
                &values,
                grid,
                &title,
                "green: real  black: generated",
            ),
            file,
        )
    } else {
        let imgs = margan::device::to_vec(gan.generate(fixed_latents(config, 64, device)));
        plot::save(&plot::image_grid(&imgs, c, h, 8), file)
    }
}

/// Reads `metrics.jsonl`, keeping lines up to `max_iteration`.
pub fn read_metrics(file: &Path, max_iteration: usize) -> Vec<Metric> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Metric>(l).ok())
        .filter(|m| m.iteration <= max_iteration)
        .collect()
}

pub fn write_loss_plot(metrics: &[Metric], file: &Path) -> Result<(), String> {
    let s = |f: fn(&Metric) -> f64| {
        metrics
            .iter()
            .map(|m| (m.iteration as f64, f(m)))
            .collect::<Vec<_>>()
    };
    let panels = [
        plot::Panel {
            title: "losses",
            series: vec![
                ("D loss", s(|m| m.stats.d_loss)),
                ("G loss", s(|m| m.stats.g_loss)),
            ],
        },
        plot::Panel {
            title: "gradient penalty",
            series: vec![("penalty", s(|m| m.stats.penalty))],
        },
        plot::Panel {
            title: "critic gradient norm",
            series: vec![
                ("at real", s(|m| m.stats.grad_norm_real)),
                ("at fake", s(|m| m.stats.grad_norm_fake)),
            ],
        },
    ];
    plot::save(&plot::curves(&panels), file)
}

/// Trains `gan` to `config.iterations`, writing everything under `config.out`.
pub fn run(
    config: &RunConfig,
    mut gan: Gan,
    stop: Arc<AtomicBool>,
    quiet: bool,
) -> Result<Gan, String> {
    let out = &config.out;
    std::fs::create_dir_all(out.join("samples"))
        .map_err(|e| format!("{}: cannot create ({e})", out.display()))?;
    std::fs::write(out.join("config.toml"), config.to_toml())
        .map_err(|e| format!("{}: cannot write config ({e})", out.display()))?;
    let source = Arc::new(Source::open(&config.data)?);
    if source.shape() != config.model.sample_shape() {
        return Err(format!(
            "data are {:?} per sample, the model expects {:?}",
            source.shape(),
            config.model.sample_shape()
        ));
    }
    // Keep the metrics of the iterations the checkpoint covers (an interrupted run may have
    // logged a few more).
    let metrics_file = out.join("metrics.jsonl");
    let kept = read_metrics(&metrics_file, gan.iteration);
    let mut log = std::fs::File::create(&metrics_file)
        .map_err(|e| format!("{}: {e}", metrics_file.display()))?;
    for m in &kept {
        writeln!(log, "{}", serde_json::to_string(m).unwrap()).map_err(|e| e.to_string())?;
    }

    let batch = config.batch_size;
    let [c, h, w] = source.shape();
    let per_step = (config.d_steps + 1) as u64;
    let prefetch = Prefetch::new(
        source.clone(),
        config.seed,
        gan.iteration as u64 * per_step,
        batch,
    );
    let device = gan.device.clone();
    let to_tensor =
        |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [batch, c, h, w]), &device);

    // The state before the first step is the first "last good" checkpoint.
    if !checkpoint::path(out).exists() {
        checkpoint::save(config, &gan)?;
    }
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(config.iterations as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {per_sec} ETA {eta} {msg}")
            .unwrap(),
    );
    bar.set_position(gan.iteration as u64);
    let started = Instant::now();
    let start_iter = gan.iteration;
    let mut window = Instant::now();
    let mut window_start = gan.iteration;
    // Each step's figures stay on the device until they are needed (a logged, sampled or saved
    // iteration, Ctrl-C) or READ_EVERY steps or READ_AFTER have gone by: the host then queues the
    // next steps while the GPU runs the earlier ones, instead of waiting on every step. Every
    // step's losses are checked, and before any checkpoint is written.
    let mut pending: Vec<StepTensors> = Vec::new();
    let mut last_read = Instant::now();
    let diverged = |e: MarganError, at: usize| {
        let failed = match e {
            MarganError::NonFinite {
                iteration: Some(i), ..
            } => i,
            _ => at,
        };
        format!(
            "{e}: training diverged. The last good checkpoint is {} (iteration ≤ {}); lower the learning rates or the penalty weight and resume with `margan train --resume {}`",
            checkpoint::path(out).display(),
            failed - 1,
            out.display()
        )
    };
    while gan.iteration < config.iterations {
        if stop.load(Ordering::SeqCst) {
            let at = gan.iteration;
            if let Err(e) = StepTensors::read_all(std::mem::take(&mut pending)) {
                bar.abandon();
                return Err(diverged(e, at));
            }
            checkpoint::save(config, &gan)?;
            bar.abandon();
            return Err(format!(
                "interrupted at iteration {}; checkpoint saved. Continue with: margan train --resume {}",
                gan.iteration,
                out.display()
            ));
        }
        // Gradient norms are measured on the iterations that are logged.
        let next = gan.iteration + 1;
        gan.diagnostics = next.is_multiple_of(config.log_every) || next == config.iterations;
        pending.push(gan.step_tensors(|_| to_tensor(prefetch.next())));
        let it = gan.iteration;
        let last = it == config.iterations;
        let logged = it.is_multiple_of(config.log_every) || last;
        let sampled = it.is_multiple_of(config.sample_every) || last;
        let saved = it.is_multiple_of(config.checkpoint_every) || last;
        if !(logged
            || sampled
            || saved
            || pending.len() >= READ_EVERY
            || last_read.elapsed() >= READ_AFTER)
        {
            continue;
        }
        let read = match StepTensors::read_all(std::mem::take(&mut pending)) {
            Ok(read) => read,
            Err(e) => {
                bar.abandon();
                return Err(diverged(e, it));
            }
        };
        last_read = Instant::now();
        bar.set_position(it as u64);
        let stats = read.last().expect("this step's figures were read").1;
        if logged {
            bar.set_message(format!(
                "D {:.3} G {:.3} GP {:.3} |∇| real {:.3} fake {:.3}",
                stats.d_loss,
                stats.g_loss,
                stats.penalty,
                stats.grad_norm_real,
                stats.grad_norm_fake
            ));
            let it_per_s = (it - window_start) as f64 / window.elapsed().as_secs_f64().max(1e-9);
            (window, window_start) = (Instant::now(), it);
            let m = Metric {
                iteration: it,
                stats,
                it_per_s,
            };
            writeln!(log, "{}", serde_json::to_string(&m).unwrap()).map_err(|e| e.to_string())?;
        }
        if sampled {
            let file = out.join("samples").join(format!("iter_{it:07}.png"));
            write_samples(config, &gan, Some(source.as_ref()), &file)?;
            let (tmp, latest) = (out.join("samples.png.tmp"), out.join("samples.png"));
            std::fs::copy(&file, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &latest))
                .map_err(|e| format!("{}: cannot write ({e})", latest.display()))?;
        }
        if saved {
            checkpoint::save(config, &gan)?;
        }
    }
    log.flush().map_err(|e| e.to_string())?;
    bar.finish();
    write_loss_plot(
        &read_metrics(&metrics_file, usize::MAX),
        &out.join("losses.png"),
    )?;
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "trained {} iterations in {secs:.1} s ({:.2} it/s) → {}",
            gan.iteration - start_iter,
            (gan.iteration - start_iter) as f64 / secs.max(1e-9),
            out.display()
        );
        eprintln!("  samples:    {}", out.join("samples.png").display());
        eprintln!("  losses:     {}", out.join("losses.png").display());
        eprintln!("  metrics:    {}", metrics_file.display());
        eprintln!("  checkpoint: {}", checkpoint::path(out).display());
    }
    Ok(gan)
}
