//! `margan bench --kernels`: the WGSL row-norm kernels against the plain-tensor composition
//! (`abs().max_dim(1)` / `abs().sum_dim(1)` and burn's autodiff backward), the BatchNorm
//! kernels against their tensor-op references, and the fused Adam step against burn's `Adam`,
//! on the same device.
#![cfg_attr(
    not(feature = "wgpu"),
    allow(unused_imports, unused_variables, dead_code)
)]

use burn::tensor::{Device, Tensor};
use margan::norms::{row_norm_reference, Norm};
use margan::rng::Rng;
use std::time::Instant;

/// The shapes of the issue: the penalty's gradient rows of a 32×32 and a 64×64 RGB batch.
pub const SHAPES: [(usize, usize); 2] = [(64, 3 * 32 * 32), (256, 3 * 64 * 64)];

/// Milliseconds per forward + backward of `f` on `g`, after `warmup` untimed runs.
fn time(
    g: &Tensor<2>,
    device: &Device,
    warmup: usize,
    iters: usize,
    f: &dyn Fn(Tensor<2>) -> Tensor<1>,
) -> f64 {
    let run = || {
        let grads = f(g.clone()).sum().backward();
        g.grad(&grads).expect("gradient reaches g")
    };
    for _ in 0..warmup {
        let _ = run();
    }
    let _ = device.sync();
    let t = Instant::now();
    let mut last = None;
    for _ in 0..iters {
        last = Some(run());
    }
    // Reading one value back waits for all queued work on every backend.
    let _ = last.map(|d| d.slice([0..1, 0..1]).into_data());
    let _ = device.sync();
    1e3 * t.elapsed().as_secs_f64() / iters as f64
}

pub fn run(device: &Device, name: &str, warmup: usize, iters: usize) -> Result<(), String> {
    if !margan::kernels::has_kernels(device) {
        return Err(format!(
            "--kernels times the WGSL kernels, which run on wgpu only (device here: {name}); \
             build with `--features wgpu` and pass --device wgpu"
        ));
    }
    #[cfg(feature = "wgpu")]
    {
        use margan::kernels::row_norm::{row_norm_argmax_kernel, KernelNorm};
        println!("margan bench --kernels: row norm forward + backward, device {name}");
        println!(
            "{:>6} {:>7}  {:<5} {:>12} {:>12} {:>10}",
            "rows", "cols", "norm", "kernel ms", "tensor ms", "speed-up"
        );
        for (rows, cols) in SHAPES {
            let mut rng = Rng::new(rows as u64);
            let g = rng
                .normal_tensor([rows, cols, 1, 1], 0.0, 1.0, device)
                .reshape([rows, cols])
                .detach()
                .require_grad();
            for (norm, kn) in [(Norm::Linf, KernelNorm::Linf), (Norm::L1, KernelNorm::L1)] {
                let k = time(&g, device, warmup, iters, &|g| {
                    row_norm_argmax_kernel(g, kn).0
                });
                let r = time(&g, device, warmup, iters, &|g| row_norm_reference(g, norm));
                println!(
                    "{rows:>6} {cols:>7}  {:<5} {k:>12.3} {r:>12.3} {:>9.2}×",
                    norm.name(),
                    r / k
                );
            }
        }
        batch_norm(device, warmup, iters);
        adam(device, warmup, iters);
    }
    Ok(())
}

/// Element counts of every trainable parameter tensor of the DCGAN-32 pair.
fn dcgan32_parameter_sizes(device: &Device) -> Vec<usize> {
    use burn::module::{Module, ModuleVisitor, Param};
    struct Sizes(Vec<usize>);
    impl ModuleVisitor for Sizes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.val().is_require_grad() {
                self.0.push(param.val().shape().num_elements());
            }
        }
    }
    let cfg = margan::nets::DcganConfig::new();
    let mut rng = Rng::new(0);
    let mut sizes = Sizes(Vec::new());
    cfg.init_generator(device, &mut rng).visit(&mut sizes);
    cfg.init_discriminator(device, &mut rng).visit(&mut sizes);
    sizes.0
}

/// One Adam update of every DCGAN-32 parameter tensor (G and D), fused kernel against burn's
/// `Adam`, in milliseconds.
#[cfg(feature = "wgpu")]
fn adam(device: &Device, warmup: usize, iters: usize) {
    use burn::optim::Optimizer;
    use margan::optim::FusedAdamConfig;
    let sizes = dcgan32_parameter_sizes(device);
    let mut rng = Rng::new(1);
    let tensors: Vec<(Tensor<1>, Tensor<1>)> = sizes
        .iter()
        .map(|&n| {
            let t = |rng: &mut Rng| rng.normal_tensor([n, 1, 1, 1], 0.0, 1.0, device);
            (
                t(&mut rng).reshape([n]).inner(),
                t(&mut rng).reshape([n]).inner(),
            )
        })
        .collect();
    let time_opt = |fused: bool| {
        let opt = FusedAdamConfig::default()
            .with_betas(0.5, 0.999)
            .with_fused(fused)
            .build();
        let mut params: Vec<Tensor<1>> = tensors.iter().map(|(p, _)| p.clone()).collect();
        let mut states = vec![None; tensors.len()];
        let mut step = |params: &mut Vec<Tensor<1>>| {
            for (i, (_, g)) in tensors.iter().enumerate() {
                let (p, s) = opt.step(2e-4, params[i].clone(), g.clone(), states[i].take());
                params[i] = p;
                states[i] = s;
            }
        };
        for _ in 0..warmup.max(1) {
            step(&mut params);
        }
        let _ = device.sync();
        let t = Instant::now();
        for _ in 0..iters {
            step(&mut params);
        }
        let _ = params[0].clone().narrow(0, 0, 1).into_data();
        let _ = device.sync();
        1e3 * t.elapsed().as_secs_f64() / iters as f64
    };
    let (fused, plain) = (time_opt(true), time_opt(false));
    println!(
        "Adam step of the DCGAN-32 pair ({} tensors, {:.2}M parameters): fused {fused:.3} ms, \
         burn's Adam {plain:.3} ms, speed-up {:.2}×",
        sizes.len(),
        sizes.iter().sum::<usize>() as f64 / 1e6,
        plain / fused
    );
}

/// The DCGAN-32 BatchNorm inputs at the batches: `[N, 128, 16, 16]`, `[N, 256, 8, 8]`,
/// `[N, 512, 4, 4]`.
const BN_SHAPES: [[usize; 4]; 6] = [
    [64, 128, 16, 16],
    [64, 256, 8, 8],
    [64, 512, 4, 4],
    [256, 128, 16, 16],
    [256, 256, 8, 8],
    [256, 512, 4, 4],
];

/// What a penalised critic step does with a BatchNorm in training mode — its forward, its input
/// gradient for an upstream gradient, and burn's backward through both (so the forward's
/// backward and the backward's VJP) — by the kernels and by the tensor-op references, in ms.
#[cfg(feature = "wgpu")]
fn batch_norm(device: &Device, warmup: usize, iters: usize) {
    use margan::kernels::batch_norm::{
        batch_norm_backward_kernel, batch_norm_backward_reference, batch_norm_forward_kernel,
        batch_norm_forward_reference, BatchNormScalars,
    };
    let s = BatchNormScalars {
        eps: 1e-5,
        momentum: 0.1,
    };
    println!("BatchNorm (training mode): forward + input gradient + burn's backward through both");
    println!(
        "{:>18}  {:>12} {:>12} {:>10}",
        "shape", "kernel ms", "tensor ms", "speed-up"
    );
    for shape in BN_SHAPES {
        let c = shape[1];
        let mut rng = Rng::new(c as u64);
        let x = rng.normal_tensor(shape, 0.5, 2.0, device).detach();
        let gy = rng.normal_tensor(shape, 0.0, 1.0, device).detach();
        let gamma = rng.normal_tensor([c], 1.0, 0.02, device).detach();
        let beta: Tensor<1> = Tensor::zeros([c], device);
        let (rm, rv): (Tensor<1>, Tensor<1>) =
            (Tensor::zeros([c], device), Tensor::ones([c], device));
        let run = |kernels: bool| {
            let x = x.clone().require_grad();
            let gamma = gamma.clone().require_grad();
            let beta = beta.clone().require_grad();
            let (y, gx) = if kernels {
                let (y, _, _) = batch_norm_forward_kernel(
                    x.clone(),
                    gamma.clone(),
                    beta.clone(),
                    rm.clone(),
                    rv.clone(),
                    s,
                    1,
                );
                (
                    y,
                    batch_norm_backward_kernel(x.clone(), gy.clone(), gamma.clone(), s.eps, 1).0,
                )
            } else {
                let (y, _, _) = batch_norm_forward_reference(
                    x.clone(),
                    gamma.clone(),
                    beta.clone(),
                    rm.clone(),
                    rv.clone(),
                    s,
                    1,
                );
                (
                    y,
                    batch_norm_backward_reference(x.clone(), gy.clone(), gamma.clone(), s.eps, 1).0,
                )
            };
            let grads = (y.sum() + gx.square().sum()).backward();
            x.grad(&grads).expect("gradient reaches x")
        };
        let time_it = |kernels: bool| {
            for _ in 0..warmup.max(1) {
                let _ = run(kernels);
            }
            let _ = device.sync();
            let t = Instant::now();
            let mut last = None;
            for _ in 0..iters {
                last = Some(run(kernels));
            }
            let _ = last.map(|d| d.slice([0..1, 0..1, 0..1, 0..1]).into_data());
            let _ = device.sync();
            1e3 * t.elapsed().as_secs_f64() / iters as f64
        };
        let (k, r) = (time_it(true), time_it(false));
        println!(
            "{:>18}  {k:>12.3} {r:>12.3} {:>9.2}×",
            format!("{shape:?}"),
            r / k
        );
    }
}
