//! `margan bench`'s options and dispatch: the full iteration, its phases, every convolution
//! alone (`--layers`) or the row-norm kernels (`--kernels`), on one device or several.

use crate::config::{self, DeviceChoice};
use crate::{bench, bench_against, bench_kernels, bench_layers, bench_matmul, device, presets};
use margan::conv::ConvPath;
use margan::kernels::matmul::{MatmulChoice, MatmulTuning, MatmulVariant, TcVariant};

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value = presets::DEFAULT)]
    preset: String,
    /// Devices, comma separated: auto, cpu (flex), wgpu, ndarray. With several, a last table
    /// compares their it/s (e.g. `--device cpu,ndarray` for the CPU backends).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "auto")]
    device: Vec<DeviceChoice>,
    /// Batch sizes, comma separated (default: the preset's).
    #[arg(long, value_delimiter = ',')]
    batch: Vec<usize>,
    /// Penalties to compare, comma separated: none, l1, l2, linf (hinge form, λ = 20, interpolates).
    #[arg(long, value_delimiter = ',', default_value = "none,l2,linf")]
    penalty: Vec<String>,
    /// Untimed iterations before each row (the first ones tune every matrix product and
    /// convolution shape on wgpu); then untimed blocks of as many (at least 2) until one runs
    /// within 5% of the one before (at most 8; a note under the row says when the first and
    /// last differed). (--layers warms each op up by 2 samples, then more until steady.)
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed iterations per row (at least 1).
    #[arg(long, default_value_t = 10, value_parser = crate::at_least_one())]
    iterations: usize,
    /// Convolution paths to compare, comma separated: auto (tiled on native wgpu, gemm on the
    /// CPU), burn (burn's own convolutions), gemm (patches + burn's matrix product over the
    /// whole batch), tiled (gemm with margan's split-K WGSL product for the thin products).
    #[arg(long, value_delimiter = ',', default_value = "auto")]
    conv: Vec<String>,
    /// How a critic step runs the critic, comma separated: one (one pass over the real batch,
    /// the fake batch and the penalty's points side by side, BatchNorm statistics per batch;
    /// margan's default) or separate (one pass per batch, as the paper's code and the PyTorch
    /// twin). Both: each timed, with the ratio.
    #[arg(long, value_delimiter = ',', default_value = "one")]
    critic_pass: Vec<String>,
    /// Time the WGSL kernels instead: the row norms against the plain-tensor composition, the
    /// fused Adam step against burn's Adam (wgpu builds, --device wgpu).
    #[arg(long)]
    kernels: bool,
    /// Time every DCGAN-32 convolution alone instead (forward, input and weight gradient,
    /// per path in --conv; default paths burn,gemm, and tiled on wgpu).
    #[arg(long)]
    layers: bool,
    /// With --layers: launches of each op per timed sample, between two synchronisations (the
    /// sample is their mean; default 10). 1 times every op with its own wait on the device, a
    /// round trip that an iteration does not pay. The PyTorch twin's --repeat is the same.
    #[arg(long, value_name = "N")]
    repeat: Option<usize>,
    /// How the `tiled` path picks each matrix product: measure (time burn's matmul and every
    /// variant of margan's kernel on each new shape, keep the fastest), heuristic (the 64x64
    /// kernel for thin products, burn's for the others), burn, or one variant: 64x64+pf,
    /// 64x64, 128x64+pf, 64x128+pf, 128x128+pf, 128x64, 64x128, 128x128, or with vector
    /// staging 64x64+vec, 128x64+vec, 64x128+vec, 128x128+vec. Experimental, where the
    /// adapter has f16 cooperative matrices (tensor cores): f16 (every product on them, operands
    /// rounded to f16; f16-64x64+pf, f16-128x128, f16-128x128+pf, f16-128x128-128inv for one of
    /// their other variants) or measure-f16 (measure, with every variant among the candidates); and
    /// f16-emulated (their arithmetic on any wgpu adapter, no faster). With f32's precision on
    /// the tensor cores: f16x3 (each operand as two f16 parts, three products; f16x3-64x64+pf,
    /// f16x3-128x128 for the other variants) or measure-f16x3 (measure, with those among the
    /// candidates).
    #[arg(long, default_value = "measure")]
    matmul_tuning: String,
    /// After the iterations, print every matrix product shape the tiled path measured: burn's
    /// matmul and each kernel variant on it, and which one it kept.
    #[arg(long)]
    matmul: bool,
    /// Also time each phase of the iteration (critic fakes, forward, penalty, backward,
    /// Adam; generator forward, backward, Adam), synchronising the device after each.
    #[arg(long)]
    phases: bool,
    /// The PyTorch twin's rows from the same GPU (`python3 bench/torch_dcgan32.py --json PATH`,
    /// with `--layers` for `--layers`): prints margan's ratio to them and whether the targets of
    /// issue #9 are met (DCGAN-32: preset cifar10-hinge-linf-hinge).
    #[arg(long, value_name = "PATH")]
    against: Option<String>,
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let mut paths = args
        .conv
        .iter()
        .map(|c| {
            ConvPath::parse(c).ok_or_else(|| {
                format!(
                    "unknown --conv path `{c}`: use auto, burn, gemm or tiled (comma separated)"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let penalties = args
        .penalty
        .iter()
        .map(|p| {
            config::parse_norm(p).map(|n| {
                n.map(|norm| margan::GradientPenalty {
                    norm,
                    ..Default::default()
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let critic_passes = args
        .critic_pass
        .iter()
        .map(|c| match c.as_str() {
            "one" => Ok(true),
            "separate" => Ok(false),
            _ => Err(format!(
                "unknown --critic-pass `{c}`: use one or separate (comma separated)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reference = match &args.against {
        Some(path) if args.kernels => {
            return Err(format!(
                "--against {path}: not with --kernels (it compares iterations or --layers)"
            ))
        }
        Some(path) => Some(bench_against::load(
            path,
            if args.layers { "layers" } else { "iteration" },
        )?),
        None => None,
    };
    let repeat = match (args.repeat, args.layers) {
        (Some(0), _) => return Err("--repeat 0: give at least 1 launch per sample".into()),
        (Some(n), true) => n,
        (Some(n), false) => {
            return Err(format!(
                "--repeat {n}: only with --layers (an iteration is timed over --iterations)"
            ))
        }
        (None, _) => bench_layers::DEFAULT_REPEAT,
    };
    let tuning = parse_matmul_tuning(&args.matmul_tuning)?;
    margan::kernels::matmul::set_matmul_tuning(tuning);
    let cfg = presets::preset(&args.preset)?;
    // Every device first, so a missing one fails before minutes of timing.
    let devices = args
        .device
        .iter()
        .map(|&d| device::select(d))
        .collect::<Result<Vec<_>, _>>()?;
    check_matmul_tuning(tuning, &args.matmul_tuning)?;
    if args.layers && paths == [ConvPath::Auto] {
        paths = vec![ConvPath::Burn, ConvPath::Gemm];
        if devices.iter().any(|(d, _)| margan::kernels::has_kernels(d)) {
            paths.push(ConvPath::Tiled);
        }
    }
    let batches = match (args.batch.is_empty(), args.layers) {
        (false, _) => args.batch,
        (true, true) => vec![64],
        (true, false) => vec![cfg.batch_size],
    };
    if batches.contains(&0) {
        return Err("--batch 0: a batch needs at least 1 sample".into());
    }
    let plan = bench::BenchPlan {
        paths,
        batches,
        penalties,
        critic_passes,
        warmup: args.warmup,
        iterations: args.iterations,
        phases: args.phases,
    };
    let mut tables = Vec::new();
    for (dev, name) in &devices {
        if args.kernels {
            bench_kernels::run(dev, name, plan.warmup, plan.iterations.max(20))?;
        } else if args.layers {
            let times = bench_layers::run(
                dev,
                name,
                &plan.batches,
                &plan.paths,
                plan.iterations,
                repeat,
            );
            if let Some(r) = &reference {
                let paths: Vec<String> = plan.paths.iter().map(|p| p.name().to_string()).collect();
                print_lines(bench_against::layer_report(&times, &paths, r, repeat)?);
            }
        } else {
            let rows = bench::run(&args.preset, name, &cfg, dev, &plan);
            if let Some(r) = &reference {
                if args.preset != presets::PAPER_DCGAN32 {
                    println!(
                        "(--against: the PyTorch twin runs DCGAN-32, preset {}; this is {})",
                        presets::PAPER_DCGAN32,
                        args.preset
                    );
                }
                print_lines(bench_against::iteration_report(&rows, r)?);
            }
            tables.push((name.clone(), rows));
        }
    }
    if tables.len() > 1 {
        bench::print_devices(&tables);
    }
    if args.matmul {
        bench_matmul::print();
    }
    Ok(())
}

fn print_lines(lines: Vec<String>) {
    for l in lines {
        println!("{l}");
    }
}

/// `--matmul-tuning`'s value, or an error naming the valid ones.
pub fn parse_matmul_tuning(s: &str) -> Result<MatmulTuning, String> {
    MatmulTuning::parse(s).ok_or_else(|| {
        format!(
            "unknown --matmul-tuning `{s}`: use measure, heuristic, burn, a kernel variant ({}), \
             f16 or a tensor-core variant ({}), f16x3 or an f16x3 variant ({}), measure-f16, \
             measure-f16x3 or f16-emulated",
            MatmulVariant::ALL.map(|v| v.name()).join(", "),
            TcVariant::ALL.map(|v| v.name()).join(", "),
            TcVariant::SPLIT.map(|v| v.name()).join(", ")
        )
    })
}

/// An error if `tuning` needs the tensor cores (`f16`, `f16x3`, `measure-f16`, `measure-f16x3`)
/// and no device has them,
/// or fixes a variant the device's workgroup memory cannot hold (checked after the devices are
/// set up, which is when they are detected).
pub fn check_matmul_tuning(tuning: MatmulTuning, arg: &str) -> Result<(), String> {
    let wants = matches!(
        tuning,
        MatmulTuning::Fixed(MatmulChoice::TensorCores(_))
            | MatmulTuning::MeasureF16
            | MatmulTuning::MeasureF16x3
    );
    if wants && !margan::kernels::matmul::tensor_cores() {
        let found = match margan::kernels::matmul::tensor_core_report() {
            r if r.is_empty() => "no wgpu device was set up".to_string(),
            r => format!("the wgpu device has {r}"),
        };
        return Err(format!(
            "--matmul-tuning {arg}: no device here offers f16 tensor cores ({found}; they need \
             16×16×16 or 8×8×8 f16 cooperative matrices and fixed-width subgroups, e.g. an NVIDIA GPU \
             through Vulkan with --device wgpu); use measure, or f16-emulated for their \
             arithmetic on any wgpu adapter"
        ));
    }
    // One variant asked for that this device's workgroup memory cannot hold (measure and
    // measure-f16 just leave such variants out).
    if let MatmulTuning::Fixed(MatmulChoice::Kernel(v)) = tuning {
        if !margan::kernels::matmul::kernel_variant_fits(v) {
            return Err(format!(
                "--matmul-tuning {arg}: the wgpu device's workgroup memory cannot hold the {} \
                 variant ({} bytes); use 64x64+pf or measure",
                v.name(),
                v.shared_bytes()
            ));
        }
    }
    if let MatmulTuning::Fixed(MatmulChoice::TensorCores(v)) = tuning {
        if !margan::kernels::matmul::tensor_core_variant_fits(v) {
            return Err(format!(
                "--matmul-tuning {arg}: the wgpu device's workgroup memory cannot hold the {} \
                 variant; use f16 or f16x3 (64×64 blocks), measure-f16 or measure-f16x3",
                v.name()
            ));
        }
    }
    Ok(())
}
