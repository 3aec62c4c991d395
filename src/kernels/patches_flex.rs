//! The patch ops on the flex CPU backend: `im2col` and `col2im` as loops over the rows of the
//! columns (each row one channel and one kernel tap), where the plain-tensor references take a
//! padding copy, k² stepped slices, a stack and a permutation (im2col), or k² slice-and-assign
//! passes over the whole image (col2im). With the `fast-cpu` feature the rows are spread over
//! rayon's threads. The indexing is the references' (`conv::patches`).

use super::flex::{contiguous, f32_values, for_chunks, from_values};
use super::patches_ops::PatchOps;
use burn::backend::flex::Flex;
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, Shape};

/// `[n, c, h, w, k, s, p, ho, wo]`.
fn dims(info: [u32; 9]) -> [usize; 9] {
    info.map(|v| v as usize)
}

/// The input positions `o·s + t − p` of the outputs `o < outs` for kernel tap `t`, on an axis
/// `size` long: the first and one past the last output that read inside it.
fn inside(t: usize, s: usize, p: usize, size: usize, outs: usize) -> (usize, usize) {
    // o·s + t ≥ p  ⇔  o ≥ ⌈(p − t) / s⌉;  o·s + t − p < size  ⇔  o < ⌈(size + p − t) / s⌉.
    let first = p.saturating_sub(t).div_ceil(s);
    let end = if size + p > t {
        (size + p - t).div_ceil(s).min(outs)
    } else {
        0
    };
    (first.min(end), end)
}

impl PatchOps for Flex {
    /// `x` is read through its strides (a channel-major view, say, is not copied first).
    fn im2col(x: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let [n, c, h, w, k, s, p, ho, wo] = dims(info);
        assert_eq!(x.dtype(), DType::F32, "the patch ops are f32 only");
        let layout = x.layout();
        assert_eq!(
            layout.shape().to_vec(),
            vec![n, c, h, w],
            "im2col: input shape"
        );
        let [sn, sc, sh, sw]: [isize; 4] = layout
            .strides()
            .try_into()
            .expect("im2col: a 4-dimensional input");
        let start = layout.start_offset() as isize;
        let xs = x.storage::<f32>();
        let cols = n * ho * wo;
        let mut out = vec![0f32; c * k * k * cols];
        for_chunks(&mut out, cols, |row, dst| {
            let (ch, kh, kw) = (row / (k * k), row / k % k, row % k);
            let (oh0, oh1) = inside(kh, s, p, h, ho);
            let (ow0, ow1) = inside(kw, s, p, w, wo);
            if oh0 == oh1 || ow0 == ow1 {
                return; // the tap reads only padding: a row of zeros
            }
            for b in 0..n {
                let plane = start + b as isize * sn + ch as isize * sc;
                for oh in oh0..oh1 {
                    let ih = (oh * s + kh - p) as isize;
                    let line = plane + ih * sh;
                    // Outputs ow0.. read the input from column ow0·s + kw − p on, s apart.
                    let first = line + (ow0 * s + kw - p) as isize * sw;
                    let step = s as isize * sw;
                    let d = &mut dst[(b * ho + oh) * wo..][ow0..ow1];
                    for (j, v) in d.iter_mut().enumerate() {
                        *v = xs[(first + j as isize * step) as usize];
                    }
                }
            }
        });
        from_values(out, Shape::new([c * k * k, cols]))
    }

    /// The image comes out channel-major (a `[N, C, h, w]` view of `[C, N, h, w]` values, as
    /// the WGSL kernel writes it): the next GEMM convolution's `[C, N·h·w]` operand, and
    /// BatchNorm's input, whose output keeps the layout. Each channel's plane of every image is
    /// summed from its k² rows in turn.
    fn col2im(cols: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let [n, c, h, w, k, s, p, ho, wo] = dims(info);
        let cols = contiguous(cols);
        assert_eq!(
            cols.layout().shape().to_vec(),
            vec![c * k * k, n * ho * wo],
            "col2im: columns shape"
        );
        let src = f32_values(&cols);
        let width = n * ho * wo;
        let mut out = vec![0f32; n * c * h * w];
        // One chunk per (channel, image) plane.
        for_chunks(&mut out, h * w, |plane, dst| {
            let (ch, b) = (plane / n, plane % n);
            for kh in 0..k {
                let (oh0, oh1) = inside(kh, s, p, h, ho);
                for kw in 0..k {
                    let (ow0, ow1) = inside(kw, s, p, w, wo);
                    if ow0 == ow1 {
                        continue; // the tap reads only padding
                    }
                    let row = &src[((ch * k + kh) * k + kw) * width..][..width];
                    for oh in oh0..oh1 {
                        let ih = oh * s + kh - p;
                        let from = &row[(b * ho + oh) * wo..][ow0..ow1];
                        // Output ow0 + j adds into column (ow0 + j)·s + kw − p.
                        let line = &mut dst[ih * w + ow0 * s + kw - p..];
                        for (j, &v) in from.iter().enumerate() {
                            line[j * s] += v;
                        }
                    }
                }
            }
        });
        from_values(out, Shape::new([c, n, h, w])).transpose(0, 1)
    }
}
