//! The axes a normalisation layer takes its statistics over (per channel for BatchNorm, per
//! sample for LayerNorm), their means and sums, and the normalisation's input gradient.

use burn::tensor::Tensor;

/// The axes a normalisation takes its statistics over, reduced in two launches: burn reduces
/// one axis per kernel when autodiff tracks the tensor, so three axes would take three. The
/// outer axis is reduced first on the tensor as it lies in memory (the GEMM convolutions hand
/// out channel-major views, which a reshape would have to copy); the result is contiguous, and
/// its two spatial axes reshape into one for free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatAxes {
    /// Per channel, over N, H and W (BatchNorm): `[N, C, H, W] → [1, C, 1, 1]`.
    Channel,
    /// Per sample, over C, H and W (LayerNorm): `[N, C, H, W] → [N, 1, 1, 1]`.
    Sample,
}

impl StatAxes {
    /// The axis reduced first, and the shape of what is left as `[rows, H·W]`.
    pub(super) fn split(self, [n, c, h, w]: [usize; 4]) -> (usize, [usize; 2], [usize; 4]) {
        match self {
            StatAxes::Channel => (0, [c, h * w], [1, c, 1, 1]),
            StatAxes::Sample => (1, [n, h * w], [n, 1, 1, 1]),
        }
    }

    /// The mean over the axes, kept as size-1 axes. Every slice of the first reduction has the
    /// same size, so the mean of the means is the mean over all three axes.
    ///
    /// Forward: two reductions (`stat_reduce.rs`); backward: the upstream gradient scaled once
    /// and broadcast back, where burn's autodiff of `mean_dim` takes four launches per axis.
    pub(crate) fn mean(self, x: Tensor<4>) -> Tensor<4> {
        super::stat_reduce::stat_reduce(x, self, true)
    }

    /// The sum over the axes, kept as size-1 axes (backward: a broadcast view, no launch).
    pub(crate) fn sum(self, x: Tensor<4>) -> Tensor<4> {
        super::stat_reduce::stat_reduce(x, self, false)
    }
}

/// Input gradient of a normalisation `x̂ = (x − μ)/σ` whose statistics are taken over `axes`:
/// `(ĝ − mean(ĝ) − x̂·mean(ĝ x̂)) / σ`, with `ĝ = γ·∂L/∂y`.
pub(crate) fn normalisation_backward(
    gh: Tensor<4>,
    xhat: Tensor<4>,
    inv_std: Tensor<4>,
    axes: StatAxes,
) -> Tensor<4> {
    let mean_g = axes.mean(gh.clone());
    let mean_gx = axes.mean(gh.clone() * xhat.clone());
    (gh - mean_g - xhat * mean_gx) * inv_std
}

#[cfg(test)]
mod tests {
    use super::StatAxes;
    use crate::device::{cpu, to_vec};
    use crate::rng::Rng;
    use burn::tensor::Tensor;

    fn assert_close(a: Tensor<4>, b: Tensor<4>, what: &str) {
        assert_eq!(a.dims(), b.dims(), "{what}: shapes");
        for (i, (x, y)) in to_vec(a).iter().zip(to_vec(b)).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    /// The two-launch reductions against burn's one-axis-at-a-time `mean_dims`/`sum_dims`, on
    /// contiguous tensors and on the channel-major views the GEMM convolutions return.
    #[test]
    fn stat_axes_match_reference() {
        let dev = cpu();
        let mut rng = Rng::new(5);
        let x = rng.normal_tensor([3, 5, 4, 2], 0.5, 2.0, &dev);
        let view = rng
            .normal_tensor([5, 3, 4, 2], 0.5, 2.0, &dev)
            .swap_dims(0, 1);
        for (t, layout) in [(x, "contiguous"), (view, "channel-major view")] {
            for (axes, dims) in [
                (StatAxes::Channel, [0, 2, 3]),
                (StatAxes::Sample, [1, 2, 3]),
            ] {
                let what = format!("{axes:?} on a {layout}");
                let mean = axes.mean(t.clone());
                assert_close(mean, t.clone().mean_dims(&dims), &format!("mean {what}"));
                let sum = axes.sum(t.clone());
                assert_close(sum, t.clone().sum_dims(&dims), &format!("sum {what}"));
            }
        }
    }

    /// The gradient of the statistics (`stat_reduce.rs`: a broadcast of the upstream gradient,
    /// scaled for the mean) against burn's autodiff of `mean_dims` / `sum_dims`.
    #[test]
    fn stat_axes_backward_matches_reference() {
        let dev = cpu();
        let mut rng = Rng::new(6);
        for (axes, dims, out) in [
            (StatAxes::Channel, [0, 2, 3], [1, 5, 1, 1]),
            (StatAxes::Sample, [1, 2, 3], [3, 1, 1, 1]),
        ] {
            for view in [false, true] {
                let base = if view {
                    rng.normal_tensor([5, 3, 4, 2], 0.5, 2.0, &dev)
                        .swap_dims(0, 1)
                } else {
                    rng.normal_tensor([3, 5, 4, 2], 0.5, 2.0, &dev)
                };
                let (w1, w2) = (
                    rng.normal_tensor(out, 0.0, 1.0, &dev),
                    rng.normal_tensor(out, 0.0, 1.0, &dev),
                );
                let grad = |f: &dyn Fn(Tensor<4>) -> (Tensor<4>, Tensor<4>)| {
                    let x = base.clone().detach().require_grad();
                    let (m, s) = f(x.clone());
                    // The statistics feed further ops, as in BatchNorm: x − mean, and a square.
                    let loss = (m.clone() * w1.clone()).sum()
                        + (s.square() * w2.clone()).sum()
                        + (x.clone() - m).square().sum();
                    x.grad(&loss.backward()).expect("x has a gradient")
                };
                let ours = grad(&|x| (axes.mean(x.clone()), axes.sum(x)));
                let reference = grad(&|x| (x.clone().mean_dims(&dims), x.sum_dims(&dims)));
                assert_close(ours, reference, &format!("{axes:?} backward, view {view}"));
            }
        }
    }
}
