//! A tiled f32 matrix product in WGSL (`shaders/tiled_matmul.wgsl`) for the GEMM convolutions
//! on the `tiled` path ([`crate::conv::ConvPath::Tiled`]): blocks of 64 or 128 rows and columns
//! of the product per workgroup ([`MatmulVariant`]), operands read through their strides
//! (transposes are views), and K split over several workgroups when the product has few blocks
//! (a second launch adds the ranges up).
//!
//! Which product runs — burn 0.22's autotuned `matmul` or one variant of the kernel — is chosen
//! per shape ([`MatmulTuning`]). By default each shape is measured the first time it is seen and
//! the fastest is kept: on an H200 the 64×64 kernel beat burn's on *thin* products (1.9 against
//! 4.2 ms for DCGAN-32's 128→256 weight gradient at batch 256) and lost on square ones (2.2
//! against 1.1 ms for the 256→512 input gradient), so no fixed rule is right on every GPU.
//! `margan bench --matmul` prints what was measured.

pub use super::matmul_variant::{MatmulVariant, TcVariant};
use burn::tensor::Tensor;
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Plain-tensor reference: burn's `matmul`.
pub fn matmul_reference(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    a.matmul(b)
}

/// What computes one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulChoice {
    /// burn's `matmul` (autotuned by burn).
    Burn,
    /// margan's tiled kernel.
    Kernel(MatmulVariant),
    /// The optional f16 tensor-core kernel (`shaders/tc_matmul.wgsl`): operands rounded to f16
    /// (or split into two f16 parts: [`TcVariant::split`]), 16×16×16 cooperative matrices, f32
    /// accumulation; only where [`tensor_cores`] is true.
    TensorCores(TcVariant),
    /// The tensor cores' arithmetic on any wgpu adapter: the 64×64 kernel with its operands
    /// rounded to f16 as they are staged, f32 multiply-adds. What f16 products do to a run can
    /// be measured with it where no tensor cores are (it is no faster).
    F16Emulated,
}

impl MatmulChoice {
    pub fn name(self) -> String {
        match self {
            MatmulChoice::Burn => "burn".into(),
            MatmulChoice::Kernel(v) => v.name(),
            MatmulChoice::TensorCores(v) => v.name(),
            MatmulChoice::F16Emulated => "f16-emulated".into(),
        }
    }
}

/// How the `tiled` path picks the product for a shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulTuning {
    /// The first time an `[m, k] · [k, n]` shape (and layout) is seen, time burn's `matmul` and
    /// every [`MatmulVariant`] on it and keep the fastest (products under 2²⁴ multiply-adds,
    /// which cost about a launch, go to burn's). The default on native GPUs; in the browser,
    /// where the device cannot be waited on, it falls back to [`MatmulTuning::Heuristic`].
    Measure,
    /// The default variant where the product [`is_thin`], burn's `matmul` elsewhere.
    Heuristic,
    /// Always the same (benchmarks and tests).
    Fixed(MatmulChoice),
    /// As [`MatmulTuning::Measure`], with every [`TcVariant`] of the f16 tensor-core kernel among
    /// the candidates where the adapter has it ([`tensor_cores`]) and its workgroup memory holds
    /// the variant (the f16×3 ones too). Experimental: f16 operands change the numbers.
    MeasureF16,
    /// As [`MatmulTuning::Measure`], with the f16×3 variants of the tensor-core kernel
    /// ([`TcVariant::SPLIT`]: f32's precision from three f16 products) among the candidates where
    /// the adapter has tensor cores: every candidate is then an f32-accurate product.
    MeasureF16x3,
}

impl MatmulTuning {
    /// `measure`, `heuristic`, `burn`, a variant's [`MatmulVariant::name`] (e.g. `64x64+pf`),
    /// `f16` (the tensor-core kernel's default variant) or a [`TcVariant::name`] (e.g.
    /// `f16-128x128+pf`), `f16x3` (the default f16×3 variant) or an f16×3 one's name,
    /// `measure-f16`, `measure-f16x3` or `f16-emulated`.
    pub fn parse(s: &str) -> Option<Self> {
        let fixed = |c| Some(MatmulTuning::Fixed(c));
        match s {
            "measure" => Some(MatmulTuning::Measure),
            "heuristic" => Some(MatmulTuning::Heuristic),
            "burn" => fixed(MatmulChoice::Burn),
            "f16" => fixed(MatmulChoice::TensorCores(TcVariant::DEFAULT)),
            "measure-f16" => Some(MatmulTuning::MeasureF16),
            "f16x3" => fixed(MatmulChoice::TensorCores(TcVariant::SPLIT[0])),
            "measure-f16x3" => Some(MatmulTuning::MeasureF16x3),
            "f16-emulated" => fixed(MatmulChoice::F16Emulated),
            _ => MatmulVariant::ALL
                .into_iter()
                .map(MatmulChoice::Kernel)
                .chain(TcVariant::every().map(MatmulChoice::TensorCores))
                .find(|c| c.name() == s)
                .and_then(fixed),
        }
    }

    pub fn name(self) -> String {
        match self {
            MatmulTuning::Measure => "measure".into(),
            MatmulTuning::Heuristic => "heuristic".into(),
            MatmulTuning::Fixed(c) => c.name(),
            MatmulTuning::MeasureF16 => "measure-f16".into(),
            MatmulTuning::MeasureF16x3 => "measure-f16x3".into(),
        }
    }

    /// The setting as one number, so that it travels with the recorded op (burn's fusion may
    /// run it later) and with its backward.
    pub(crate) fn code(self) -> u32 {
        match self {
            MatmulTuning::Measure => 0,
            MatmulTuning::Heuristic => 1,
            MatmulTuning::Fixed(MatmulChoice::Burn) => 2,
            MatmulTuning::MeasureF16 => 3,
            MatmulTuning::Fixed(MatmulChoice::F16Emulated) => 4,
            MatmulTuning::MeasureF16x3 => 5,
            MatmulTuning::Fixed(MatmulChoice::Kernel(v)) => {
                KERNEL_CODES + MatmulVariant::ALL.iter().position(|&w| w == v).unwrap_or(0) as u32
            }
            MatmulTuning::Fixed(MatmulChoice::TensorCores(v)) => {
                TC_CODES + TcVariant::every().position(|w| w == v).unwrap_or(0) as u32
            }
        }
    }

    pub(crate) fn from_code(code: u32) -> Self {
        let at = |c: u32, from: u32, len: usize| (c - from).min(len as u32 - 1) as usize;
        match code {
            0 => MatmulTuning::Measure,
            1 => MatmulTuning::Heuristic,
            2 => MatmulTuning::Fixed(MatmulChoice::Burn),
            3 => MatmulTuning::MeasureF16,
            4 => MatmulTuning::Fixed(MatmulChoice::F16Emulated),
            5 => MatmulTuning::MeasureF16x3,
            c if c < TC_CODES => MatmulTuning::Fixed(MatmulChoice::Kernel(
                MatmulVariant::ALL[at(c, KERNEL_CODES, MatmulVariant::ALL.len())],
            )),
            c => {
                let len = TcVariant::ALL.len() + TcVariant::SPLIT.len();
                let v = TcVariant::every().nth(at(c, TC_CODES, len));
                MatmulTuning::Fixed(MatmulChoice::TensorCores(v.unwrap_or(TcVariant::DEFAULT)))
            }
        }
    }
}

/// The first code of the kernel variants, and of the tensor-core variants.
const KERNEL_CODES: u32 = 6;
const TC_CODES: u32 = KERNEL_CODES + MatmulVariant::ALL.len() as u32;

static TUNING: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static SCOPED: Cell<Option<MatmulTuning>> = const { Cell::new(None) };
}

/// Selects how products are picked for the whole process (default [`MatmulTuning::Measure`]).
pub fn set_matmul_tuning(t: MatmulTuning) {
    TUNING.store(t.code(), Ordering::Relaxed);
}

/// The setting in force on this thread: its [`with_matmul_tuning`] override, else the
/// process-wide one.
pub fn matmul_tuning() -> MatmulTuning {
    SCOPED
        .with(Cell::get)
        .unwrap_or_else(|| MatmulTuning::from_code(TUNING.load(Ordering::Relaxed)))
}

/// Runs `f` with `t` on this thread (restored afterwards, also when `f` panics).
pub fn with_matmul_tuning<R>(t: MatmulTuning, f: impl FnOnce() -> R) -> R {
    crate::scoped::with_override(&SCOPED, t, f)
}

/// `a [M, K] · b [K, N]` on wgpu, picked as [`matmul_tuning`] says, differentiable in both
/// operands (each backward product picked the same way). Either may be a strided view.
///
/// # Panics
/// When the tensors are not on a wgpu device (check with [`super::has_kernels`]), not f32, or
/// their inner sizes differ.
#[cfg(feature = "wgpu")]
pub fn matmul_kernel(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    matmul_tuned(a, b, matmul_tuning())
}

/// `a · b` by one variant of the kernel (tests, benchmarks).
#[cfg(feature = "wgpu")]
pub fn matmul_variant(a: Tensor<2>, b: Tensor<2>, v: MatmulVariant) -> Tensor<2> {
    matmul_tuned(a, b, MatmulTuning::Fixed(MatmulChoice::Kernel(v)))
}

#[cfg(feature = "wgpu")]
fn matmul_tuned(a: Tensor<2>, b: Tensor<2>, t: MatmulTuning) -> Tensor<2> {
    use super::matmul_cube::TiledMatmulOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&a.device()),
        "the tiled matmul kernel runs on the wgpu backend only"
    );
    Tensor::from_dispatch(<Dispatch as TiledMatmulOps>::tiled_matmul(
        a.into_dispatch(),
        b.into_dispatch(),
        t.code(),
    ))
}

/// Workgroups a product should spread over before K is split: about four per multiprocessor
/// of a large GPU (an H100/H200 has 132).
const TARGET_GROUPS: usize = 528;
/// Shortest range of K a workgroup takes when K is split.
const MIN_RANGE: usize = 256;
/// The depth of one staged slice of K (the shader's `BK`); ranges are multiples of it.
pub(crate) const DEPTH: usize = 16;

/// How the kernel splits K for an `[m, k] · [k, n]` product with `v`'s blocks:
/// `(ranges, values per range)`, the range a multiple of 16.
pub fn split_k(m: usize, n: usize, k: usize, v: MatmulVariant) -> (usize, usize) {
    let [bm, bn] = v.block();
    split_k_blocks(m, n, k, bm, bn)
}

/// [`split_k`] for blocks of `bm × bn` values of C.
pub(crate) fn split_k_blocks(m: usize, n: usize, k: usize, bm: usize, bn: usize) -> (usize, usize) {
    let blocks = m.div_ceil(bm) * n.div_ceil(bn);
    let wanted = TARGET_GROUPS.div_ceil(blocks).min(k / MIN_RANGE).max(1);
    let range = k.div_ceil(wanted).div_ceil(DEPTH).max(1) * DEPTH;
    (k.div_ceil(range).max(1), range)
}

/// Whether [`MatmulTuning::Heuristic`] gives an `[m, k] · [k, n]` product to the kernel: K
/// split into at least 3 ranges with 64×64 blocks, and at least 2²⁶ multiply-adds (below that
/// the launches cost more than the product, and the split's second launch more than it saves).
pub fn is_thin(m: usize, n: usize, k: usize) -> bool {
    split_k(m, n, k, MatmulVariant::DEFAULT).0 >= 3 && m * n * k >= 1 << 26
}

/// Whether the f16 tensor-core kernel ([`MatmulChoice::TensorCores`]) runs here: margan's wgpu
/// device ([`crate::device::wgpu`]) is set up, and its adapter offers 16×16×16 f16 × f16 → f32
/// cooperative matrices (8×8×8 where only those are offered) and subgroups of one fixed width
/// of 8, 16, 32 or 64 (NVIDIA GPUs through Vulkan; Mesa's lavapipe from 26.x, on the CPU; not
/// the browser).
pub fn tensor_cores() -> bool {
    #[cfg(feature = "wgpu")]
    return super::adapter::available();
    #[cfg(not(feature = "wgpu"))]
    false
}

/// What the wgpu device offers for the tensor-core kernel, in words: the configuration and
/// subgroup width it runs with, or `none: ` and why (empty before margan's wgpu device is set up).
pub fn tensor_core_report() -> String {
    #[cfg(feature = "wgpu")]
    return super::adapter::report();
    #[cfg(not(feature = "wgpu"))]
    String::new()
}

/// Records whether the adapter offers the tensor-core kernel (called as margan's wgpu device
/// is set up).
#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
pub(crate) fn detect_tensor_cores(
    adapter: &burn::tensor::wgpu::wgpu::Adapter,
    device: &burn::tensor::wgpu::wgpu::Device,
) {
    super::adapter::detect(adapter, device)
}

/// The tensor-core kernel's complete WGSL for one variant, operand layout (A row-major, B
/// row-major), both operands read as vec4 or as f32, subgroup width (one of
/// [`TENSOR_CORE_WIDTHS`]) and side of the cooperative matrices (16, or 8): what its tests
/// validate with naga where no adapter can run it.
#[cfg(feature = "wgpu")]
pub fn tensor_core_wgsl(
    variant: TcVariant,
    row_major: [bool; 2],
    vec4: bool,
    subgroup_width: u32,
    tile: u32,
) -> String {
    super::matmul_tc::wgsl(variant, row_major, vec4, subgroup_width, tile)
}

/// Whether the wgpu device margan set up has the workgroup memory `variant` stages its slices in
/// (true before such a device is set up, or without wgpu: nothing is known to refuse it).
pub fn kernel_variant_fits(variant: MatmulVariant) -> bool {
    #[cfg(feature = "wgpu")]
    {
        let limit = super::adapter::workgroup_memory();
        limit == 0 || variant.shared_bytes() <= limit
    }
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = variant;
        true
    }
}

/// Whether the tensor-core kernel can run `variant` here: [`tensor_cores`], and the device's
/// workgroup memory holds the variant's staging.
pub fn tensor_core_variant_fits(variant: TcVariant) -> bool {
    #[cfg(feature = "wgpu")]
    return super::matmul_tc::fits(variant);
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = variant;
        false
    }
}

/// The subgroup widths the tensor-core kernel is generated for.
#[cfg(feature = "wgpu")]
pub const TENSOR_CORE_WIDTHS: [u32; 4] = super::adapter::WIDTHS;

/// Launches of margan's product kernels (the tiled one and the tensor-core one) on one thread,
/// and how many of them read A, and B, 4 values per load ([`MatmulVariant::vec4`] variants and
/// the tensor-core kernel do, where the operand's layout allows it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProductLaunches {
    pub launches: u64,
    pub a_vec4: u64,
    pub b_vec4: u64,
}

impl ProductLaunches {
    /// The launches since `earlier` (an earlier [`product_launches`] of the same thread).
    pub fn since(self, earlier: ProductLaunches) -> ProductLaunches {
        ProductLaunches {
            launches: self.launches - earlier.launches,
            a_vec4: self.a_vec4 - earlier.a_vec4,
            b_vec4: self.b_vec4 - earlier.b_vec4,
        }
    }
}

/// This thread's launches of margan's product kernels so far (none without wgpu).
pub fn product_launches() -> ProductLaunches {
    #[cfg(feature = "wgpu")]
    return super::matmul_cube::product_launches();
    #[cfg(not(feature = "wgpu"))]
    ProductLaunches::default()
}

/// One shape's measurement by [`MatmulTuning::Measure`].
#[derive(Clone, Debug)]
pub struct TuneRecord {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// A's k index and B's n index are the contiguous ones (row-major operands).
    pub row_major: [bool; 2],
    /// Each candidate's time in ms (mean of a few synchronised launches), as measured.
    pub times: Vec<(MatmulChoice, f64)>,
    pub chosen: MatmulChoice,
}

/// Every shape measured so far in this process, in the order first seen (none without wgpu).
pub fn tune_records() -> Vec<TuneRecord> {
    #[cfg(feature = "wgpu")]
    return super::matmul_tune::records();
    #[cfg(not(feature = "wgpu"))]
    Vec::new()
}

/// Forgets every measurement (the next product of each shape is measured again).
pub fn clear_tuning() {
    #[cfg(feature = "wgpu")]
    super::matmul_tune::clear()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting survives its code (how it travels with a recorded product).
    #[test]
    fn tuning_codes_round_trip() {
        let mut all = vec![
            MatmulTuning::Measure,
            MatmulTuning::Heuristic,
            MatmulTuning::MeasureF16,
            MatmulTuning::MeasureF16x3,
        ];
        all.extend([MatmulChoice::Burn, MatmulChoice::F16Emulated].map(MatmulTuning::Fixed));
        all.extend(MatmulVariant::ALL.map(|v| MatmulTuning::Fixed(MatmulChoice::Kernel(v))));
        all.extend(TcVariant::every().map(|v| MatmulTuning::Fixed(MatmulChoice::TensorCores(v))));
        let codes: std::collections::HashSet<u32> = all.iter().map(|t| t.code()).collect();
        assert_eq!(codes.len(), all.len(), "one code each");
        for t in all {
            assert_eq!(MatmulTuning::from_code(t.code()), t);
        }
    }
}
