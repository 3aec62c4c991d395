//! The patch (im2col / col2im) extension's WGSL launch on the CubeCL (wgpu) backend.

use super::launch::{cube_count, empty_like};
use super::patches_ops::PatchOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments};

/// Invocations per workgroup (one output element each).
const WORKGROUP: u32 = 256;

/// `shaders/im2col.wgsl` or `col2im.wgsl` for one convolution geometry, compiled in: the
/// index arithmetic then divides by constants (a multiply and a shift) rather than by values
/// read at run time (a long instruction sequence each, which made im2col the slowest kernel
/// of a GPU iteration after the matrix products). `image_strides` are the image's: the strided
/// input im2col reads, or the channel-major output col2im writes.
struct PatchShader {
    col2im: bool,
    info: [u32; 9],
    image_strides: [u32; 4],
}

impl KernelSource for PatchShader {
    fn source(&self) -> SourceTemplate {
        let source = if self.col2im {
            include_str!("../../shaders/col2im.wgsl")
        } else {
            include_str!("../../shaders/im2col.wgsl")
        };
        let names = ["n", "c", "h", "w", "k", "s", "p", "ho", "wo"];
        let strides = self.image_strides.map(|v| format!("{v}u")).join(", ");
        names.iter().zip(self.info).fold(
            SourceTemplate::new(source)
                .register("workgroup_size", WORKGROUP.to_string())
                .register("image_strides", strides),
            |t, (name, v)| t.register(*name, v.to_string()),
        )
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>((self.col2im, self.info, self.image_strides, WORKGROUP))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

fn launch(shader: PatchShader, input: &CubeTensor, out: &CubeTensor) {
    assert_eq!(input.dtype, DType::F32, "the patch kernels are f32 only");
    let elements = out.meta.shape().num_elements();
    assert!(
        elements < u32::MAX as usize,
        "patch kernel output of {elements} elements exceeds u32 indexing"
    );
    input.client.launch(
        Box::new(SourceKernel::new(shader, CubeDim::new_1d(WORKGROUP))),
        cube_count((elements as u32).div_ceil(WORKGROUP)),
        KernelArguments::new().with_buffers(vec![
            input.handle.clone().binding(),
            out.handle.clone().binding(),
        ]),
    );
}

fn dims(info: [u32; 9]) -> [usize; 9] {
    info.map(|v| v as usize)
}

fn u32_strides(t: &CubeTensor) -> [u32; 4] {
    let s = t.meta.strides();
    [0, 1, 2, 3].map(|d| u32::try_from(s[d]).expect("patch kernel: stride exceeds u32"))
}

impl PatchOps for CubeBackend {
    /// `x` is read through its strides (a channel-major activation is not copied first).
    fn im2col(x: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let [n, c, h, w, k, _, _, ho, wo] = dims(info);
        assert_eq!(
            x.meta.shape().dims::<4>(),
            [n, c, h, w],
            "im2col: input shape"
        );
        let out = empty_like(&x, Shape::new([c * k * k, n * ho * wo]));
        let shader = PatchShader {
            col2im: false,
            info,
            image_strides: u32_strides(&x),
        };
        launch(shader, &x, &out);
        out
    }

    /// The image comes out channel-major (`[N, C, h, w]` over a `[C, N, h, w]` buffer): the
    /// layout the next GEMM convolution's `[C, N·h·w]` operand needs, and each channel's
    /// values for the whole batch in one run, as the columns are.
    fn col2im(cols: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self> {
        let [n, c, h, w, k, _, _, ho, wo] = dims(info);
        assert_eq!(
            cols.meta.shape().dims::<2>(),
            [c * k * k, n * ho * wo],
            "col2im: columns shape"
        );
        let cols = into_contiguous(cols);
        let mut out = empty_like(&cols, Shape::new([n, c, h, w]));
        *out.meta.strides_mut() = [h * w, n * h * w, w, 1].into_iter().collect();
        let shader = PatchShader {
            col2im: true,
            info,
            image_strides: u32_strides(&out),
        };
        launch(shader, &cols, &out);
        out
    }
}
