//! The fused Adam step's WGSL launch on the CubeCL (wgpu) backend (`shaders/adam_step.wgsl`).

use super::adam_ops::AdamOps;
use super::launch::{cube_count, empty_like, info_bytes, shape_strides4, unaliased, Shader};
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeDim, SourceKernel};
use burn::tensor::DType;
use burn_cubecl::cubecl::server::KernelArguments;

/// Invocations per workgroup (one element each).
const WORKGROUP: u32 = 256;

const ADAM: Shader = Shader {
    name: "adam_step",
    source: include_str!("../../shaders/adam_step.wgsl"),
    workgroup: WORKGROUP,
};

impl AdamOps for CubeBackend {
    fn adam_step(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        scalars: [u32; 7],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        for t in [&p, &g, &m, &v] {
            assert_eq!(t.dtype, DType::F32, "the Adam kernel is f32 only");
        }
        let [p, m, v] = [p, m, v].map(into_contiguous);
        // One buffer bound twice is refused by WebGPU (the moments of a first step are zeros).
        let m = unaliased(m, &[&p, &g]);
        let v = unaliased(v, &[&p, &g, &m]);
        // The gradient is read through its strides (up to rank 4): no copy of a strided view.
        let g = if g.meta.shape().num_dims() <= 4 {
            g
        } else {
            into_contiguous(g)
        };
        let shape = p.meta.shape().clone();
        let n = shape.num_elements();
        assert!(
            n < u32::MAX as usize,
            "Adam kernel: {n} elements exceed u32 indexing"
        );
        let n = n as u32;
        let (dims, strides) = shape_strides4(&g, "Adam kernel");
        let mut info = [0u32; 16];
        info[0] = n;
        info[1..8].copy_from_slice(&scalars);
        info[8..12].copy_from_slice(&dims);
        info[12..16].copy_from_slice(&strides);
        let outs = [(); 3].map(|_| empty_like(&p, shape.clone()));
        let info_buf = p.client.create_from_slice(&info_bytes(&info));
        let mut buffers = vec![
            p.handle.clone().binding(),
            g.handle.clone().binding(),
            m.handle.clone().binding(),
            v.handle.clone().binding(),
        ];
        buffers.extend(outs.iter().map(|o| o.handle.clone().binding()));
        buffers.push(info_buf.binding());
        p.client.launch(
            Box::new(SourceKernel::new(ADAM, CubeDim::new_1d(WORKGROUP))),
            cube_count(n.div_ceil(WORKGROUP)),
            KernelArguments::new().with_buffers(buffers),
        );
        let [p, m, v] = outs;
        (p, m, v)
    }
}
