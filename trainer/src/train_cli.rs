//! `margan train`: the options that override a config file or preset ([`Overrides`]), and the
//! command itself ([`run`]): a new run in a fresh folder, or `--resume` of a saved one.

use crate::config::{self, DeviceChoice, RunConfig};
use crate::{bench_cli, checkpoint, device, presets, train};
use margan::gan::Gan;
use margan::rng::Rng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Settings that override the config file / preset (defaults: the preset's; `--print-config`
/// shows the resolved values).
#[derive(clap::Args, Default)]
pub struct Overrides {
    /// GAN loss: sgan, lsgan, hinge, wgan, rpsgan, rplsgan, rphinge, rasgan, ralsgan, rahinge.
    #[arg(long)]
    loss: Option<String>,
    /// Gradient norm of the penalty: none, l1, l2, linf.
    #[arg(long)]
    norm: Option<String>,
    /// Penalty form: ls, hinge, squared-hinge, zero-centered.
    #[arg(long)]
    form: Option<String>,
    /// Where the penalty is taken: interpolates, real-perturbed, real, fake.
    #[arg(long)]
    at: Option<String>,
    /// Penalty weight λ (≥ 0).
    #[arg(long, allow_negative_numbers = true)]
    lambda: Option<f64>,
    /// Critic's Adam learning rate (> 0).
    #[arg(long, allow_negative_numbers = true)]
    lr_d: Option<f64>,
    /// Generator's Adam learning rate (> 0).
    #[arg(long, allow_negative_numbers = true)]
    lr_g: Option<f64>,
    /// Adam's β1 for both networks, in [0, 1).
    #[arg(long, allow_negative_numbers = true)]
    beta1: Option<f64>,
    /// Adam's β2 for both networks, in [0, 1).
    #[arg(long, allow_negative_numbers = true)]
    beta2: Option<f64>,
    /// Critic updates per generator update.
    #[arg(long)]
    d_steps: Option<usize>,
    /// Samples per batch (real and fake alike).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Generator updates to train for (in total, counting those of a resumed run).
    #[arg(long)]
    iterations: Option<usize>,
    /// Seed of the weights' initialisation, the data order and the latents.
    #[arg(long)]
    seed: Option<u64>,
    /// Where to train.
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
    /// Data: shapes[:SIZE], toy:8gaussians|25gaussians|ring|swissroll, cifar10:DIR, folder:DIR[:SIZE], mnist:DIR[:SIZE].
    #[arg(long)]
    data: Option<String>,
    /// Output folder of the run.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Iterations between log lines (losses, penalty, gradient norms) and loss-plot points.
    #[arg(long)]
    log_every: Option<usize>,
    /// Iterations between sample grids written to the run folder.
    #[arg(long)]
    sample_every: Option<usize>,
    /// Iterations between checkpoints (written atomically; `--resume` continues from the last).
    #[arg(long)]
    checkpoint_every: Option<usize>,
}

impl Overrides {
    pub fn apply(&self, c: &mut RunConfig) -> Result<(), String> {
        if let Some(l) = &self.loss {
            c.loss = l.parse().map_err(|e: margan::MarganError| e.to_string())?;
        }
        if let Some(n) = &self.norm {
            c.penalty = match config::parse_norm(n)? {
                None => None,
                Some(norm) => Some(margan::GradientPenalty {
                    norm,
                    ..c.penalty.clone().unwrap_or_default()
                }),
            };
        }
        let penalty = |c: &mut RunConfig, what: &str| -> Result<margan::GradientPenalty, String> {
            c.penalty
                .clone()
                .ok_or_else(|| format!("--{what} needs a penalty; add --norm l1|l2|linf"))
        };
        if let Some(f) = &self.form {
            c.penalty = Some(margan::GradientPenalty {
                form: config::parse_form(f)?,
                ..penalty(c, "form")?
            });
        }
        if let Some(a) = &self.at {
            c.penalty = Some(margan::GradientPenalty {
                at: config::parse_where(a)?,
                ..penalty(c, "at")?
            });
        }
        if let Some(w) = self.lambda {
            c.penalty = Some(margan::GradientPenalty {
                weight: w,
                ..penalty(c, "lambda")?
            });
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f.clone() { c.$f = v; } )* };
        }
        set!(
            lr_d,
            lr_g,
            beta1,
            beta2,
            d_steps,
            batch_size,
            iterations,
            seed,
            device,
            out,
            log_every,
            sample_every,
            checkpoint_every
        );
        if let Some(d) = &self.data {
            c.data = config::parse_data(d)?;
            // Image data sets decide the image size of the model where they can.
            let [ch, size, _] = match &c.data {
                config::DataConfig::Toy { .. } => [2, 1, 1],
                config::DataConfig::Shapes { size } | config::DataConfig::Folder { size, .. } => {
                    [3, *size, *size]
                }
                config::DataConfig::Cifar10 { .. } => [3, 32, 32],
                config::DataConfig::Mnist { size, .. } => [1, *size, *size],
            };
            if let margan::model::ModelSpec::Dcgan {
                size: s, channels, ..
            } = &mut c.model
            {
                if ch != 2 {
                    (*s, *channels) = (size, ch);
                }
            }
        }
        c.validate()
    }
}

/// Trains a new run, or continues the one in `resume`; Ctrl-C stops at the next step boundary
/// with a checkpoint written.
pub fn run(
    config: Option<PathBuf>,
    preset: Option<String>,
    resume: Option<PathBuf>,
    print_config: bool,
    quiet: bool,
    matmul_tuning: (margan::kernels::matmul::MatmulTuning, &str),
    overrides: Overrides,
) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130); // second Ctrl-C: leave now (checkpoints are atomic)
            }
        });
    }
    if let Some(dir) = resume {
        if config.is_some() || preset.is_some() {
            return Err(
                "--resume takes its config from the run folder; drop --config/--preset".into(),
            );
        }
        // The device: --device, else the one the run was started with.
        let mut name = String::new();
        let (mut cfg, mut gan) = checkpoint::load_on(&dir, |saved| {
            let (device, n) = device::select(overrides.device.unwrap_or(saved.device))?;
            name = n;
            Ok(device)
        })?;
        bench_cli::check_matmul_tuning(matmul_tuning.0, matmul_tuning.1)?;
        let before = cfg.clone();
        overrides.apply(&mut cfg)?;
        cfg.out = dir.clone();
        if (cfg.model.clone(), cfg.data.clone(), cfg.seed)
            != (before.model.clone(), before.data.clone(), before.seed)
        {
            return Err("--resume can change iterations, intervals, learning rates and the device, not the model, data or seed".into());
        }
        gan.config = cfg.gan_config();
        if gan.iteration >= cfg.iterations {
            // Nothing rewritten: the run's files stay as they are.
            eprintln!(
                "{} is already at iteration {} and --iterations is {}: nothing to train \
                 (--iterations is the run's total; to go on, give more, e.g. --iterations {})",
                dir.display(),
                gan.iteration,
                cfg.iterations,
                2 * gan.iteration.max(1)
            );
            return Ok(());
        }
        if !quiet {
            eprintln!(
                "resuming {} at iteration {} on {name}",
                dir.display(),
                gan.iteration
            );
        }
        train::run(&cfg, gan, stop, quiet)?;
        return Ok(());
    }
    let mut cfg = match (&config, &preset) {
        (Some(_), Some(_)) => return Err("give either --config or --preset, not both".into()),
        (Some(file), None) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{}: cannot read ({e})", file.display()))?;
            RunConfig::from_toml(&text, &file.display().to_string())?
        }
        (None, p) => presets::preset(p.as_deref().unwrap_or(presets::DEFAULT))?,
    };
    overrides.apply(&mut cfg)?;
    if print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    // A preset's default folder is never overwritten: the next free `NAME-2`, `NAME-3`, … is
    // used instead. An explicit --out (or a config file's `out`) that holds a run is an error.
    if config.is_none() && overrides.out.is_none() && checkpoint::path(&cfg.out).exists() {
        let base = cfg.out.clone();
        cfg.out = (2..)
            .map(|k| PathBuf::from(format!("{}-{k}", base.display())))
            .find(|p| !checkpoint::path(p).exists())
            .expect("a free folder name");
        if !quiet {
            eprintln!(
                "{} already holds a run; writing to {}",
                base.display(),
                cfg.out.display()
            );
        }
    }
    if checkpoint::path(&cfg.out).exists() {
        return Err(format!(
            "{} already holds a run; continue it with `margan train --resume {}` or pick another --out",
            cfg.out.display(),
            cfg.out.display()
        ));
    }
    let (device, name) = device::select(cfg.device)?;
    bench_cli::check_matmul_tuning(matmul_tuning.0, matmul_tuning.1)?;
    if !quiet {
        eprintln!("training on {name} → {}", cfg.out.display());
    }
    let mut rng = Rng::new(cfg.seed);
    let g = cfg.model.init_generator(&device, &mut rng);
    let d = cfg.model.init_discriminator(&device, &mut rng);
    let gan = Gan::new(g, d, cfg.gan_config(), rng.fork(), device);
    train::run(&cfg, gan, stop, quiet)?;
    Ok(())
}
