//! 2-D toy distributions generated in code: 8 and 25 Gaussians, a ring, a swiss roll.

use crate::rng::Rng;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// A 2-D toy distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Toy {
    /// 8 Gaussians (std 0.05) evenly spaced on a circle of radius 2.
    EightGaussians,
    /// 25 Gaussians (std 0.05) on the grid {−2, −1, 0, 1, 2}².
    TwentyFiveGaussians,
    /// Uniform angle on a circle of radius 2, radial noise std 0.05.
    Ring,
    /// The 2-D swiss roll `t·(cos t, sin t)/5`, `t ~ U[1.5π, 4.5π]`, noise std 0.05.
    SwissRoll,
}

const STD: f64 = 0.05;

impl Toy {
    /// Centres of the modes (empty for continuous distributions).
    pub fn modes(self) -> Vec<[f64; 2]> {
        match self {
            Toy::EightGaussians => (0..8)
                .map(|k| {
                    let a = k as f64 * std::f64::consts::PI / 4.0;
                    [2.0 * a.cos(), 2.0 * a.sin()]
                })
                .collect(),
            Toy::TwentyFiveGaussians => (0..25)
                .map(|k| [(k / 5) as f64 - 2.0, (k % 5) as f64 - 2.0])
                .collect(),
            Toy::Ring | Toy::SwissRoll => Vec::new(),
        }
    }

    /// `n` samples.
    pub fn sample(self, n: usize, rng: &mut Rng) -> Vec<[f64; 2]> {
        let modes = self.modes();
        (0..n)
            .map(|_| match self {
                Toy::EightGaussians | Toy::TwentyFiveGaussians => {
                    let m = modes[rng.below(modes.len())];
                    [m[0] + STD * rng.normal(), m[1] + STD * rng.normal()]
                }
                Toy::Ring => {
                    let a = 2.0 * std::f64::consts::PI * rng.uniform();
                    let r = 2.0 + STD * rng.normal();
                    [r * a.cos(), r * a.sin()]
                }
                Toy::SwissRoll => {
                    let t = std::f64::consts::PI * (1.5 + 3.0 * rng.uniform());
                    [
                        t * t.cos() / 5.0 + STD * rng.normal(),
                        t * t.sin() / 5.0 + STD * rng.normal(),
                    ]
                }
            })
            .collect()
    }

    /// `n` samples as a `[n, 2, 1, 1]` tensor.
    pub fn sample_tensor(self, n: usize, rng: &mut Rng, device: &Device) -> Tensor<4> {
        points_tensor(&self.sample(n, rng), device)
    }
}

/// Points as a `[n, 2, 1, 1]` tensor.
pub fn points_tensor(points: &[[f64; 2]], device: &Device) -> Tensor<4> {
    let flat: Vec<f32> = points
        .iter()
        .flat_map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    Tensor::from_data(TensorData::new(flat, [points.len(), 2, 1, 1]), device)
}

/// Mean Euclidean distance from each point to its nearest mode.
pub fn mean_distance_to_modes(points: &[[f64; 2]], modes: &[[f64; 2]]) -> f64 {
    let nearest = |p: &[f64; 2]| {
        modes
            .iter()
            .map(|m| ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)).sqrt())
            .fold(f64::INFINITY, f64::min)
    };
    points.iter().map(nearest).sum::<f64>() / points.len() as f64
}

/// Fraction of modes that have at least one point within `radius`.
pub fn mode_coverage(points: &[[f64; 2]], modes: &[[f64; 2]], radius: f64) -> f64 {
    let covered = modes
        .iter()
        .filter(|m| {
            points
                .iter()
                .any(|p| ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)).sqrt() < radius)
        })
        .count();
    covered as f64 / modes.len() as f64
}
