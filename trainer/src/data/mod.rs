//! Real data for training: embedded (toy 2-D sets, procedural shapes) or loaded from files
//! (CIFAR-10, image folders, MNIST). Batches are drawn by index from the run's seed, so a
//! resumed run sees the same batches, and are prepared on a background thread.

mod cifar;
mod folder;
mod mnist;

use crate::config::DataConfig;
use margan::rng::Rng;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Images held in memory as bytes (CHW per image, `0..=255`).
pub struct ImageSet {
    pub pixels: Vec<u8>,
    pub shape: [usize; 3],
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.pixels.len() / self.shape.iter().product::<usize>()
    }
}

/// A source of real samples.
pub enum Source {
    Toy(margan::toy::Toy),
    Shapes { size: usize },
    Images(ImageSet),
}

impl Source {
    /// Opens the data of a config; file errors name the file and what was expected.
    pub fn open(config: &DataConfig) -> Result<Source, String> {
        Ok(match config {
            DataConfig::Toy { dataset } => Source::Toy(*dataset),
            DataConfig::Shapes { size } => Source::Shapes { size: *size },
            DataConfig::Cifar10 { dir } => Source::Images(cifar::load(dir)?),
            DataConfig::Folder { dir, size } => Source::Images(folder::load(dir, *size)?),
            DataConfig::Mnist { dir, size } => Source::Images(mnist::load(dir, *size)?),
        })
    }

    /// Per-sample shape `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        match self {
            Source::Toy(_) => [2, 1, 1],
            Source::Shapes { size } => [3, *size, *size],
            Source::Images(set) => set.shape,
        }
    }

    /// Batch number `index` of a run with `seed`: `n` samples, flat, values in `[-1, 1]` for images.
    pub fn batch(&self, seed: u64, index: u64, n: usize) -> Vec<f32> {
        let mut rng = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xDA7A);
        match self {
            Source::Toy(t) => t.sample(n, &mut rng).into_iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect(),
            Source::Shapes { size } => margan::shapes::sample(n, *size, &mut rng),
            Source::Images(set) => {
                let per: usize = set.shape.iter().product();
                let mut out = Vec::with_capacity(n * per);
                for _ in 0..n {
                    let i = rng.below(set.len());
                    out.extend(set.pixels[i * per..(i + 1) * per].iter().map(|b| *b as f32 / 127.5 - 1.0));
                }
                out
            }
        }
    }
}

/// Batches `start, start + 1, …` prepared on a background thread, a few ahead.
pub struct Prefetch {
    rx: Receiver<Vec<f32>>,
    _worker: JoinHandle<()>,
}

impl Prefetch {
    pub fn new(source: Source, seed: u64, start: u64, batch: usize) -> Prefetch {
        let (tx, rx) = sync_channel(4);
        let worker = std::thread::spawn(move || {
            let mut index = start;
            while tx.send(source.batch(seed, index, batch)).is_ok() {
                index += 1;
            }
        });
        Prefetch { rx, _worker: worker }
    }

    pub fn next(&self) -> Vec<f32> {
        self.rx.recv().expect("the data thread stopped")
    }
}

/// Reads a file with an error that names it.
pub(crate) fn read(path: &std::path::Path, expected: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read ({e}); expected {expected}", path.display()))
}
