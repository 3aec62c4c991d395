//! The patch (im2col / col2im) backend extension and its WGSL launch on the CubeCL (wgpu)
//! backend.

use super::launch::{cube_count, empty_like};
use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments};

/// Backend extension: patch extraction and its adjoint. `info` is
/// [`crate::conv::patches::Patches::info`]: `[n, c, h, w, k, s, p, ho, wo]`.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait PatchOps: burn::backend::Backend {
    /// `x [n, c, h, w]` → `cols [c·k², n·ho·wo]`.
    #[fusion(dtype = x, shape = {
        let [n, c, _, _, k, _, _, ho, wo] = info.map(|v| v as usize);
        Shape::new([c * k * k, n * ho * wo])
    })]
    fn im2col(x: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self>;

    /// `cols [c·k², n·ho·wo]` → `x [n, c, h, w]` (sum over the taps that read each pixel).
    #[fusion(dtype = cols, shape = {
        let [n, c, h, w, ..] = info.map(|v| v as usize);
        Shape::new([n, c, h, w])
    })]
    fn col2im(cols: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self>;
}

/// Invocations per workgroup (one output element each).
const WORKGROUP: u32 = 256;

/// `shaders/im2col.wgsl` or `col2im.wgsl` for one convolution geometry, compiled in: the
/// index arithmetic then divides by constants (a multiply and a shift) rather than by values
/// read at run time (a long instruction sequence each, which made im2col the slowest kernel
/// of a GPU iteration after the matrix products).
struct PatchShader {
    col2im: bool,
    info: [u32; 9],
}

impl KernelSource for PatchShader {
    fn source(&self) -> SourceTemplate {
        let source = if self.col2im {
            include_str!("../../shaders/col2im.wgsl")
        } else {
            include_str!("../../shaders/im2col.wgsl")
        };
        let names = ["n", "c", "h", "w", "k", "s", "p", "ho", "wo"];
        names.iter().zip(self.info).fold(
            SourceTemplate::new(source).register("workgroup_size", WORKGROUP.to_string()),
            |t, (name, v)| t.register(*name, v.to_string()),
        )
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>((self.col2im, self.info, WORKGROUP))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

fn launch(col2im: bool, input: CubeTensor, out_shape: Shape, info: [u32; 9]) -> CubeTensor {
    assert_eq!(input.dtype, DType::F32, "the patch kernels are f32 only");
    let input = into_contiguous(input);
    let elements = out_shape.num_elements();
    assert!(
        elements < u32::MAX as usize,
        "patch kernel output of {elements} elements exceeds u32 indexing"
    );
    let out = empty_like(&input, out_shape);
    input.client.launch(
        Box::new(SourceKernel::new(
            PatchShader { col2im, info },
            CubeDim::new_1d(WORKGROUP),
        )),
        cube_count((elements as u32).div_ceil(WORKGROUP)),
        KernelArguments::new().with_buffers(vec![
            input.handle.clone().binding(),
            out.handle.clone().binding(),
        ]),
    );
    out
}

fn dims(info: [u32; 9]) -> [usize; 9] {
    info.map(|v| v as usize)
}

impl PatchOps for CubeBackend {
    fn im2col(x: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let [n, c, h, w, k, _, _, ho, wo] = dims(info);
        assert_eq!(
            x.meta.shape().dims::<4>(),
            [n, c, h, w],
            "im2col: input shape"
        );
        launch(false, x, Shape::new([c * k * k, n * ho * wo]), info)
    }

    fn col2im(cols: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let [n, c, h, w, k, _, _, ho, wo] = dims(info);
        assert_eq!(
            cols.meta.shape().dims::<2>(),
            [c * k * k, n * ho * wo],
            "col2im: columns shape"
        );
        launch(true, cols, Shape::new([n, c, h, w]), info)
    }
}
