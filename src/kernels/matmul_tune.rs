//! [`MatmulTuning::Measure`]: the first time a product shape (and operand layout) comes by, each
//! candidate — burn's `matmul` and every [`MatmulVariant`] of the kernel, with
//! [`MatmulTuning::MeasureF16`] every [`super::matmul::TcVariant`] of the tensor-core one too, with
//! [`MatmulTuning::MeasureF16x3`] its f16×3 ones — runs on the real
//! operands, timed between device synchronisations, and the fastest is kept for the process.
//! A GAN iteration has a few dozen product shapes, all seen in its first iteration, so the
//! cost (a second or so on a large GPU) falls in the warm-up.

#[cfg(not(target_arch = "wasm32"))]
use super::matmul::TcVariant;
use super::matmul::{is_thin, MatmulChoice, MatmulTuning, MatmulVariant, TuneRecord};
use super::matmul_cube::strides;
use burn::backend::wgpu::CubeTensor;
use std::collections::HashMap;
use std::sync::Mutex;

/// Products under this many multiply-adds cost about one launch whatever runs them: burn's.
const MEASURED_FROM: usize = 1 << 24;
/// Launches per timed run of a candidate (after one untimed run that compiles and warms it).
#[cfg(not(target_arch = "wasm32"))]
const REPEATS: usize = 4;
/// Shapes remembered; past this the heuristic decides (a workload whose shapes never repeat
/// would otherwise spend its time measuring).
const MAX_SHAPES: usize = 1024;

/// The tensor-core variants a measurement takes among its candidates.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum TcCandidates {
    None,
    /// The f16×3 ones (f32-accurate).
    Split,
    /// Every one (f16 and f16×3).
    All,
}

impl TcCandidates {
    fn of(tuning: MatmulTuning) -> Self {
        match tuning {
            _ if !super::adapter::available() => TcCandidates::None,
            MatmulTuning::MeasureF16 => TcCandidates::All,
            MatmulTuning::MeasureF16x3 => TcCandidates::Split,
            _ => TcCandidates::None,
        }
    }

    /// Whether `v` is among the candidates (the browser measures nothing).
    #[cfg(not(target_arch = "wasm32"))]
    fn takes(self, v: TcVariant) -> bool {
        match self {
            TcCandidates::None => false,
            TcCandidates::Split => v.split,
            TcCandidates::All => true,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    m: usize,
    n: usize,
    k: usize,
    row_major: [bool; 2],
    /// Which variants of the tensor-core kernel were among the candidates.
    tc: TcCandidates,
}

struct Cache {
    chosen: HashMap<Key, MatmulChoice>,
    records: Vec<TuneRecord>,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(|| Cache {
        chosen: HashMap::new(),
        records: Vec::new(),
    }))
}

pub(crate) fn records() -> Vec<TuneRecord> {
    with_cache(|c| c.records.clone())
}

pub(crate) fn clear() {
    with_cache(|c| {
        c.chosen.clear();
        c.records.clear();
    })
}

fn heuristic(m: usize, n: usize, k: usize) -> MatmulChoice {
    if is_thin(m, n, k) {
        MatmulChoice::Kernel(MatmulVariant::DEFAULT)
    } else {
        MatmulChoice::Burn
    }
}

/// What computes `a · b` under `tuning` (measuring the candidates if it is the first product
/// of its shape under [`MatmulTuning::Measure`]).
pub(crate) fn choose(a: &CubeTensor, b: &CubeTensor, tuning: MatmulTuning) -> MatmulChoice {
    let (sa, sb) = (a.meta.shape(), b.meta.shape());
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    match tuning {
        MatmulTuning::Fixed(c) => c,
        MatmulTuning::Heuristic => heuristic(m, n, k),
        // The browser cannot wait on the device, so nothing can be timed there.
        _ if cfg!(target_arch = "wasm32") => heuristic(m, n, k),
        _ if m * n * k < MEASURED_FROM => MatmulChoice::Burn,
        MatmulTuning::Measure | MatmulTuning::MeasureF16 | MatmulTuning::MeasureF16x3 => {
            let key = Key {
                m,
                n,
                k,
                row_major: [strides(a)[1] == 1, strides(b)[1] == 1],
                tc: TcCandidates::of(tuning),
            };
            let known = with_cache(|c| {
                c.chosen
                    .get(&key)
                    .copied()
                    .or_else(|| (c.chosen.len() >= MAX_SHAPES).then(|| heuristic(m, n, k)))
            });
            known.unwrap_or_else(|| measure(a, b, key))
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn measure(a: &CubeTensor, b: &CubeTensor, key: Key) -> MatmulChoice {
    // Variants whose staging exceeds the device's workgroup memory (where known) are left out.
    let candidates = std::iter::once(MatmulChoice::Burn)
        .chain(
            MatmulVariant::ALL
                .into_iter()
                .filter(|&v| super::matmul::kernel_variant_fits(v))
                .map(MatmulChoice::Kernel),
        )
        .chain(
            TcVariant::every()
                .filter(|&v| key.tc.takes(v) && super::matmul_tc::fits(v))
                .map(MatmulChoice::TensorCores),
        );
    let times: Vec<(MatmulChoice, f64)> = candidates.map(|c| (c, time(a, b, c))).collect();
    let chosen = times
        .iter()
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|t| t.0)
        .unwrap_or(MatmulChoice::Burn);
    with_cache(|c| {
        if c.chosen.insert(key, chosen).is_none() {
            c.records.push(TuneRecord {
                m: key.m,
                n: key.n,
                k: key.k,
                row_major: key.row_major,
                times,
                chosen,
            });
        }
    });
    chosen
}

#[cfg(target_arch = "wasm32")]
fn measure(_: &CubeTensor, _: &CubeTensor, key: Key) -> MatmulChoice {
    heuristic(key.m, key.n, key.k)
}

/// Mean ms of one `a · b` by `choice`, launched [`REPEATS`] times between synchronisations
/// (after an untimed run: shader compilation, and burn's own autotuning for its `matmul`).
#[cfg(not(target_arch = "wasm32"))]
fn time(a: &CubeTensor, b: &CubeTensor, choice: MatmulChoice) -> f64 {
    use super::matmul_cube::run;
    use burn_cubecl::cubecl::future::block_on;
    let sync = || {
        // A failed wait shows up on the product's own read later; the timing just ends here.
        let _ = block_on(a.client.sync());
    };
    drop(run(a.clone(), b.clone(), choice));
    sync();
    let start = std::time::Instant::now();
    for _ in 0..REPEATS {
        drop(run(a.clone(), b.clone(), choice));
    }
    sync();
    start.elapsed().as_secs_f64() * 1e3 / REPEATS as f64
}
