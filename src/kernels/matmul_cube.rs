//! The tiled matrix product backend extension, its WGSL launch on the CubeCL (wgpu) backend
//! (`shaders/tiled_matmul.wgsl`, written out by [`super::matmul_shader`], plus
//! `shaders/split_sum.wgsl` when K is split), the dispatch to burn's `matmul` or a kernel
//! variant ([`super::matmul_tune`]) and its autodiff: `C = A·B` has `dA = dC·Bᵀ` and
//! `dB = Aᵀ·dC`, products on transposed views, each picked for its own shape.

use super::launch::{cube_count, empty_like, info_buffer, unaliased, Shader};
use super::matmul::{split_k_blocks, MatmulChoice, MatmulTuning, MatmulVariant, ProductLaunches};
use super::matmul_shader::MatmulShader;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::wgpu::{CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel};
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{server::KernelArguments, CubeCount};

/// Backend extension: `a [M, K] · b [K, N]`, both rank 2, any strides; `tuning` is a
/// [`MatmulTuning`] as its code.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait TiledMatmulOps: burn::backend::Backend {
    #[fusion(dtype = a, shape = Shape::new([a[0], b[1]]))]
    fn tiled_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>, tuning: u32) -> FloatTensor<Self>;
}

const SPLIT_SUM: Shader = Shader {
    name: "split_sum",
    source: include_str!("../../shaders/split_sum.wgsl"),
    workgroup: 256,
};

fn u32_of(v: usize, what: &str) -> u32 {
    u32::try_from(v).unwrap_or_else(|_| panic!("tiled matmul: {what} {v} exceeds u32"))
}

impl TiledMatmulOps for CubeBackend {
    fn tiled_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>, tuning: u32) -> FloatTensor<Self> {
        for t in [&a, &b] {
            assert_eq!(t.dtype, DType::F32, "the tiled matmul kernel is f32 only");
            assert_eq!(
                t.meta.shape().num_dims(),
                2,
                "tiled matmul: rank-2 operands only"
            );
        }
        let (sa, sb) = (a.meta.shape(), b.meta.shape());
        assert_eq!(
            sb[0], sa[1],
            "tiled matmul: [{}, {}] · [{}, {}]",
            sa[0], sa[1], sb[0], sb[1]
        );
        let choice = super::matmul_tune::choose(&a, &b, MatmulTuning::from_code(tuning));
        run(a, b, choice)
    }
}

/// `a · b` by `choice`.
pub(crate) fn run(a: CubeTensor, b: CubeTensor, choice: MatmulChoice) -> CubeTensor {
    match choice {
        MatmulChoice::Burn => burn_matmul::<CubeBackend>(a, b),
        MatmulChoice::Kernel(v) => launch(a, b, v, false),
        MatmulChoice::F16Emulated => launch(a, b, MatmulVariant::DEFAULT, true),
        MatmulChoice::TensorCores(v) => super::matmul_tc::launch(a, b, v),
    }
}

fn burn_matmul<B: burn::backend::Backend>(a: FloatTensor<B>, b: FloatTensor<B>) -> FloatTensor<B> {
    B::float_matmul(a, b)
}

thread_local! {
    /// This thread's launches of the product kernels so far.
    static LAUNCHES: std::cell::Cell<ProductLaunches> =
        const { std::cell::Cell::new(ProductLaunches { launches: 0, a_vec4: 0, b_vec4: 0 }) };
}

/// This thread's launches of the product kernels so far (see [`ProductLaunches`]).
pub(crate) fn product_launches() -> ProductLaunches {
    LAUNCHES.with(|c| c.get())
}

/// Counts a launch of a product kernel, with which operands it reads as vec4.
pub(crate) fn count_launch(a_vec4: bool, b_vec4: bool) {
    LAUNCHES.with(|c| {
        let n = c.get();
        c.set(ProductLaunches {
            launches: n.launches + 1,
            a_vec4: n.a_vec4 + a_vec4 as u64,
            b_vec4: n.b_vec4 + b_vec4 as u64,
        });
    });
}

/// The tiled kernel's launch, operands rounded to f16 as they are staged if `round_f16`.
fn launch(a: CubeTensor, b: CubeTensor, v: MatmulVariant, round_f16: bool) -> CubeTensor {
    launch_blocked(a, b, v.block(), 256, None, |l| {
        let (a_vec4, b_vec4) = (v.vec4 && l.a_vec4, v.vec4 && l.b_vec4);
        count_launch(a_vec4, b_vec4);
        MatmulShader {
            a_kfast: l.a_kfast,
            b_nfast: l.b_nfast,
            a_vec4,
            b_vec4,
            variant: v,
            round_f16,
        }
    })
}

/// The operands' layouts, as a product kernel is compiled for them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// A's k index is its contiguous one (A row-major).
    pub a_kfast: bool,
    /// B's n index is its contiguous one (B row-major).
    pub b_nfast: bool,
    /// A can be read as aligned vec4 along its contiguous index: that index's size and the
    /// other stride are multiples of 4, and the buffer starts 16-byte aligned.
    pub a_vec4: bool,
    /// The same for B.
    pub b_vec4: bool,
}

impl Layout {
    /// Both operands row-major, read as f32.
    pub fn plain() -> Self {
        Layout {
            a_kfast: true,
            b_nfast: true,
            a_vec4: false,
            b_vec4: false,
        }
    }

    /// The layout of `a [m, k] · b [k, n]` with strides `[sa_m, sa_k]`, `[sb_k, sb_n]`.
    fn of(a: &CubeTensor, b: &CubeTensor, [m, k, n]: [usize; 3]) -> Self {
        let ([sa_m, sa_k], [sb_k, sb_n]) = (strides(a), strides(b));
        let aligned = |t: &CubeTensor| t.handle.offset_start.unwrap_or(0).is_multiple_of(16);
        // Contiguous along one index, whose size and the other stride are multiples of 4.
        let vec4 = |fast: (usize, usize), other_stride: usize| {
            fast.0 == 1 && fast.1.is_multiple_of(4) && other_stride.is_multiple_of(4)
        };
        Layout {
            a_kfast: sa_k == 1,
            b_nfast: sb_n == 1,
            a_vec4: aligned(a)
                && if sa_k == 1 {
                    vec4((sa_k, k), sa_m)
                } else {
                    vec4((sa_m, m), sa_k)
                },
            b_vec4: aligned(b)
                && if sb_n == 1 {
                    vec4((sb_n, n), sb_k)
                } else {
                    vec4((sb_k, k), sb_n)
                },
        }
    }
}

/// One launch of a blocked product kernel over `a · b` — workgroup (x, y, z) computes the
/// `block` of C at column block x, row block y over the z-th range of K, reading the info
/// buffer of `shaders/tiled_matmul.wgsl` — and the split sum's when K is split. `shader`
/// builds the kernel for the operands' layouts (A's k index contiguous, B's n index
/// contiguous, and whether each can be read as vec4: [`Layout`]); `extra`, where given, is bound
/// after the info buffer. Shared by the tiled kernel and the tensor-core one.
pub(crate) fn launch_blocked<K: KernelSource + 'static>(
    a: CubeTensor,
    b: CubeTensor,
    [bm, bn]: [usize; 2],
    workgroup: u32,
    extra: Option<CubeTensor>,
    shader: impl FnOnce(Layout) -> K,
) -> CubeTensor {
    let (sa, sb) = (a.meta.shape().clone(), b.meta.shape().clone());
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    let b = unaliased(b, &[&a]);
    let [sa_m, sa_k] = strides(&a);
    let [sb_k, sb_n] = strides(&b);
    let (ranges, range) = split_k_blocks(m, n, k, bm, bn);
    assert!(
        m.div_ceil(bm) <= 65_535 && n.div_ceil(bn) <= 65_535,
        "tiled matmul: [{m}, {n}] has more blocks than one dispatch takes"
    );
    u32_of(ranges * m * n, "output size");
    let partial = empty_like(&a, Shape::new([ranges * m, n]));
    let info = [m, n, k, sa_m, sa_k, sb_k, sb_n, range].map(|v| u32_of(v, "size"));
    let info = info_buffer(&a, &info);
    let mut buffers = vec![
        a.handle.clone().binding(),
        b.handle.clone().binding(),
        partial.handle.clone().binding(),
        info.binding(),
    ];
    buffers.extend(extra.map(|t| t.handle.binding()));
    a.client.launch(
        Box::new(SourceKernel::new(
            shader(Layout::of(&a, &b, [m, k, n])),
            CubeDim::new_1d(workgroup),
        )),
        CubeCount::Static(n.div_ceil(bn) as u32, m.div_ceil(bm) as u32, ranges as u32),
        KernelArguments::new().with_buffers(buffers),
    );
    if ranges == 1 {
        return CubeTensor::new_contiguous(
            partial.client,
            partial.device,
            Shape::new([m, n]),
            partial.handle,
            DType::F32,
        );
    }
    split_sum(&a, partial, m, n, ranges)
}

/// `C [m, n]` = the sum of the `ranges` partial products stacked in `partial` (the second
/// launch of a split-K product).
fn split_sum(a: &CubeTensor, partial: CubeTensor, m: usize, n: usize, ranges: usize) -> CubeTensor {
    let out = empty_like(a, Shape::new([m, n]));
    let len = m * n;
    let info = info_buffer(a, &[len as u32, ranges as u32]);
    a.client.launch(
        Box::new(SourceKernel::new(
            SPLIT_SUM,
            CubeDim::new_1d(SPLIT_SUM.workgroup),
        )),
        cube_count((len as u32).div_ceil(SPLIT_SUM.workgroup)),
        KernelArguments::new().with_buffers(vec![
            partial.handle.clone().binding(),
            out.handle.clone().binding(),
            info.binding(),
        ]),
    );
    out
}

/// A rank-2 tensor's strides in elements.
pub(crate) fn strides(t: &CubeTensor) -> [usize; 2] {
    let s = t.meta.strides();
    [s[0], s[1]]
}

/// Backward of `C = A·B`.
#[derive(Debug)]
struct MatmulBackward;

impl<B: TiledMatmulOps> Backward<B, 2> for MatmulBackward {
    /// `A`, `B` and the tuning code, which the backward products take too.
    type State = (FloatTensor<B>, FloatTensor<B>, u32);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [a_node, b_node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (a, b, tuning) = ops.state;
        if let Some(node) = a_node {
            let bt = B::float_swap_dims(b, 0, 1);
            grads.register::<B>(node.id, B::tiled_matmul(g.clone(), bt, tuning));
        }
        if let Some(node) = b_node {
            let at = B::float_swap_dims(a, 0, 1);
            grads.register::<B>(node.id, B::tiled_matmul(at, g, tuning));
        }
    }
}

impl<B: TiledMatmulOps, C: CheckpointStrategy> TiledMatmulOps for Autodiff<B, C> {
    fn tiled_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>, tuning: u32) -> FloatTensor<Self> {
        let prep = MatmulBackward
            .prepare::<C>([a.node(), b.node()])
            .compute_bound()
            .stateful();
        let (a, b) = (a.into_primitive(), b.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::tiled_matmul(a.clone(), b.clone(), tuning);
                prep.finish((a, b, tuning), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tiled_matmul(a, b, tuning)),
        }
    }
}
