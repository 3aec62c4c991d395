//! A procedural image set that needs no download: one coloured shape (disc, square or
//! triangle) per image, with random position, size and colour on a dark background.
//! Images are `[3, size, size]` in `[-1, 1]`, generated from a seed.

use crate::rng::Rng;
use burn::tensor::{Device, Tensor, TensorData};

/// A random saturated colour in `[0, 1]³` (HSV with s ∈ [0.6, 1], v ∈ [0.75, 1]).
fn colour(rng: &mut Rng) -> [f64; 3] {
    let h = rng.uniform() * 6.0;
    let s = 0.6 + 0.4 * rng.uniform();
    let v = 0.75 + 0.25 * rng.uniform();
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as usize {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

/// Writes one image (CHW, `[-1, 1]`) into `out`.
fn draw(out: &mut [f32], size: usize, rng: &mut Rng) {
    let s = size as f64;
    let kind = rng.below(3);
    let r = s * (0.15 + 0.15 * rng.uniform());
    let cx = s * 0.25 + (s * 0.5) * rng.uniform();
    let cy = s * 0.25 + (s * 0.5) * rng.uniform();
    let fg = colour(rng);
    let bg = 0.05 + 0.1 * rng.uniform();
    let angle = rng.uniform() * std::f64::consts::TAU;
    // Triangle vertices.
    let tri: Vec<(f64, f64)> = (0..3)
        .map(|k| {
            let a = angle + k as f64 * std::f64::consts::TAU / 3.0;
            (cx + r * 1.2 * a.cos(), cy + r * 1.2 * a.sin())
        })
        .collect();
    let inside = |px: f64, py: f64| -> bool {
        match kind {
            0 => (px - cx).powi(2) + (py - cy).powi(2) <= r * r,
            1 => (px - cx).abs() <= r && (py - cy).abs() <= r,
            _ => {
                let sign = |(ax, ay): (f64, f64), (bx, by): (f64, f64)| {
                    (px - bx) * (ay - by) - (ax - bx) * (py - by)
                };
                let d = [
                    sign(tri[0], tri[1]),
                    sign(tri[1], tri[2]),
                    sign(tri[2], tri[0]),
                ];
                d.iter().all(|v| *v >= 0.0) || d.iter().all(|v| *v <= 0.0)
            }
        }
    };
    for y in 0..size {
        for x in 0..size {
            let on = inside(x as f64 + 0.5, y as f64 + 0.5);
            for c in 0..3 {
                let v = if on { fg[c] } else { bg };
                out[c * size * size + y * size + x] = (2.0 * v - 1.0) as f32;
            }
        }
    }
}

/// `n` images as a flat NCHW buffer.
pub fn sample(n: usize, size: usize, rng: &mut Rng) -> Vec<f32> {
    let per = 3 * size * size;
    let mut out = vec![0.0f32; n * per];
    for chunk in out.chunks_mut(per) {
        draw(chunk, size, rng);
    }
    out
}

/// `n` images as a `[n, 3, size, size]` tensor.
pub fn sample_tensor(n: usize, size: usize, rng: &mut Rng, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(sample(n, size, rng), [n, 3, size, size]),
        device,
    )
}

/// Pixel statistics of a batch of NCHW images: per-channel mean and standard deviation, the
/// mean absolute difference between neighbouring pixels (total variation; high for noise, low
/// for flat shapes), and the fraction of saturated-colour pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageStats {
    pub mean: [f64; 3],
    pub std: [f64; 3],
    pub tv: f64,
}

impl ImageStats {
    pub fn of(images: &[f32], channels: usize, size: usize) -> ImageStats {
        assert!(channels >= 1);
        let plane = size * size;
        let n = images.len() / (channels * plane);
        let mut mean = [0.0; 3];
        let mut std = [0.0; 3];
        let mut tv = 0.0;
        let mut tv_count = 0usize;
        for c in 0..channels.min(3) {
            let vals = (0..n).flat_map(|i| {
                images[(i * channels + c) * plane..(i * channels + c + 1) * plane].iter()
            });
            let (s, s2, k) = vals.fold((0.0, 0.0, 0usize), |(s, s2, k), v| {
                (s + *v as f64, s2 + (*v as f64).powi(2), k + 1)
            });
            mean[c] = s / k as f64;
            std[c] = (s2 / k as f64 - mean[c].powi(2)).max(0.0).sqrt();
        }
        for i in 0..n {
            for c in 0..channels {
                let p = &images[(i * channels + c) * plane..(i * channels + c + 1) * plane];
                for y in 0..size {
                    for x in 0..size {
                        if x + 1 < size {
                            tv += (p[y * size + x + 1] - p[y * size + x]).abs() as f64;
                            tv_count += 1;
                        }
                        if y + 1 < size {
                            tv += (p[(y + 1) * size + x] - p[y * size + x]).abs() as f64;
                            tv_count += 1;
                        }
                    }
                }
            }
        }
        ImageStats {
            mean,
            std,
            tv: tv / tv_count.max(1) as f64,
        }
    }

    /// A distance between two sets of statistics (sum of absolute differences).
    pub fn distance(&self, other: &ImageStats) -> f64 {
        (0..3)
            .map(|c| (self.mean[c] - other.mean[c]).abs() + (self.std[c] - other.std[c]).abs())
            .sum::<f64>()
            + (self.tv - other.tv).abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_flat_regions_not_noise() {
        let mut rng = Rng::new(1);
        let imgs = sample(64, 32, &mut rng);
        assert!(imgs.iter().all(|v| (-1.0..=1.0).contains(v)));
        let real = ImageStats::of(&imgs, 3, 32);
        let noise: Vec<f32> = (0..imgs.len())
            .map(|_| rng.uniform() as f32 * 2.0 - 1.0)
            .collect();
        let noise = ImageStats::of(&noise, 3, 32);
        assert!(real.tv < 0.1, "shapes are mostly flat: tv {}", real.tv);
        assert!(noise.tv > 0.5, "noise is not: tv {}", noise.tv);
        assert!(real.distance(&noise) > 0.5);
        // Same seed, same images.
        assert_eq!(
            sample(2, 16, &mut Rng::new(5)),
            sample(2, 16, &mut Rng::new(5))
        );
    }
}
