//! `margan bench --kernels`: the WGSL row-norm kernels against the plain-tensor composition
//! (`abs().max_dim(1)` / `abs().sum_dim(1)` and burn's autodiff backward) on the same device.
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
    }
    Ok(())
}
