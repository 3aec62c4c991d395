//! A small, seedable, serialisable random number generator (xoshiro256**).
//!
//! All randomness of margan (initialisation, latents, interpolation weights, data) comes from
//! here, on the host, so runs are reproducible across backends (CPU, wgpu, browser) and the
//! state can be checkpointed.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// xoshiro256** generator; `state` is its full, serialisable state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    pub state: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        let mut s = seed;
        let state = [
            splitmix64(&mut s),
            splitmix64(&mut s),
            splitmix64(&mut s),
            splitmix64(&mut s),
        ];
        Rng { state }
    }

    /// An independent generator derived from this one (advances this one).
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    pub fn normal_vec(&mut self, n: usize, mean: f64, std: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (mean + std * self.normal()) as f32)
            .collect()
    }

    pub fn uniform_vec(&mut self, n: usize, low: f64, high: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (low + (high - low) * self.uniform()) as f32)
            .collect()
    }

    /// A tensor of i.i.d. `N(mean, std²)` values.
    pub fn normal_tensor<const D: usize>(
        &mut self,
        shape: [usize; D],
        mean: f64,
        std: f64,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(
            TensorData::new(self.normal_vec(n, mean, std), shape),
            device,
        )
    }

    /// A tensor of i.i.d. `U[low, high)` values.
    pub fn uniform_tensor<const D: usize>(
        &mut self,
        shape: [usize; D],
        low: f64,
        high: f64,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(
            TensorData::new(self.uniform_vec(n, low, high), shape),
            device,
        )
    }

    /// A random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_has_unit_moments_and_seed_reproduces() {
        let mut r = Rng::new(7);
        let v: Vec<f64> = (0..200_000).map(|_| r.normal()).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
        assert!(m.abs() < 0.01, "mean {m}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        assert_eq!(Rng::new(7).next_u64(), Rng::new(7).next_u64());
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = Rng::new(1).permutation(100);
        p.sort();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
