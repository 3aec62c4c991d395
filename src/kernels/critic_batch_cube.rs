//! The critic-batch backend extension and its WGSL launch on the CubeCL (wgpu) backend.

use super::launch::{cube_count, empty_like, info_buffer, shape_strides4, Shader};
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeDim, SourceKernel};
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff, AutodiffBackend};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::server::KernelArguments;

/// Backend extension: `[real; fake; real·u + fake·(1 − u)]`, `u` one value per sample.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait CriticBatchOps: burn::backend::Backend {
    #[fusion(dtype = real, shape = {
        let mut shape = real.clone();
        shape[0] *= 3;
        shape
    })]
    fn interpolated_batch(
        real: FloatTensor<Self>,
        fake: FloatTensor<Self>,
        u: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Invocations per workgroup (one value each).
const WORKGROUP: u32 = 256;

const BATCH: Shader = Shader {
    name: "critic_batch",
    source: include_str!("../../shaders/critic_batch.wgsl"),
    workgroup: WORKGROUP,
};

impl CriticBatchOps for CubeBackend {
    fn interpolated_batch(
        real: FloatTensor<Self>,
        fake: FloatTensor<Self>,
        u: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        for t in [&real, &fake, &u] {
            assert_eq!(t.dtype, DType::F32, "the critic-batch kernel is f32 only");
        }
        let shape = real.meta.shape().clone();
        assert_eq!(
            shape.num_dims(),
            4,
            "critic batch: real must be [N, C, H, W]"
        );
        assert_eq!(
            fake.meta.shape(),
            &shape,
            "critic batch: real and fake differ in shape"
        );
        assert_eq!(
            u.meta.shape().num_elements(),
            shape[0],
            "critic batch: u needs one value per sample"
        );
        let u = into_contiguous(u);
        let count = shape.num_elements();
        assert!(
            count < (u32::MAX / 3) as usize,
            "critic batch: {shape:?} exceeds u32 indexing"
        );
        let out = empty_like(
            &real,
            Shape::new([3 * shape[0], shape[1], shape[2], shape[3]]),
        );
        let (dims, real_strides) = shape_strides4(&real, "real");
        let (_, fake_strides) = shape_strides4(&fake, "fake");
        let mut values = vec![count as u32];
        values.extend(dims);
        values.extend(real_strides);
        values.extend(fake_strides);
        let info = info_buffer(&real, &values);
        real.client.launch(
            Box::new(SourceKernel::new(BATCH, CubeDim::new_1d(WORKGROUP))),
            cube_count((count as u32).div_ceil(WORKGROUP)),
            KernelArguments::new().with_buffers(vec![
                real.handle.clone().binding(),
                fake.handle.clone().binding(),
                u.handle.clone().binding(),
                out.handle.clone().binding(),
                info.binding(),
            ]),
        );
        out
    }
}

impl<B: CriticBatchOps, C: CheckpointStrategy> CriticBatchOps for Autodiff<B, C> {
    fn interpolated_batch(
        real: FloatTensor<Self>,
        fake: FloatTensor<Self>,
        u: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        // Not differentiated: a critic step's batches are constants.
        Self::from_inner(B::interpolated_batch(
            Self::inner(real),
            Self::inner(fake),
            Self::inner(u),
        ))
    }
}
