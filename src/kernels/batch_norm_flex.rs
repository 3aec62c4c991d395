//! The BatchNorm extension on the flex CPU backend: for each group and channel, one pass for
//! the statistics (sums over eight f32 lanes, added up in f64, `flex::lane_sums`) and one for
//! the outputs, instead of burn's dozen or more tensor ops each way (each a pass over memory and
//! an allocation; with groups, a split and a concatenation too). The formulas are the
//! references' (`batch_norm.rs`).
//!
//! The tensors are read in place, one `H·W` plane per (sample, channel), wherever those planes
//! are contiguous (a row-major `[N, C, H, W]` tensor, or a channel-major view of
//! `[C, N, H, W]` values, as the GEMM convolutions hand out); others are copied first. The
//! outputs keep `x`'s order of planes, as the WGSL kernels keep their input's layout, so that a
//! channel-major activation stays one from a convolution to the next. With the `fast-cpu`
//! feature, the statistics of the channels and then the output planes are spread over rayon's
//! threads.

use super::batch_norm_ops::{BatchNormOps, NO_ACTIVATION};
use super::flex::{
    channel_values, for_chunk_pairs, for_chunks, from_values, in_planes, lane_sums, map_indices,
    PlaneOrder, Planes,
};
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
        let x = in_planes(x);
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
        let xp = geo.planes_like(&x);
        let stats = map_indices(geo.groups * c, |i| geo.stats(&xp, i / c, i % c, eps));
        let unbias = (geo.m as f64 / (geo.m as f64 - 1.0).max(1.0)) as f32;
        for (i, st) in stats.iter().enumerate() {
            let ch = i % c; // group-major: the running statistics move once per group, in order
            rm[ch] = rm[ch] * (1.0 - m) + st.mean * m;
            rv[ch] = rv[ch] * (1.0 - m) + st.var * unbias * m;
        }
        let mut y = vec![0f32; geo.len];
        for_chunks(&mut y, geo.hw, |plane, out| {
            let (b, ch) = geo.plane_at(plane);
            let st = &stats[geo.group_of(b) * c + ch];
            for (yv, &xv) in out.iter_mut().zip(xp.get(b, ch)) {
                let v = (xv - st.mean) * st.inv_std * gamma[ch] + beta[ch];
                *yv = match slope {
                    Some(slope) => v * if v > 0.0 { 1.0 } else { slope },
                    None => v,
                };
            }
        });
        (
            geo.tensor(y),
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
        let [x, gy, u] = [x, gy, u].map(in_planes);
        let geo = Geometry::new(&x, groups);
        let c = geo.c;
        let gamma = channel_values(gamma, c, "γ");
        let eps = f32::from_bits(eps);
        let [xp, gyp, up] = [&x, &gy, &u].map(|t| geo.planes_like(t));
        let inv_m = 1.0 / geo.m as f64;
        // Per group and channel: the statistics, the means over the channel's group of gy,
        // gy·x̂, u, u·x̂, u·gy, and the coefficients of the outputs derived from them.
        let coefs = map_indices(geo.groups * c, |i| {
            let (g, ch) = (i / c, i % c);
            let st = geo.stats(&xp, g, ch, eps);
            let mut sums = [0f64; 5];
            for b in geo.samples(g) {
                let (x, gy, u) = (xp.get(b, ch), gyp.get(b, ch), up.get(b, ch));
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
            let q = ug - (g1 * u1 + g2 * u2); // Q/M
            let (s, gm) = (st.inv_std, gamma[ch]);
            VjpCoefficients {
                u1,
                u2,
                g2,
                x_coef: q - 2.0 * g2 * u2,
                constant: g2 * u1 + u2 * g1,
                dx_scale: -(s * s * gm),
                dgy_scale: s * gm,
                dgamma: s * q * geo.m as f32,
                st,
            }
        });
        let mut dgamma = vec![0f32; c];
        for (i, k) in coefs.iter().enumerate() {
            dgamma[i % c] += k.dgamma;
        }
        let (mut dx, mut dgy) = (vec![0f32; geo.len], vec![0f32; geo.len]);
        for_chunk_pairs(&mut dx, &mut dgy, geo.hw, |plane, dx, dgy| {
            let (b, ch) = geo.plane_at(plane);
            let k = &coefs[geo.group_of(b) * c + ch];
            let (x, gy, u) = (xp.get(b, ch), gyp.get(b, ch), up.get(b, ch));
            for i in 0..x.len() {
                let xh = (x[i] - k.st.mean) * k.st.inv_std;
                dgy[i] = (u[i] - k.u1 - xh * k.u2) * k.dgy_scale;
                dx[i] = (xh * k.x_coef + u[i] * k.g2 + gy[i] * k.u2 - k.constant) * k.dx_scale;
            }
        });
        (
            geo.tensor(dx),
            geo.tensor(dgy),
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
    let [x, gy] = [x, gy].map(in_planes);
    let geo = Geometry::new(&x, groups);
    let c = geo.c;
    let gamma = channel_values(gamma, c, "γ");
    let eps = f32::from_bits(eps);
    let (xp, gyp) = (geo.planes_like(&x), geo.planes_like(&gy));
    let mask = mask.map(|(y, slope)| (in_planes(y), slope));
    let mask = mask.as_ref().map(|(y, slope)| (geo.planes_like(y), *slope));
    // The upstream gradient of plane (b, ch), at i.
    let upstream = |b: usize, ch: usize| {
        let gy = gyp.get(b, ch);
        let y = mask.as_ref().map(|(y, slope)| (y.get(b, ch), *slope));
        move |i: usize| match y {
            Some((y, slope)) => gy[i] * if y[i] > 0.0 { 1.0 } else { slope },
            None => gy[i],
        }
    };
    // Per group and channel: the statistics and the sums of gy and gy·x̂.
    let sums = map_indices(geo.groups * c, |i| {
        let (g, ch) = (i / c, i % c);
        let st = geo.stats(&xp, g, ch, eps);
        let (mut g1, mut g2) = (0f64, 0f64);
        for b in geo.samples(g) {
            let (x, gy) = (xp.get(b, ch), upstream(b, ch));
            let [s1, s2] = lane_sums(x.len(), |i| {
                let gv = gy(i);
                [gv, gv * ((x[i] - st.mean) * st.inv_std)]
            });
            g1 += s1;
            g2 += s2;
        }
        (st, g1, g2)
    });
    let (mut grad_gamma, mut grad_beta) = (vec![0f32; c], vec![0f32; c]);
    for (i, (_, g1, g2)) in sums.iter().enumerate() {
        grad_gamma[i % c] += *g2 as f32;
        grad_beta[i % c] += *g1 as f32;
    }
    let inv_m = 1.0 / geo.m as f64;
    let mut gx = vec![0f32; geo.len];
    for_chunks(&mut gx, geo.hw, |plane, out| {
        let (b, ch) = geo.plane_at(plane);
        let (st, g1, g2) = &sums[geo.group_of(b) * c + ch];
        let scale = st.inv_std * gamma[ch];
        let (m1, m2) = ((g1 * inv_m) as f32, (g2 * inv_m) as f32);
        let (x, gy) = (xp.get(b, ch), upstream(b, ch));
        for (i, o) in out.iter_mut().enumerate() {
            let xh = (x[i] - st.mean) * st.inv_std;
            *o = scale * (gy(i) - m1 - xh * m2);
        }
    });
    (
        geo.tensor(gx),
        from_values(grad_gamma, [c].into()),
        from_values(grad_beta, [c].into()),
    )
}

/// The backward VJP's coefficients for one channel and group (the reference's formulas).
struct VjpCoefficients {
    st: Stats,
    u1: f32,
    u2: f32,
    g2: f32,
    x_coef: f32,
    constant: f32,
    dx_scale: f32,
    dgy_scale: f32,
    /// This group's share of ∂γ.
    dgamma: f32,
}

/// A channel's statistics over one group.
struct Stats {
    mean: f32,
    /// Biased.
    var: f32,
    /// `1/√(var + ε)`.
    inv_std: f32,
}

/// `x [N, C, H, W]` split along N into `groups`; the outputs keep the order of its planes.
struct Geometry {
    order: PlaneOrder,
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
        let order = PlaneOrder::of(x);
        let [n, c, h, w] = order.shape;
        let groups = groups as usize;
        assert!(
            groups >= 1 && n % groups == 0,
            "BatchNorm: a batch of {n} does not split into {groups} equal groups"
        );
        let per_group = n / groups;
        Geometry {
            order,
            c,
            hw: h * w,
            groups,
            per_group,
            m: per_group * h * w,
            len: n * c * h * w,
        }
    }

    /// The samples of group `g`.
    fn samples(&self, g: usize) -> std::ops::Range<usize> {
        g * self.per_group..(g + 1) * self.per_group
    }

    fn group_of(&self, b: usize) -> usize {
        b / self.per_group
    }

    /// `(sample, channel)` of the output's plane number `plane`.
    fn plane_at(&self, plane: usize) -> (usize, usize) {
        self.order.plane_at(plane)
    }

    /// The output tensor of `values`, in `x`'s order of planes.
    fn tensor(&self, values: Vec<f32>) -> FlexTensor {
        self.order.tensor(values)
    }

    /// The planes of a tensor of `x`'s shape.
    fn planes_like<'a>(&self, t: &'a FlexTensor) -> Planes<'a> {
        assert_eq!(
            t.layout().shape().to_vec(),
            self.order.shape.to_vec(),
            "BatchNorm: the tensors differ in shape"
        );
        Planes::new(t)
    }

    /// Mean and biased variance (two passes, [`lane_sums`]) of channel `ch` in group `g`.
    fn stats(&self, xs: &Planes, g: usize, ch: usize, eps: f32) -> Stats {
        let inv_m = 1.0 / self.m as f64;
        let sum: f64 = self
            .samples(g)
            .map(|b| {
                let x = xs.get(b, ch);
                lane_sums(x.len(), |i| [x[i]])[0]
            })
            .sum();
        let mean = (sum * inv_m) as f32;
        // Deviations from the mean in f32 (as the reference), squares summed.
        let sq: f64 = self
            .samples(g)
            .map(|b| {
                let x = xs.get(b, ch);
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
}
