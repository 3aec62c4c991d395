//! Patch extraction (`im2col`) and its adjoint (`col2im`): the two data movements that turn a
//! convolution into one matrix product.
//!
//! Layout: `cols[(c·k + kh)·k + kw, (n·ho + oh)·wo + ow] = xpad[n, c, oh·s + kh, ow·s + kw]`
//! where `xpad` is `x` zero-padded by `p` on every side. `cols` is `[C·k², N·ho·wo]`, so a
//! convolution is `W[C_out, C·k²] · cols` and the batch is folded into the product's columns
//! (one large matrix product rather than many small ones).
//!
//! [`im2col`] / [`col2im`] pick the WGSL kernels on wgpu, loops on the flex CPU backend and the
//! plain-tensor references elsewhere; all are differentiable (each is the other's backward).

use burn::tensor::ops::PadMode;
use burn::tensor::{Slice, Tensor};

/// Geometry of one convolution: input `[n, c, h, w]`, square `k×k` kernel, stride, symmetric
/// zero padding, output `ho × wo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patches {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: usize,
    pub ho: usize,
    pub wo: usize,
}

impl Patches {
    /// The geometry of `conv2d(x, k, stride, padding)` on an input of shape `dims`:
    /// `ho = ⌊(h + 2p − k) / s⌋ + 1`.
    ///
    /// # Panics
    /// When the padded input is smaller than the kernel or the stride is 0.
    pub fn conv(dims: [usize; 4], k: usize, stride: usize, padding: usize) -> Self {
        let [n, c, h, w] = dims;
        assert!(stride > 0, "convolution stride must be ≥ 1");
        assert!(
            h + 2 * padding >= k && w + 2 * padding >= k,
            "a {k}×{k} kernel does not fit a {h}×{w} input padded by {padding}"
        );
        let out = |size: usize| (size + 2 * padding - k) / stride + 1;
        Patches {
            n,
            c,
            h,
            w,
            k,
            stride,
            padding,
            ho: out(h),
            wo: out(w),
        }
    }

    /// Rows of `cols`: `C·k²`.
    pub fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Columns of `cols`: `N·ho·wo`.
    pub fn cols(&self) -> usize {
        self.n * self.ho * self.wo
    }

    /// The nine numbers the WGSL kernels read: `[n, c, h, w, k, s, p, ho, wo]`.
    pub fn info(&self) -> [u32; 9] {
        [
            self.n,
            self.c,
            self.h,
            self.w,
            self.k,
            self.stride,
            self.padding,
            self.ho,
            self.wo,
        ]
        .map(|v| u32::try_from(v).expect("convolution sizes fit in u32"))
    }

    /// Height/width of the zero-padded input that every patch lies in.
    fn padded(&self) -> [usize; 2] {
        let need =
            |o: usize, size: usize| (size + 2 * self.padding).max((o - 1) * self.stride + self.k);
        [need(self.ho, self.h), need(self.wo, self.w)]
    }

    /// The stepped window of `xpad` that kernel tap `(kh, kw)` reads: `[N, C, ho, wo]`.
    fn tap(&self, kh: usize, kw: usize) -> [Slice; 4] {
        let s = self.stride;
        let range = |start: usize, o: usize| Slice {
            start: start as isize,
            end: Some((start + (o - 1) * s + 1) as isize),
            step: s as isize,
        };
        [
            Slice::from(..),
            Slice::from(..),
            range(kh, self.ho),
            range(kw, self.wo),
        ]
    }
}

/// Plain-tensor `im2col`: `x [N, C, h, w]` → `cols [C·k², N·ho·wo]` (pad, k² stepped slices,
/// stack, permute).
pub fn im2col_reference(x: Tensor<4>, g: Patches) -> Tensor<2> {
    assert_eq!(x.dims(), [g.n, g.c, g.h, g.w], "im2col: input shape");
    let [ph, pw] = g.padded();
    let p = g.padding;
    let xpad = if ph == g.h && pw == g.w {
        x
    } else {
        x.pad(
            [(p, ph - g.h - p), (p, pw - g.w - p)],
            PadMode::Constant(0.0),
        )
    };
    let taps: Vec<Tensor<4>> = (0..g.k * g.k)
        .map(|t| xpad.clone().slice(g.tap(t / g.k, t % g.k)))
        .collect();
    // [N, C, k², ho, wo] → [C, k², N, ho, wo]
    Tensor::stack::<5>(taps, 2)
        .permute([1, 2, 0, 3, 4])
        .reshape([g.rows(), g.cols()])
}

/// Plain-tensor `col2im`, the adjoint of [`im2col_reference`]: every column entry is added
/// back at the input position it was read from (padding dropped). `cols [C·k², N·ho·wo]` →
/// `[N, C, h, w]`.
pub fn col2im_reference(cols: Tensor<2>, g: Patches) -> Tensor<4> {
    assert_eq!(cols.dims(), [g.rows(), g.cols()], "col2im: columns shape");
    let [ph, pw] = g.padded();
    let taps = cols
        .reshape([g.c, g.k * g.k, g.n, g.ho, g.wo])
        .permute([2, 0, 1, 3, 4]); // [N, C, k², ho, wo]
    let mut out = Tensor::<4>::zeros([g.n, g.c, ph, pw], &taps.device());
    for t in 0..g.k * g.k {
        let piece = taps
            .clone()
            .slice([0..g.n, 0..g.c, t..t + 1, 0..g.ho, 0..g.wo])
            .reshape([g.n, g.c, g.ho, g.wo]);
        let window = g.tap(t / g.k, t % g.k);
        let sum = out.clone().slice(window) + piece;
        out = out.slice_assign(window, sum);
    }
    let p = g.padding;
    out.slice([0..g.n, 0..g.c, p..p + g.h, p..p + g.w])
}

/// `im2col` by the WGSL kernel on wgpu or the loop on flex (f32), by [`im2col_reference`]
/// elsewhere.
pub fn im2col(x: Tensor<4>, g: Patches) -> Tensor<2> {
    if crate::kernels::patches::runs_kernel(&x) {
        return crate::kernels::patches::im2col_kernel(x, g);
    }
    im2col_reference(x, g)
}

/// `col2im` by the WGSL kernel on wgpu or the loop on flex (f32), by [`col2im_reference`]
/// elsewhere.
pub fn col2im(cols: Tensor<2>, g: Patches) -> Tensor<4> {
    if crate::kernels::patches::runs_kernel(&cols) {
        return crate::kernels::patches::col2im_kernel(cols, g);
    }
    col2im_reference(cols, g)
}
