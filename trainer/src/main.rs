//! `margan`: train margin-penalised GANs, sample and export generators, benchmark.

mod alloc;
mod bench;
mod bench_against;
mod bench_cli;
mod bench_kernels;
mod bench_layers;
mod bench_matmul;
mod checkpoint;
mod config;
mod data;
mod device;
mod large_blocks;
mod margins;
mod plot;
mod presets;
mod run_cli;
mod train;
mod train_cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use train_cli::Overrides;

/// The system allocator, keeping freed blocks of 32 MiB and more for reuse (`large_blocks`).
#[global_allocator]
static ALLOCATOR: large_blocks::LargeBlockCache = large_blocks::LargeBlockCache::new();

/// The parser of a count option that must be at least 1 (clap names the bound on 0).
pub(crate) fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

#[derive(Parser)]
#[command(
    name = "margan",
    version,
    about = "Train GANs whose critics are maximum-margin classifiers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Train a GAN (default: the embedded shapes data set, about a minute on 2 CPU cores).
    Train {
        /// A TOML run config (see `margan train --print-config`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A named preset (`margan presets` lists them).
        #[arg(long)]
        preset: Option<String>,
        /// Continue the run in this folder from its checkpoint.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Print the resolved config as TOML and exit.
        #[arg(long)]
        print_config: bool,
        /// No progress bar or summary.
        #[arg(long)]
        quiet: bool,
        /// How the GPU path picks each matrix product (not saved with the run): measure (the
        /// fastest per shape), heuristic, burn, a kernel variant such as 64x64+pf; experimental,
        /// with operands rounded to f16: f16 (or one of its variants, e.g. f16-128x128+pf) or
        /// measure-f16 (tensor cores, where the adapter has them) and f16-emulated (their
        /// arithmetic on any wgpu adapter); f16x3 or measure-f16x3 (tensor cores with f32's
        /// precision: each operand as two f16 parts). See README, "GPU speed".
        #[arg(long, default_value = "measure")]
        matmul_tuning: String,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Write a PNG grid of samples from a run's generator.
    Sample {
        /// The run folder (written by `margan train`, holding checkpoint.bin).
        #[arg(long)]
        run: PathBuf,
        /// How many samples, laid out in a square grid (at least 1).
        #[arg(long, default_value_t = 64, value_parser = at_least_one())]
        n: usize,
        /// Seed of the latents.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output PNG (default: RUN/sample.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Export a run's generator for the browser app.
    Export {
        /// The run folder (written by `margan train`, holding checkpoint.bin).
        #[arg(long)]
        run: PathBuf,
        /// The generator file to write (e.g. www/mine.margan), for the browser app's sampler.
        #[arg(long)]
        out: PathBuf,
    },
    /// Training iterations per second of a preset.
    Bench(bench_cli::BenchArgs),
    /// The paper's expected-margin experiment on the swiss roll (Table 1).
    Margins {
        /// A smaller network and fewer steps (minutes on a 2-core CPU).
        #[arg(long)]
        quick: bool,
        /// Seed of the training and evaluation data, the initialisations and the penalty's points.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder for margins.csv and decision_boundaries.png.
        #[arg(long, default_value = "runs/margins")]
        out: PathBuf,
        /// Adam steps per classifier, at least 1 (default: 3000, quick 1500).
        #[arg(long, value_parser = at_least_one())]
        iterations: Option<usize>,
        /// Penalty weight λ, ≥ 0 (default 20).
        #[arg(long, allow_negative_numbers = true)]
        weight: Option<f64>,
        /// Only these variants, comma separated (e.g. none,linf-hinge).
        #[arg(long, value_delimiter = ',')]
        variants: Vec<String>,
    },
    /// List the presets.
    Presets,
}

fn main() -> ExitCode {
    // Slower without, never wrong: a refusal keeps glibc's defaults.
    let _ = alloc::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train {
            config,
            preset,
            resume,
            print_config,
            quiet,
            matmul_tuning,
            overrides,
        } => bench_cli::parse_matmul_tuning(&matmul_tuning).and_then(|t| {
            margan::kernels::matmul::set_matmul_tuning(t);
            let tuning = (t, matmul_tuning.as_str());
            train_cli::run(
                config,
                preset,
                resume,
                print_config,
                quiet,
                tuning,
                overrides,
            )
        }),
        Command::Sample { run, n, seed, out } => run_cli::sample(&run, n, seed, out),
        Command::Export { run, out } => run_cli::export(&run, &out),
        Command::Bench(args) => bench_cli::run(args),
        Command::Margins {
            quick,
            seed,
            out,
            iterations,
            weight,
            variants,
        } => margins::run(quick, seed, &out, iterations, weight, &variants),
        Command::Presets => {
            for n in presets::names() {
                println!("{n}");
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
