//! Inputs of the layer-kernel tests (`tests/layer_kernels.rs`, `tests/leaky_scale_kernel.rs`):
//! activations in the layouts a network hands out and upstream gradients in those autodiff
//! hands out.

use burn::tensor::{Device, Tensor, TensorData};
use margan::rng::Rng;

/// How an activation lies in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Contiguous NCHW.
    Nchw,
    /// The channel-major view (`[N, C, H, W]` over a `[C, N, H, W]` buffer) a GEMM convolution
    /// returns, and BatchNorm and the activation kernels hand on.
    ChannelMajor,
    /// One group's rows of a channel-major view (a critic pass over several batches): gaps
    /// between the channels.
    ChannelMajorRows,
}

pub const LAYOUTS: [Layout; 3] = [Layout::Nchw, Layout::ChannelMajor, Layout::ChannelMajorRows];

/// `x [N, C, H, W]` in `layout`, with a trend along the batch (so the kernels' ranges of a
/// channel have different means).
pub fn input(shape: [usize; 4], layout: Layout, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [n, c, h, w] = shape;
    let trend = |axis: usize, len: usize| {
        let mut dims = [1; 4];
        dims[axis] = len;
        Tensor::<1, burn::tensor::Int>::arange(0..len as i64, device)
            .float()
            .mul_scalar(0.4)
            .reshape(dims)
    };
    match layout {
        Layout::Nchw => rng.normal_tensor(shape, 0.7, 1.9, device) + trend(0, n),
        Layout::ChannelMajor => {
            (rng.normal_tensor([c, n, h, w], 0.7, 1.9, device) + trend(1, n)).swap_dims(0, 1)
        }
        Layout::ChannelMajorRows => (rng.normal_tensor([c, n + 3, h, w], 0.7, 1.9, device)
            + trend(1, n + 3))
        .swap_dims(0, 1)
        .slice([2..n + 2, 0..c, 0..h, 0..w]),
    }
}

/// BatchNorm1d (`[N, F, 1, 1]`, three values per channel: with two, `x̂ = ±1` and the input
/// gradient is identically zero), batch 1, fewer values per channel than a workgroup, odd
/// sizes beyond it, a DCGAN-like layer, and channels of more than one range of the kernels'
/// partial sums (4096 values: 2 ranges, the last short, and 3).
pub const SHAPES: [[usize; 4]; 7] = [
    [3, 3, 1, 1],
    [1, 4, 3, 5],
    [5, 3, 7, 9],
    [4, 2, 16, 16],
    [16, 8, 4, 4],
    [9, 2, 25, 23],
    [5, 3, 41, 43],
];

/// Every case with every group count a batch of `n` is tested with (each group normalised on
/// its own, as in a critic's one pass over real, fake and penalty samples): 1, and 2 or 3
/// where they divide `n`.
pub fn with_groups<T: Copy>(cases: impl IntoIterator<Item = T>, n: usize) -> Vec<(T, usize)> {
    let groups = [1, 2, 3].into_iter().filter(|&k| n.is_multiple_of(k));
    let groups: Vec<usize> = groups.collect();
    cases
        .into_iter()
        .flat_map(|c| groups.iter().map(move |&g| (c, g)))
        .collect()
}

/// `Σ w·t`: a loss with a random upstream gradient `w`.
pub fn weighted<const D: usize>(t: Tensor<D>, w: &Tensor<D>) -> Tensor<1> {
    (t * w.clone()).sum()
}

/// `x`'s values (read in NCHW order) in a tensor laid out as `layout`, whatever the layout of
/// `x` (burn's elementwise ops may or may not keep their input's).
pub fn laid_out(x: Tensor<4>, layout: Layout) -> Tensor<4> {
    let device = x.device();
    let [n, c, h, w] = x.dims();
    let values: Vec<f32> = x
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values");
    let at = |i: usize, j: usize, k: usize| values[((i * c + j) * h + k) * w..][..w].to_vec();
    // Rows of [C, rows, H, W] holding sample i at row i + first (filler elsewhere).
    let channel_major = |rows: usize, first: usize| -> Vec<f32> {
        let mut out = Vec::with_capacity(c * rows * h * w);
        for j in 0..c {
            for r in 0..rows {
                for k in 0..h {
                    match r.checked_sub(first).filter(|&i| i < n) {
                        Some(i) => out.extend(at(i, j, k)),
                        None => out.extend(std::iter::repeat_n(7.5, w)),
                    }
                }
            }
        }
        out
    };
    let tensor =
        |v: Vec<f32>, shape: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v, shape), &device);
    match layout {
        Layout::Nchw => tensor(values.clone(), [n, c, h, w]),
        Layout::ChannelMajor => tensor(channel_major(n, 0), [c, n, h, w]).swap_dims(0, 1),
        Layout::ChannelMajorRows => tensor(channel_major(n + 3, 2), [c, n + 3, h, w])
            .swap_dims(0, 1)
            .slice([2..n + 2, 0..c, 0..h, 0..w]),
    }
}

/// An upstream gradient: contiguous (0), a permuted view (1: NHWC), broadcast along H (2: a
/// stride-0 view), as burn's autodiff hands them out, or channel-major (3: a convolution's). (Not constant per channel: the input gradient
/// of a constant is zero.)
pub fn upstream(shape: [usize; 4], layout: usize, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let [n, c, h, w] = shape;
    match layout {
        0 => rng.normal_tensor(shape, 0.0, 1.0, device),
        1 => rng
            .normal_tensor([n, h, w, c], 0.0, 1.0, device)
            .permute([0, 3, 1, 2]),
        2 => rng
            .normal_tensor([n, c, 1, w], 0.0, 1.0, device)
            .expand(shape),
        _ => rng
            .normal_tensor([c, n, h, w], 0.0, 1.0, device)
            .swap_dims(0, 1),
    }
}
