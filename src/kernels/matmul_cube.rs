//! The tiled matrix product backend extension, its WGSL launch on the CubeCL (wgpu) backend
//! (`shaders/tiled_matmul.wgsl`, plus `shaders/split_sum.wgsl` when K is split) and its
//! autodiff: `C = A·B` has `dA = dC·Bᵀ` and `dB = Aᵀ·dC`, products on transposed views, each
//! taken by the kernel where it is thin ([`is_thin`]) and by burn's `matmul` elsewhere (the
//! backward of a thin weight-gradient product is a forward- and an input-gradient-shaped one,
//! where burn's autotuned kernels are faster).

use super::launch::{cube_count, empty_like, info_bytes, unaliased, Shader};
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::wgpu::{
    CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff, TensorMetadata};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments, CubeCount};

/// Backend extension: `a [M, K] · b [K, N]`, both rank 2, any strides.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait TiledMatmulOps: burn::backend::Backend {
    #[fusion(dtype = a, shape = Shape::new([a[0], b[1]]))]
    fn tiled_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The depth of one staged slice of K (the shader's `BK`).
const DEPTH: usize = 16;
/// Workgroups a product should spread over before K is split: about four per multiprocessor
/// of a large GPU (an H100/H200 has 132).
const TARGET_GROUPS: usize = 528;
/// Shortest range of K a workgroup takes when K is split.
const MIN_RANGE: usize = 256;

/// Values of C per invocation along each side (the shader's `TM` = `TN`): 4, so 64×64 blocks
/// of C per workgroup. 8 (128×128 blocks) was measured on an H200 and was no faster: DCGAN-32
/// with the L∞ penalty ran 45.3 against 45.6 it/s at batch 64, 14.7 against 15.1 at 256.
pub(crate) const PER_INVOCATION: usize = 4;

/// How K is split: `(ranges, values per range)`, the range a multiple of [`DEPTH`].
pub(crate) fn split_k(m: usize, n: usize, k: usize) -> (usize, usize) {
    let tile = 16 * PER_INVOCATION;
    let blocks = m.div_ceil(tile) * n.div_ceil(tile);
    let wanted = TARGET_GROUPS.div_ceil(blocks).min(k / MIN_RANGE).max(1);
    let range = k.div_ceil(wanted).div_ceil(DEPTH).max(1) * DEPTH;
    (k.div_ceil(range).max(1), range)
}

/// Whether an `[m, k] · [k, n]` product is thin enough for the kernel to beat burn's on a
/// large GPU: K split into at least 3 ranges, and at least 2²⁶ multiply-adds (below that the
/// launches cost more than the product, and the split's second launch more than it saves).
pub(crate) fn is_thin(m: usize, n: usize, k: usize) -> bool {
    split_k(m, n, k).0 >= 3 && m * n * k >= 1 << 26
}

/// `x · y` on the inner backend: the kernel for a thin product, burn's `matmul` otherwise.
fn product<B: TiledMatmulOps>(x: FloatTensor<B>, y: FloatTensor<B>) -> FloatTensor<B> {
    let (sx, sy) = (x.shape(), y.shape());
    if is_thin(sx[0], sy[1], sx[1]) {
        B::tiled_matmul(x, y)
    } else {
        B::float_matmul(x, y)
    }
}

/// `shaders/tiled_matmul.wgsl` for one pair of operand layouts and `t×t` values per
/// invocation.
struct MatmulShader {
    a_kfast: bool,
    b_nfast: bool,
    t: usize,
}

impl MatmulShader {
    /// The accumulators' declarations, one step's multiply-adds and the stores, unrolled.
    fn unrolled(&self) -> [String; 3] {
        let (t, v) = (self.t, self.t / 4);
        let (mut decl, mut step, mut store) = (String::new(), String::new(), String::new());
        for p in 0..v {
            let o = 16 * p;
            step += &format!("            let a{p} = a_tile[kk * ROW_A + ty + {o}u];\n");
            step += &format!("            let b{p} = b_tile[kk * ROW_B + tx + {o}u];\n");
        }
        for r in 0..t {
            let lane = ["x", "y", "z", "w"][r % 4];
            let row = format!("m0 + 4u * (ty + {}u) + {}u", 16 * (r / 4), r % 4);
            store += &format!("    let row{r} = {row};\n");
            for q in 0..v {
                decl += &format!("    var acc_{r}_{q} = vec4<f32>(0.0);\n");
                step += &format!("            acc_{r}_{q} += a{}.{lane} * b{q};\n", r / 4);
                store += &format!(
                    "    if (row{r} < m_size) {{ store4(base, row{r}, n0 + 4u * (tx + {}u), n_size, acc_{r}_{q}); }}\n",
                    16 * q
                );
            }
        }
        [decl, step, store]
    }
}

impl KernelSource for MatmulShader {
    fn source(&self) -> SourceTemplate {
        let [decl, step, store] = self.unrolled();
        let tile_len = 16 * (4 * self.t + 1);
        SourceTemplate::new(include_str!("../../shaders/tiled_matmul.wgsl"))
            .register("a_kfast", self.a_kfast.to_string())
            .register("b_nfast", self.b_nfast.to_string())
            .register("tm", self.t.to_string())
            .register("tn", self.t.to_string())
            .register("a_tile_len", tile_len.to_string())
            .register("b_tile_len", tile_len.to_string())
            .register("acc_decl", decl)
            .register("acc_step", step)
            .register("acc_store", store)
    }
    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info(("tiled_matmul", self.a_kfast, self.b_nfast, self.t))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
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
    fn tiled_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        for t in [&a, &b] {
            assert_eq!(t.dtype, DType::F32, "the tiled matmul kernel is f32 only");
            assert_eq!(
                t.meta.shape().num_dims(),
                2,
                "tiled matmul: rank-2 operands only"
            );
        }
        let (sa, sb) = (a.meta.shape().clone(), b.meta.shape().clone());
        let (m, k, n) = (sa[0], sa[1], sb[1]);
        assert_eq!(sb[0], k, "tiled matmul: [{m}, {k}] · [{}, {n}]", sb[0]);
        let b = unaliased(b, &[&a]);
        let [sa_m, sa_k] = strides(&a);
        let [sb_k, sb_n] = strides(&b);
        let (ranges, range) = split_k(m, n, k);
        let t = PER_INVOCATION;
        let tile = 16 * t;
        assert!(
            m.div_ceil(tile) <= 65_535 && n.div_ceil(tile) <= 65_535,
            "tiled matmul: [{m}, {n}] has more blocks than one dispatch takes"
        );
        u32_of(ranges * m * n, "output size");
        let shape = Shape::new([m, n]);
        let partial = empty_like(&a, Shape::new([ranges * m, n]));
        let info = [m, n, k, sa_m, sa_k, sb_k, sb_n, range].map(|v| u32_of(v, "size"));
        let info = a.client.create_from_slice(&info_bytes(&info));
        a.client.launch(
            Box::new(SourceKernel::new(
                MatmulShader {
                    a_kfast: sa_k == 1,
                    b_nfast: sb_n == 1,
                    t,
                },
                CubeDim::new_1d(256),
            )),
            CubeCount::Static(
                n.div_ceil(tile) as u32,
                m.div_ceil(tile) as u32,
                ranges as u32,
            ),
            KernelArguments::new().with_buffers(vec![
                a.handle.clone().binding(),
                b.handle.clone().binding(),
                partial.handle.clone().binding(),
                info.binding(),
            ]),
        );
        if ranges == 1 {
            return CubeTensor::new_contiguous(
                partial.client,
                partial.device,
                shape,
                partial.handle,
                DType::F32,
            );
        }
        let out = empty_like(&a, shape);
        let len = m * n;
        let info = a
            .client
            .create_from_slice(&info_bytes(&[len as u32, ranges as u32]));
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
}

/// A rank-2 tensor's strides in elements.
fn strides(t: &CubeTensor) -> [usize; 2] {
    let s = t.meta.strides();
    [s[0], s[1]]
}

/// Backward of `C = A·B`.
#[derive(Debug)]
struct MatmulBackward;

impl<B: TiledMatmulOps> Backward<B, 2> for MatmulBackward {
    /// `A` and `B`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [a_node, b_node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (a, b) = ops.state;
        if let Some(node) = a_node {
            let bt = B::float_swap_dims(b, 0, 1);
            grads.register::<B>(node.id, product::<B>(g.clone(), bt));
        }
        if let Some(node) = b_node {
            let at = B::float_swap_dims(a, 0, 1);
            grads.register::<B>(node.id, product::<B>(at, g));
        }
    }
}

impl<B: TiledMatmulOps, C: CheckpointStrategy> TiledMatmulOps for Autodiff<B, C> {
    fn tiled_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = MatmulBackward
            .prepare::<C>([a.node(), b.node()])
            .compute_bound()
            .stateful();
        let (a, b) = (a.into_primitive(), b.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::tiled_matmul(a.clone(), b.clone());
                prep.finish((a, b), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tiled_matmul(a, b)),
        }
    }
}
