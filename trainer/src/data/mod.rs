//! Real data for training: embedded (toy 2-D sets, procedural shapes) or loaded from files
//! (CIFAR-10, image folders, MNIST). Batches are drawn by index from the run's seed, so a
//! resumed run sees the same batches, and are prepared on a background thread.

mod cifar;
mod folder;
mod mnist;

use crate::config::DataConfig;
use margan::rng::Rng;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
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
        let mut rng =
            Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xDA7A);
        match self {
            Source::Toy(t) => t
                .sample(n, &mut rng)
                .into_iter()
                .flat_map(|p| [p[0] as f32, p[1] as f32])
                .collect(),
            Source::Shapes { size } => margan::shapes::sample(n, *size, &mut rng),
            Source::Images(set) => {
                let per: usize = set.shape.iter().product();
                let mut out = Vec::with_capacity(n * per);
                for _ in 0..n {
                    let i = rng.below(set.len());
                    out.extend(
                        set.pixels[i * per..(i + 1) * per]
                            .iter()
                            .map(|b| *b as f32 / 127.5 - 1.0),
                    );
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
    pub fn new(source: Arc<Source>, seed: u64, start: u64, batch: usize) -> Prefetch {
        let (tx, rx) = sync_channel(4);
        let worker = std::thread::spawn(move || {
            let mut index = start;
            while tx.send(source.batch(seed, index, batch)).is_ok() {
                index += 1;
            }
        });
        Prefetch {
            rx,
            _worker: worker,
        }
    }

    pub fn next(&self) -> Vec<f32> {
        self.rx.recv().expect("the data thread stopped")
    }
}

/// Reads a file with an error that names it.
pub(crate) fn read(path: &std::path::Path, expected: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|e| format!("{}: cannot read ({e}); expected {expected}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A scratch folder, removed when the test passes (kept to be looked at when it fails).
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    impl std::ops::Deref for Scratch {
        type Target = PathBuf;
        fn deref(&self) -> &PathBuf {
            &self.0
        }
    }

    fn tmp(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("margan-data-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    #[test]
    fn cifar10_fixture_loads_and_corrupt_files_are_named() {
        let dir = tmp("cifar");
        // Two records: label, then R, G, B planes.
        let mut bytes = Vec::new();
        for (label, v) in [(3u8, 0u8), (9, 255)] {
            bytes.push(label);
            bytes.extend(std::iter::repeat_n(v, 3072));
        }
        std::fs::write(dir.join("data_batch_1.bin"), &bytes).unwrap();
        std::fs::write(dir.join("data_batch_2.bin"), &bytes).unwrap();
        let src = Source::open(&DataConfig::Cifar10 { dir: dir.clone() }).unwrap();
        assert_eq!(src.shape(), [3, 32, 32]);
        let Source::Images(set) = &src else { panic!() };
        assert_eq!(set.len(), 4);
        let b = src.batch(1, 0, 8);
        assert_eq!(b.len(), 8 * 3072);
        assert!(b.iter().all(|v| *v == -1.0 || *v == 1.0));
        // Same (seed, index), same batch; another index, (very likely) another.
        assert_eq!(b, src.batch(1, 0, 8));
        std::fs::write(dir.join("data_batch_3.bin"), &bytes[..5000]).unwrap();
        let e = Source::open(&DataConfig::Cifar10 { dir: dir.clone() })
            .err()
            .unwrap();
        assert!(
            e.contains("data_batch_3.bin") && e.contains("truncated"),
            "{e}"
        );
        let mut bad = bytes.clone();
        bad[0] = 42;
        std::fs::write(dir.join("data_batch_3.bin"), &bad).unwrap();
        assert!(Source::open(&DataConfig::Cifar10 {
            dir: dir.to_path_buf()
        })
        .err()
        .unwrap()
        .contains("label 42"));
    }

    #[test]
    fn image_folder_fixture_loads_png_and_jpeg() {
        let dir = tmp("folder");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let red = image::RgbImage::from_pixel(40, 20, image::Rgb([255, 0, 0]));
        red.save(dir.join("a.png")).unwrap();
        let blue = image::RgbImage::from_pixel(16, 16, image::Rgb([0, 0, 255]));
        blue.save(dir.join("sub").join("b.jpg")).unwrap();
        let src = Source::open(&DataConfig::Folder {
            dir: dir.clone(),
            size: 8,
        })
        .unwrap();
        let Source::Images(set) = &src else { panic!() };
        assert_eq!((set.len(), set.shape), (2, [3, 8, 8]));
        // a.png (sorted first) is red: R plane 255, G and B 0.
        assert!(
            set.pixels[..64].iter().all(|v| *v == 255)
                && set.pixels[64..192].iter().all(|v| *v == 0)
        );
        // b.jpg is blue, up to JPEG error.
        let b = &set.pixels[192..];
        assert!(b[128..].iter().all(|v| *v > 200) && b[..64].iter().all(|v| *v < 60));
    }

    #[test]
    fn mnist_fixture_loads_and_bad_headers_are_rejected() {
        let dir = tmp("mnist");
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
        bytes.extend((0..2 * 28 * 28).map(|i| (i % 256) as u8));
        std::fs::write(dir.join("train-images-idx3-ubyte"), &bytes).unwrap();
        let src = Source::open(&DataConfig::Mnist {
            dir: dir.clone(),
            size: 32,
        })
        .unwrap();
        let Source::Images(set) = &src else { panic!() };
        assert_eq!((set.len(), set.shape), (2, [1, 32, 32]));
        // Centred with a 2-pixel border.
        assert_eq!(set.pixels[0], 0);
        assert_eq!(set.pixels[2 * 32 + 2], bytes[16]);
        std::fs::write(dir.join("train-images-idx3-ubyte"), &bytes[..100]).unwrap();
        let e = Source::open(&DataConfig::Mnist {
            dir: dir.clone(),
            size: 32,
        })
        .err()
        .unwrap();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(
            dir.join("train-images-idx3-ubyte"),
            b"not an idx file at all",
        )
        .unwrap();
        assert!(Source::open(&DataConfig::Mnist {
            dir: dir.to_path_buf(),
            size: 32
        })
        .err()
        .unwrap()
        .contains("magic"));
    }

    #[test]
    fn embedded_sources_batch_by_index() {
        let toy = Source::Toy(margan::toy::Toy::Ring);
        assert_eq!(toy.batch(3, 7, 10), toy.batch(3, 7, 10));
        assert_ne!(toy.batch(3, 7, 10), toy.batch(3, 8, 10));
        let shapes = Source::Shapes { size: 16 };
        assert_eq!(shapes.batch(1, 0, 2).len(), 2 * 3 * 16 * 16);
        let p = Prefetch::new(Arc::new(Source::Toy(margan::toy::Toy::Ring)), 3, 7, 10);
        assert_eq!(p.next(), toy.batch(3, 7, 10));
        assert_eq!(p.next(), toy.batch(3, 8, 10));
    }
}
