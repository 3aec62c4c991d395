//! Helpers of the flex CPU implementations (`*_flex.rs`): row-major f32 values in and out.

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Shape, TensorData};

/// `t` (4-dimensional) itself when each of its `[H, W]` planes is one contiguous run of memory
/// (strides `[…, …, W, 1]`, N and C in either order, gaps between the planes allowed), else a
/// row-major copy.
pub(super) fn in_planes(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the flex ops are f32 only");
    let layout = t.layout();
    let (shape, strides) = (layout.shape(), layout.strides());
    assert_eq!(shape.num_dims(), 4, "expected a [N, C, H, W] tensor");
    let mut expected = 1isize;
    for d in [3, 2] {
        if shape[d] > 1 && strides[d] != expected {
            return contiguous(t);
        }
        expected *= shape[d] as isize;
    }
    t
}

/// A 4-dimensional tensor's `[H, W]` planes, each contiguous ([`in_planes`]), read in place.
pub(super) struct Planes<'a> {
    values: &'a [f32],
    start: isize,
    /// Strides of N and C.
    sn: isize,
    sc: isize,
    hw: usize,
}

impl<'a> Planes<'a> {
    pub(super) fn new(t: &'a FlexTensor) -> Self {
        let layout = t.layout();
        let (shape, strides) = (layout.shape(), layout.strides());
        Planes {
            values: t.storage::<f32>(),
            start: layout.start_offset() as isize,
            sn: strides[0],
            sc: strides[1],
            hw: shape[2] * shape[3],
        }
    }

    /// The plane of sample `b`, channel `ch`.
    pub(super) fn get(&self, b: usize, ch: usize) -> &'a [f32] {
        let at = self.start + b as isize * self.sn + ch as isize * self.sc;
        &self.values[at as usize..][..self.hw]
    }
}

/// The order of a `[N, C, H, W]` tensor's planes in memory: sample by sample (row-major), or
/// channel by channel (a channel-major view of `[C, N, H, W]` values, as the GEMM convolutions
/// hand out). Outputs written in their input's order keep an activation channel-major from
/// one convolution to the next, as the WGSL kernels do.
pub(super) struct PlaneOrder {
    pub(super) shape: [usize; 4],
    channel_major: bool,
}

impl PlaneOrder {
    pub(super) fn of(t: &FlexTensor) -> Self {
        let layout = t.layout();
        let (shape, strides) = (layout.shape(), layout.strides());
        assert_eq!(shape.num_dims(), 4, "expected a [N, C, H, W] tensor");
        let shape = [shape[0], shape[1], shape[2], shape[3]];
        PlaneOrder {
            shape,
            channel_major: shape[0] > 1 && shape[1] > 1 && strides[0].abs() < strides[1].abs(),
        }
    }

    /// Values in the tensor.
    pub(super) fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Values per plane.
    pub(super) fn hw(&self) -> usize {
        self.shape[2] * self.shape[3]
    }

    /// `(sample, channel)` of plane number `plane` in this order.
    pub(super) fn plane_at(&self, plane: usize) -> (usize, usize) {
        let [n, c, _, _] = self.shape;
        if self.channel_major {
            (plane % n, plane / n)
        } else {
            (plane / c, plane % c)
        }
    }

    /// The `[N, C, H, W]` tensor of `values`, planes in this order.
    pub(super) fn tensor(&self, values: Vec<f32>) -> FlexTensor {
        let [n, c, h, w] = self.shape;
        if self.channel_major {
            from_values(values, Shape::new([c, n, h, w])).transpose(0, 1)
        } else {
            from_values(values, Shape::new([n, c, h, w]))
        }
    }
}

/// `t` itself when its values lie contiguously in row-major order, else a row-major copy.
pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the flex ops are f32 only");
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The values of a row-major f32 tensor (see [`contiguous`]).
pub(super) fn f32_values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a row-major f32 tensor")
}

/// A per-channel vector's `c` values.
pub(super) fn channel_values(t: FlexTensor, c: usize, what: &str) -> Vec<f32> {
    let t = contiguous(t);
    let v = f32_values(&t);
    assert_eq!(
        v.len(),
        c,
        "BatchNorm: {what} has {} values for {c} channels",
        v.len()
    );
    v.to_vec()
}

/// Runs `f(i, chunk)` on each `len`-long chunk of `out`, on rayon's threads where the
/// `fast-cpu` feature is on.
pub(super) fn for_chunks(out: &mut [f32], len: usize, f: impl Fn(usize, &mut [f32]) + Send + Sync) {
    if len == 0 {
        return;
    }
    #[cfg(feature = "fast-cpu")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, chunk)| f(i, chunk));
    }
    #[cfg(not(feature = "fast-cpu"))]
    out.chunks_mut(len)
        .enumerate()
        .for_each(|(i, chunk)| f(i, chunk));
}

/// [`for_chunks`] over two outputs at once: `f(i, a_chunk, b_chunk)`.
pub(super) fn for_chunk_pairs(
    a: &mut [f32],
    b: &mut [f32],
    len: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Send + Sync,
) {
    if len == 0 {
        return;
    }
    #[cfg(feature = "fast-cpu")]
    {
        use rayon::prelude::*;
        a.par_chunks_mut(len)
            .zip(b.par_chunks_mut(len))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y));
    }
    #[cfg(not(feature = "fast-cpu"))]
    a.chunks_mut(len)
        .zip(b.chunks_mut(len))
        .enumerate()
        .for_each(|(i, (x, y))| f(i, x, y));
}

/// `[f(0), …, f(n − 1)]`, computed on rayon's threads where the `fast-cpu` feature is on.
pub(super) fn map_indices<T: Send>(n: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    #[cfg(feature = "fast-cpu")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "fast-cpu"))]
    (0..n).map(f).collect()
}

/// A new row-major tensor of `shape` holding `values`.
pub(super) fn from_values(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// `Σᵢ term(i)` for `i < n`, `K` sums at once: eight f32 partial sums per quantity (independent
/// additions, which the compiler can vectorise, instead of one chain of dependent ones), added
/// up in f64 at the end.
pub(super) fn lane_sums<const K: usize>(n: usize, term: impl Fn(usize) -> [f32; K]) -> [f64; K] {
    const LANES: usize = 8;
    let mut acc = [[0f32; LANES]; K];
    let full = n - n % LANES;
    for base in (0..full).step_by(LANES) {
        for (l, i) in (base..base + LANES).enumerate() {
            let t = term(i);
            for k in 0..K {
                acc[k][l] += t[k];
            }
        }
    }
    let mut out = [0f64; K];
    for i in full..n {
        let t = term(i);
        for k in 0..K {
            out[k] += t[k] as f64;
        }
    }
    for k in 0..K {
        out[k] += acc[k].iter().map(|&v| v as f64).sum::<f64>();
    }
    out
}

/// `tᵀ` of a row-major `[R, C]` tensor, as a new row-major `[C, R]` one: 16×16 tiles, each read
/// along `t`'s rows into a block on the stack and written out along the output's rows, output
/// rows split over rayon's threads (about 4 tasks per thread). A quarter of a nanosecond per
/// value on 2 cores of a Zen 5 EPYC, where flex's strided copy of the transposed view took
/// several.
pub(super) fn transposed(t: &FlexTensor) -> FlexTensor {
    const B: usize = 16;
    let [r, c] = [t.layout().shape()[0], t.layout().shape()[1]];
    let src = f32_values(t);
    let mut out = vec![0f32; r * c];
    #[cfg(feature = "fast-cpu")]
    let tasks = rayon::current_num_threads() * 4;
    #[cfg(not(feature = "fast-cpu"))]
    let tasks = 1;
    // Output rows (columns of `t`) per task, a multiple of the tile.
    let rows = c.div_ceil(tasks).next_multiple_of(B).max(B);
    for_chunks(&mut out, rows * r, |task, dst| {
        let first = task * rows;
        let last = first + dst.len() / r;
        for i0 in (first..last).step_by(B) {
            let i1 = (i0 + B).min(last);
            for j0 in (0..r).step_by(B) {
                let j1 = (j0 + B).min(r);
                if i1 - i0 == B && j1 - j0 == B {
                    let mut tile = [[0f32; B]; B];
                    for j in 0..B {
                        let row = &src[(j0 + j) * c + i0..][..B];
                        for i in 0..B {
                            tile[i][j] = row[i];
                        }
                    }
                    for (i, values) in tile.iter().enumerate() {
                        dst[(i0 + i - first) * r + j0..][..B].copy_from_slice(values);
                    }
                } else {
                    for i in i0..i1 {
                        for j in j0..j1 {
                            dst[(i - first) * r + j] = src[j * c + i];
                        }
                    }
                }
            }
        }
    });
    from_values(out, Shape::new([c, r]))
}
