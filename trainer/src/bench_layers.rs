//! `margan bench --layers`: every convolution of DCGAN-32 (width 128, z 128) timed alone —
//! forward, input gradient and weight gradient — on each convolution path: each sample is
//! `repeat` launches of the op between two synchronisations, divided by `repeat` (the op's
//! time on the device, as in an iteration, where nothing waits between ops; with 1, each op
//! also pays a round trip to the device), the median of the samples kept.
//! `bench/torch_dcgan32.py --layers` prints the same rows for cuDNN, timed the same way.

use burn::tensor::{Device, Tensor};
use margan::conv::{self, with_conv_path, ConvPath};
use margan::rng::Rng;
use std::time::Instant;

/// Launches per timed sample unless `--repeat` says otherwise.
pub const DEFAULT_REPEAT: usize = 10;

/// One layer: name, transposed?, c_in, c_out, input side, kernel, stride, padding.
pub struct LayerShape {
    pub name: &'static str,
    pub transposed: bool,
    pub c_in: usize,
    pub c_out: usize,
    pub size: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: usize,
}

const fn layer(
    name: &'static str,
    transposed: bool,
    c_in: usize,
    c_out: usize,
    size: usize,
    stride: usize,
    padding: usize,
) -> LayerShape {
    LayerShape {
        name,
        transposed,
        c_in,
        c_out,
        size,
        k: 4,
        stride,
        padding,
    }
}

/// The convolutions of the paper's DCGAN-32 (and of `bench/torch_dcgan32.py`).
pub const DCGAN32: [LayerShape; 8] = [
    layer("G convT 128→512 1→4", true, 128, 512, 1, 1, 0),
    layer("G convT 512→256 4→8", true, 512, 256, 4, 2, 1),
    layer("G convT 256→128 8→16", true, 256, 128, 8, 2, 1),
    layer("G convT 128→3 16→32", true, 128, 3, 16, 2, 1),
    layer("D conv 3→128 32→16", false, 3, 128, 32, 2, 1),
    layer("D conv 128→256 16→8", false, 128, 256, 16, 2, 1),
    layer("D conv 256→512 8→4", false, 256, 512, 8, 2, 1),
    layer("D conv 512→1 4→1", false, 512, 1, 4, 1, 0),
];

/// Median milliseconds of one `f` over `iters` samples of `repeat` launches each, after
/// `warmup` samples or more (until steady): `[op, host]`, host being the time the CPU took to
/// issue the `repeat` ops before the wait (per op). Where host comes close to the op's time,
/// the op is bound by what its launches cost the host, not by the device.
fn time(
    device: &Device,
    warmup: usize,
    iters: usize,
    repeat: usize,
    f: &dyn Fn() -> Tensor<4>,
) -> [f64; 2] {
    let run = || {
        let t = Instant::now();
        // Every result stays alive until the device has been waited on.
        let ys: Vec<Tensor<4>> = (0..repeat).map(|_| f()).collect();
        let issued = t.elapsed();
        // Reading one value back waits for the queued work on every backend.
        if let Some(y) = ys.last() {
            let _ = y.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data();
        }
        let _ = device.sync();
        [t.elapsed(), issued].map(|d| 1e3 * d.as_secs_f64() / repeat as f64)
    };
    // Warm-up samples, then more until one is within 5% of the one before (at most 8 more): a
    // GPU that has just been idle, or has just tuned the op's products, may take a while to
    // reach its steady speed.
    let mut last = f64::NAN;
    for i in 0..warmup + crate::bench::MAX_SETTLE_BLOCKS {
        let ms = run()[0];
        let steady = crate::bench::steady(last, ms);
        last = ms;
        if i + 1 >= warmup && steady {
            break;
        }
    }
    let samples: Vec<[f64; 2]> = (0..iters).map(|_| run()).collect();
    [0, 1].map(|i| {
        let mut ms: Vec<f64> = samples.iter().map(|s| s[i]).collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    })
}

/// `[forward, input gradient, weight gradient]`, each `[op, host]` in ms (see [`time`]), for
/// one layer on one path.
fn layer_ms(
    l: &LayerShape,
    batch: usize,
    path: ConvPath,
    device: &Device,
    warmup: usize,
    iters: usize,
    repeat: usize,
) -> [[f64; 2]; 3] {
    let mut rng = Rng::new(1);
    let (k, s, p) = (l.k, l.stride, l.padding);
    let out = if l.transposed {
        (l.size - 1) * s + k - 2 * p
    } else {
        (l.size + 2 * p - k) / s + 1
    };
    // Activations and their gradients in the layout the path hands on in training: NCHW on
    // burn's path, channel-major ([C, N, H, W] in memory) on the GEMM paths, whose products
    // take `[C, N·H·W]` as a view of them (from NCHW it would be a copy that training does not
    // make: 3 copies in a whole b64 iteration on the H200, against 35 products).
    let channel_major = with_conv_path(path, || conv::resolve(device)) != ConvPath::Burn;
    let mut activation = |c: usize, side: usize| {
        if channel_major {
            rng.normal_tensor([c, batch, side, side], 0.0, 1.0, device)
                .swap_dims(0, 1)
        } else {
            rng.normal_tensor([batch, c, side, side], 0.0, 1.0, device)
        }
    };
    let x = activation(l.c_in, l.size);
    let gy = activation(l.c_out, out);
    let t =
        |f: &dyn Fn() -> Tensor<4>| with_conv_path(path, || time(device, warmup, iters, repeat, f));
    if l.transposed {
        // y = convT(x, W), W: [c_in, c_out, k, k]; its input gradient is a convolution, its
        // weight gradient the convolution weight gradient with x and gy exchanged.
        let w = rng.normal_tensor([l.c_in, l.c_out, k, k], 0.0, 0.02, device);
        [
            t(&|| conv::conv_transpose2d(x.clone(), w.clone(), None, s, p, 0)),
            t(&|| conv::conv2d(gy.clone(), w.clone(), None, s, p)),
            t(&|| conv::conv2d_weight_grad(gy.clone(), x.clone(), k, s, p)),
        ]
    } else {
        let w = rng.normal_tensor([l.c_out, l.c_in, k, k], 0.0, 0.02, device);
        [
            t(&|| conv::conv2d(x.clone(), w.clone(), None, s, p)),
            t(&|| conv::conv2d_input_grad(gy.clone(), w.clone(), [l.size, l.size], s, p)),
            t(&|| conv::conv2d_weight_grad(x.clone(), gy.clone(), k, s, p)),
        ]
    }
}

/// One op of one layer at one batch: its time on each path (in the order asked for).
pub struct LayerTime {
    pub batch: usize,
    pub layer: String,
    /// "fwd", "dinput" or "dweight".
    pub op: String,
    pub ms: Vec<f64>,
}

/// Prints, per batch and layer, the three times on every path, the ratio of the first path
/// to each other one and the share of each path's time the host spent issuing the op; returns
/// them.
pub fn run(
    device: &Device,
    name: &str,
    batches: &[usize],
    paths: &[ConvPath],
    iters: usize,
    repeat: usize,
) -> Vec<LayerTime> {
    // The CPU backends run each op as it is issued: their host share is always all of it.
    let asynchronous = margan::kernels::has_kernels(device);
    println!(
        "margan bench --layers: DCGAN-32 convolutions, device {name}, ms per op: median of {iters} \
         samples of {repeat} launches between synchronisations; inputs in the layout each path \
         hands on in training (NCHW on burn's, channel-major on gemm and tiled){}",
        if asynchronous {
            "; host: the share of the op's time the CPU spent issuing it (near 100%, the op is \
             bound by its launches, not by the device)"
        } else {
            ""
        }
    );
    print!("{:>6}  {:<22} {:<7}", "batch", "layer", "op");
    for p in paths {
        print!(" {:>10}", p.name());
    }
    for p in &paths[1..] {
        print!(" {:>11}", format!("{}/{}", paths[0].name(), p.name()));
    }
    for p in paths.iter().filter(|_| asynchronous) {
        print!(" {:>11}", format!("host {}", p.name()));
    }
    println!();
    if asynchronous {
        // One untimed pass over every op first: the tiled path measures each product shape the
        // first time it comes by (a dozen candidates, synchronised), and a GPU may run slower
        // for a while after that (at stop 26 the first shapes an H200 measured took 3–4× the
        // time of later ones), so nothing is timed right behind a shape's tuning.
        for &batch in batches {
            for l in &DCGAN32 {
                for &p in paths {
                    layer_ms(l, batch, p, device, 0, 1, 1);
                }
            }
        }
    }
    let mut totals = vec![0.0; paths.len()];
    let mut times = Vec::new();
    for &batch in batches {
        for l in &DCGAN32 {
            let per_path: Vec<[[f64; 2]; 3]> = paths
                .iter()
                .map(|&p| layer_ms(l, batch, p, device, 2, iters, repeat))
                .collect();
            for (op, opname) in ["fwd", "dinput", "dweight"].iter().enumerate() {
                let ms: Vec<f64> = per_path.iter().map(|t| t[op][0]).collect();
                let host_ms: Vec<f64> = per_path.iter().map(|t| t[op][1]).collect();
                print!("{batch:>6}  {:<22} {opname:<7}", l.name);
                for (total, t) in totals.iter_mut().zip(&ms) {
                    print!(" {t:>10.3}");
                    *total += t;
                }
                for t in &ms[1..] {
                    print!(" {:>10.2}×", ms[0] / t);
                }
                for (h, t) in host_ms.iter().zip(&ms).filter(|_| asynchronous) {
                    print!(" {:>10.0}%", 100.0 * h / t);
                }
                println!();
                times.push(LayerTime {
                    batch,
                    layer: l.name.to_string(),
                    op: opname.to_string(),
                    ms,
                });
            }
        }
    }
    print!("{:>6}  {:<22} {:<7}", "", "total", "");
    for t in &totals {
        print!(" {t:>10.3}");
    }
    for t in &totals[1..] {
        print!(" {:>10.2}×", totals[0] / t);
    }
    println!();
    times
}
