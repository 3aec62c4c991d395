//! The BatchNorm extension on the flex CPU backend: for each group and channel, one pass for
//! the statistics (sums over eight f32 lanes, added up in f64, `flex::lane_sums`) and one for
//! the outputs, instead of burn's dozen or more tensor ops each way (each a pass over memory and
//! an allocation; with groups, a split and a concatenation too). The formulas are the
//! references' (`batch_norm.rs`).

use super::batch_norm_ops::{BatchNormOps, NO_ACTIVATION};
use super::flex::{channel_values, contiguous, f32_values, from_values, lane_sums};
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::FloatTensor;

impl BatchNormOps for Flex {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        [eps, momentum, groups, activation]: [u32; 4],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let x = contiguous(x);
        let geo = Geometry::new(&x, groups);
        let c = geo.c;
        let [gamma, beta, mut rm, mut rv] = [
            (gamma, "γ"),
            (beta, "β"),
            (running_mean, "the running mean"),
            (running_var, "the running variance"),
        ]
        .map(|(t, what)| channel_values(t, c, what));
        let (eps, m) = (f32::from_bits(eps), f32::from_bits(momentum));
        let slope = (activation != NO_ACTIVATION).then(|| f32::from_bits(activation));
        let xs = f32_values(&x);
        let mut y = vec![0f32; xs.len()];
        let unbias = (geo.m as f64 / (geo.m as f64 - 1.0).max(1.0)) as f32;
        for g in 0..geo.groups {
            for ch in 0..c {
                let st = geo.stats(xs, g, ch, eps);
                for r in geo.runs(g, ch) {
                    for (yv, &xv) in y[r.clone()].iter_mut().zip(&xs[r]) {
                        let v = (xv - st.mean) * st.inv_std * gamma[ch] + beta[ch];
                        *yv = match slope {
                            Some(slope) => v * if v > 0.0 { 1.0 } else { slope },
                            None => v,
                        };
                    }
                }
                rm[ch] = rm[ch] * (1.0 - m) + st.mean * m;
                rv[ch] = rv[ch] * (1.0 - m) + st.var * unbias * m;
            }
        }
        (
            from_values(y, x.layout().shape().clone()),
            from_values(rm, [c].into()),
            from_values(rv, [c].into()),
        )
    }

    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        backward(x, gy, gamma, None, eps_groups)
    }

    fn batch_norm_backward_masked(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        y: FloatTensor<Self>,
        [eps, groups, slope]: [u32; 3],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        backward(
            x,
            gy,
            gamma,
            Some((y, f32::from_bits(slope))),
            [eps, groups],
        )
    }

    fn batch_norm_backward_vjp(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        u: FloatTensor<Self>,
        [eps, groups]: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [x, gy, u] = [x, gy, u].map(contiguous);
        let geo = Geometry::new(&x, groups);
        let c = geo.c;
        let gamma = channel_values(gamma, c, "γ");
        let eps = f32::from_bits(eps);
        let [xs, gys, us] = [&x, &gy, &u].map(|t| geo.values_like(t));
        let (mut dx, mut dgy) = (vec![0f32; xs.len()], vec![0f32; xs.len()]);
        let mut dgamma = vec![0f32; c];
        let inv_m = 1.0 / geo.m as f64;
        for g in 0..geo.groups {
            for ch in 0..c {
                let st = geo.stats(xs, g, ch, eps);
                // Means over the channel's group: gy, gy·x̂, u, u·x̂, u·gy.
                let mut sums = [0f64; 5];
                for r in geo.runs(g, ch) {
                    let (x, gy, u) = (&xs[r.clone()], &gys[r.clone()], &us[r]);
                    let run = lane_sums(x.len(), |i| {
                        let xh = (x[i] - st.mean) * st.inv_std;
                        [gy[i], gy[i] * xh, u[i], u[i] * xh, u[i] * gy[i]]
                    });
                    for (s, v) in sums.iter_mut().zip(run) {
                        *s += v;
                    }
                }
                // From the means on in f32, as the reference: with one value per channel and
                // group, Q is then exactly 0, as u·gy and U₁·G₁ round alike.
                let [g1, g2, u1, u2, ug] = sums.map(|v| (v * inv_m) as f32);
                // Q/M.
                let q = ug - (g1 * u1 + g2 * u2);
                let (s, gm) = (st.inv_std, gamma[ch]);
                let x_coef = q - 2.0 * g2 * u2;
                let constant = g2 * u1 + u2 * g1;
                let dx_scale = -(s * s * gm);
                let dgy_scale = s * gm;
                for r in geo.runs(g, ch) {
                    let (x, gy, u) = (&xs[r.clone()], &gys[r.clone()], &us[r.clone()]);
                    let (dx, dgy) = (&mut dx[r.clone()], &mut dgy[r]);
                    for i in 0..x.len() {
                        let xh = (x[i] - st.mean) * st.inv_std;
                        dgy[i] = (u[i] - u1 - xh * u2) * dgy_scale;
                        dx[i] = (xh * x_coef + u[i] * g2 + gy[i] * u2 - constant) * dx_scale;
                    }
                }
                dgamma[ch] += s * q * geo.m as f32;
            }
        }
        let shape = x.layout().shape().clone();
        (
            from_values(dx, shape.clone()),
            from_values(dgy, shape),
            from_values(dgamma, [c].into()),
        )
    }
}

/// The backward, `gy` masked by the signs of a fused activation's output `y` (its slope) if
/// given.
fn backward(
    x: FlexTensor,
    gy: FlexTensor,
    gamma: FlexTensor,
    mask: Option<(FlexTensor, f32)>,
    [eps, groups]: [u32; 2],
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let [x, gy] = [x, gy].map(contiguous);
    let geo = Geometry::new(&x, groups);
    let c = geo.c;
    let gamma = channel_values(gamma, c, "γ");
    let eps = f32::from_bits(eps);
    let (xs, gys) = (geo.values_like(&x), geo.values_like(&gy));
    let mask = mask.map(|(y, slope)| (contiguous(y), slope));
    let mask = mask.as_ref().map(|(y, slope)| (geo.values_like(y), *slope));
    let mut gx = vec![0f32; xs.len()];
    let (mut grad_gamma, mut grad_beta) = (vec![0f32; c], vec![0f32; c]);
    let inv_m = 1.0 / geo.m as f64;
    // The upstream gradient at i of a run starting at `start`.
    let upstream = |gy: &[f32], start: usize, i: usize| match mask {
        Some((y, slope)) => gy[i] * if y[start + i] > 0.0 { 1.0 } else { slope },
        None => gy[i],
    };
    for g in 0..geo.groups {
        for ch in 0..c {
            let st = geo.stats(xs, g, ch, eps);
            let (mut g1, mut g2) = (0f64, 0f64);
            for r in geo.runs(g, ch) {
                let (x, gy) = (&xs[r.clone()], &gys[r.clone()]);
                let [s1, s2] = lane_sums(x.len(), |i| {
                    let gv = upstream(gy, r.start, i);
                    [gv, gv * ((x[i] - st.mean) * st.inv_std)]
                });
                g1 += s1;
                g2 += s2;
            }
            let scale = st.inv_std * gamma[ch];
            let (m1, m2) = ((g1 * inv_m) as f32, (g2 * inv_m) as f32);
            for r in geo.runs(g, ch) {
                let (x, gy) = (&xs[r.clone()], &gys[r.clone()]);
                let out = &mut gx[r.clone()];
                for i in 0..x.len() {
                    let xh = (x[i] - st.mean) * st.inv_std;
                    out[i] = scale * (upstream(gy, r.start, i) - m1 - xh * m2);
                }
            }
            grad_gamma[ch] += g2 as f32;
            grad_beta[ch] += g1 as f32;
        }
    }
    (
        from_values(gx, x.layout().shape().clone()),
        from_values(grad_gamma, [c].into()),
        from_values(grad_beta, [c].into()),
    )
}

/// A channel's statistics over one group.
struct Stats {
    mean: f32,
    /// Biased.
    var: f32,
    /// `1/√(var + ε)`.
    inv_std: f32,
}

/// `x [N, C, H, W]` (row-major) split along N into `groups`.
struct Geometry {
    c: usize,
    hw: usize,
    groups: usize,
    /// Samples per group.
    per_group: usize,
    /// Values per channel and group.
    m: usize,
    len: usize,
}

impl Geometry {
    fn new(x: &FlexTensor, groups: u32) -> Self {
        let shape = x.layout().shape();
        assert_eq!(shape.num_dims(), 4, "BatchNorm: x must be [N, C, H, W]");
        let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3]);
        let groups = groups as usize;
        assert!(
            groups >= 1 && n % groups == 0,
            "BatchNorm: a batch of {n} does not split into {groups} equal groups"
        );
        let per_group = n / groups;
        Geometry {
            c,
            hw,
            groups,
            per_group,
            m: per_group * hw,
            len: n * c * hw,
        }
    }

    /// The index ranges of channel `ch` in group `g`: one run of H·W values per sample.
    fn runs(&self, g: usize, ch: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        (g * self.per_group..(g + 1) * self.per_group).map(move |i| {
            let start = (i * self.c + ch) * self.hw;
            start..start + self.hw
        })
    }

    /// Mean and biased variance (two passes, [`lane_sums`]) of channel `ch` in group `g`.
    fn stats(&self, xs: &[f32], g: usize, ch: usize, eps: f32) -> Stats {
        let inv_m = 1.0 / self.m as f64;
        let sum: f64 = self
            .runs(g, ch)
            .map(|r| lane_sums(r.len(), |i| [xs[r.start + i]])[0])
            .sum();
        let mean = (sum * inv_m) as f32;
        // Deviations from the mean in f32 (as the reference), squares summed.
        let sq: f64 = self
            .runs(g, ch)
            .map(|r| {
                let x = &xs[r];
                lane_sums(x.len(), |i| [(x[i] - mean) * (x[i] - mean)])[0]
            })
            .sum();
        let var = (sq * inv_m) as f32;
        Stats {
            mean,
            var,
            inv_std: (var + eps).sqrt().recip(),
        }
    }

    /// The values of a row-major tensor of `x`'s shape.
    fn values_like<'a>(&self, t: &'a FlexTensor) -> &'a [f32] {
        let v = f32_values(t);
        assert_eq!(v.len(), self.len, "BatchNorm: the tensors differ in shape");
        v
    }
}
