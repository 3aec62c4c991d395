//! Every convolution of the layer kit goes through this module, so that burn's own kernels and
//! the GEMM formulation ([`gemm`]) can be switched and compared.
//!
//! A convolution layer needs three things — forward, input gradient and weight gradient — and a
//! transposed convolution needs the same three with roles exchanged (its forward is a
//! convolution's input gradient). All of them are differentiable tensor expressions on both
//! paths, so the gradient penalty's double backward runs through whichever path is selected.
//!
//! The path is a process-wide setting ([`set_conv_path`]), which [`with_conv_path`] overrides
//! for one thread and one closure (tests compare both paths side by side this way);
//! [`ConvPath::Auto`] (the default) picks per device — see [`resolve`].

pub mod gemm;
pub mod patches;

use burn::tensor::module::{conv2d as burn_conv2d, conv_transpose2d as burn_conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

/// Which implementation runs the kit's convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvPath {
    /// Per device: [`ConvPath::Tiled`] on native wgpu (WGSL patch kernels, each matrix product
    /// burn's or margan's split-K tiled kernel, whichever is faster), [`ConvPath::Gemm`] on
    /// native flex (the patch loops) and on burn's ndarray backend, [`ConvPath::Burn`] in the
    /// browser (see [`resolve`]).
    Auto,
    /// burn's `conv2d` / `conv_transpose2d` (and a convolution for the weight gradient).
    Burn,
    /// Patches and one matrix product ([`gemm`]), burn's `matmul`.
    Gemm,
    /// The same GEMM formulation, each product on wgpu picked per shape between burn's `matmul`
    /// and the variants of margan's split-K tiled WGSL product ([`crate::kernels::matmul`],
    /// measured by default); on other devices the same as [`ConvPath::Gemm`].
    Tiled,
}

impl ConvPath {
    pub fn name(self) -> &'static str {
        match self {
            ConvPath::Auto => "auto",
            ConvPath::Burn => "burn",
            ConvPath::Gemm => "gemm",
            ConvPath::Tiled => "tiled",
        }
    }

    /// Parses `auto`, `burn`, `gemm` or `tiled`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(ConvPath::Auto),
            "burn" => Some(ConvPath::Burn),
            "gemm" => Some(ConvPath::Gemm),
            "tiled" => Some(ConvPath::Tiled),
            _ => None,
        }
    }
}

static PATH: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static SCOPED: Cell<Option<ConvPath>> = const { Cell::new(None) };
}

/// Runs `f` with convolutions on this thread taking `path`, whatever the process-wide setting;
/// the previous override is restored afterwards (also when `f` panics).
pub fn with_conv_path<R>(path: ConvPath, f: impl FnOnce() -> R) -> R {
    crate::scoped::with_override(&SCOPED, path, f)
}

/// Selects the convolution path for the whole process (default [`ConvPath::Auto`]).
pub fn set_conv_path(path: ConvPath) {
    let v = match path {
        ConvPath::Auto => 0,
        ConvPath::Burn => 1,
        ConvPath::Gemm => 2,
        ConvPath::Tiled => 3,
    };
    PATH.store(v, Ordering::Relaxed);
}

/// The selected path (possibly [`ConvPath::Auto`]): this thread's [`with_conv_path`] override,
/// else the process-wide setting.
pub fn conv_path() -> ConvPath {
    if let Some(p) = SCOPED.with(Cell::get) {
        return p;
    }
    match PATH.load(Ordering::Relaxed) {
        1 => ConvPath::Burn,
        2 => ConvPath::Gemm,
        3 => ConvPath::Tiled,
        _ => ConvPath::Auto,
    }
}

/// The path convolutions on `device` take now: the selected one, or for `Auto` the GEMM
/// formulation with the tiled kernel on native wgpu (burn 0.22's direct convolutions are 10–100×
/// slower than a matrix product there; on an H200 the `tiled` path ran DCGAN-32 with the L∞
/// penalty at 46.5 it/s against 43.3 with burn's matrix product alone and 15.4 with burn's
/// convolutions, batch 64), and the GEMM formulation on native flex, the CPU backend: one
/// matrix product over the whole batch (flex's convolutions multiply one image at a time, and
/// products a few outputs wide run gemm's narrowest micro-kernels) with the patch loops of
/// `kernels/patches_flex.rs`; DCGAN-32 with the L∞ penalty ran 1.15–1.5× faster than on flex's
/// convolutions at batches 2 to 64 (`margan bench --conv burn,gemm`). In the browser `Auto`
/// keeps burn's convolutions, on WebGPU and on the CPU (single-threaded WebAssembly, not
/// measured on the GEMM path): on the one WebGPU adapter measured so far (Chromium's
/// SwiftShader) a DCGAN-32 sampling batch took 9.9 s on the GEMM path against 1.1–1.6 s on
/// burn's.
///
/// On burn's ndarray CPU backend (feature `ndarray`, there for comparison) `Auto` takes the GEMM
/// path as well: ndarray's own convolutions ran a DCGAN-32 iteration 27× slower than its matrix
/// product did (`margan bench --device ndarray --conv burn,gemm`).
pub fn resolve(device: &Device) -> ConvPath {
    let native = cfg!(not(target_arch = "wasm32"));
    let native_gpu = native && crate::kernels::has_kernels(device);
    match conv_path() {
        ConvPath::Auto if native_gpu => ConvPath::Tiled,
        ConvPath::Auto if crate::device::is_ndarray(device) => ConvPath::Gemm,
        ConvPath::Auto if native && crate::kernels::is_flex(device) => ConvPath::Gemm,
        ConvPath::Auto => ConvPath::Burn,
        p => p,
    }
}

fn options(stride: usize, padding: usize, dilation: usize) -> ConvOptions<2> {
    ConvOptions::new(
        [stride, stride],
        [padding, padding],
        [dilation, dilation],
        1,
    )
}

fn with_bias(y: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match bias {
        Some(b) => {
            let c = b.dims()[0];
            y + b.reshape([1, c, 1, 1])
        }
        None => y,
    }
}

/// `conv2d(x, W) + b`, `W: [C_out, C_in, k, k]`, square kernel, symmetric padding.
pub fn conv2d(
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    match resolve(&x.device()) {
        ConvPath::Gemm | ConvPath::Tiled => {
            with_bias(gemm::conv2d_gemm(x, w, stride, padding), bias)
        }
        _ => burn_conv2d(x, w, bias, options(stride, padding, 1)),
    }
}

/// The input gradient of `y = conv2d(x, W)` for an input of spatial size `hw`, i.e.
/// `conv_transpose2d(gy, W)` with the output padding that gives back `hw`.
pub fn conv2d_input_grad(
    gy: Tensor<4>,
    w: Tensor<4>,
    hw: [usize; 2],
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    match resolve(&gy.device()) {
        ConvPath::Gemm | ConvPath::Tiled => {
            gemm::conv2d_input_grad_gemm(gy, w, hw, stride, padding)
        }
        _ => {
            let [_, _, ho, wo] = gy.dims();
            let k = w.dims()[2];
            let extra = |size: usize, out: usize| size + 2 * padding - ((out - 1) * stride + k);
            let o = ConvTransposeOptions::new(
                [stride, stride],
                [padding, padding],
                [extra(hw[0], ho), extra(hw[1], wo)],
                [1, 1],
                1,
            );
            burn_conv_transpose2d(gy, w, None, o)
        }
    }
}

/// The weight gradient of `y = conv2d(x, W)` for a `k×k` kernel: `[C_out, C_in, k, k]`.
pub fn conv2d_weight_grad(
    x: Tensor<4>,
    gy: Tensor<4>,
    k: usize,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    match resolve(&x.device()) {
        ConvPath::Gemm | ConvPath::Tiled => {
            gemm::conv2d_weight_grad_gemm(x, gy, k, stride, padding)
        }
        _ => {
            // Batch and channels swap roles and the stride becomes a dilation.
            let [c_in, c_out] = [x.dims()[1], gy.dims()[1]];
            let g = burn_conv2d(
                x.swap_dims(0, 1),
                gy.swap_dims(0, 1),
                None,
                options(1, padding, stride),
            );
            // [C_in, C_out, ≥k, ≥k]: rows past the kernel come from padding + stride rounding.
            g.slice([0..c_in, 0..c_out, 0..k, 0..k]).swap_dims(0, 1)
        }
    }
}

/// `conv_transpose2d(x, W) + b`, `W: [C_in, C_out, k, k]`: the input gradient of a convolution
/// with weight `W` whose input is `(h − 1)·s − 2p + k + output_padding` high (and wide).
pub fn conv_transpose2d(
    x: Tensor<4>,
    w: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
    output_padding: usize,
) -> Tensor<4> {
    let [_, _, h, wd] = x.dims();
    let k = w.dims()[2];
    let size = |i: usize| (i - 1) * stride + k + output_padding - 2 * padding;
    match resolve(&x.device()) {
        ConvPath::Gemm | ConvPath::Tiled => with_bias(
            gemm::conv2d_input_grad_gemm(x, w, [size(h), size(wd)], stride, padding),
            bias,
        ),
        _ => {
            let (s, p, o) = (stride, padding, output_padding);
            let options = ConvTransposeOptions::new([s, s], [p, p], [o, o], [1, 1], 1);
            burn_conv_transpose2d(x, w, bias, options)
        }
    }
}
