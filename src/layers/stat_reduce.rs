//! The normalisation statistics ([`StatAxes`]) as one autodiff operation with a cheap backward.
//!
//! burn's autodiff differentiates `sum_dim` by filling a tensor of ones, reducing the upstream
//! gradient over the (size-1) axis again and multiplying — three launches per reduced axis, four
//! for `mean_dim`. A statistic here reduces in two steps, so its backward took 6–8 launches.
//! The gradient of a sum over axes is the upstream gradient broadcast back, a stride-0 view
//! (no launch), and that of a mean the same scaled once on the small tensor (one launch): this
//! operation records exactly that. The forward is the two-reduction composition of
//! [`StatAxes::split`] on every backend (a default trait body).
// burn 0.22 deprecates its ndarray backend, which the `ndarray` feature keeps for comparison.
#![allow(deprecated)]

use super::StatAxes;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::{
    backend_extension, tensor::FloatTensor, Autodiff, Scalar, Shape, TensorMetadata,
};
use burn::tensor::Tensor;

/// Backend extension: the sum (or mean) of `x [N, C, H, W]` over [`StatAxes`], kept as
/// size-1 axes. `axes`: 0 per channel, 1 per sample.
#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex,
    NdArray: cfg(feature = "ndarray"),
    Fusion: cfg(feature = "fusion"),
    Autodiff
)]
pub trait StatOps: burn::backend::Backend {
    #[fusion(default)]
    fn stat_reduce(x: FloatTensor<Self>, axes: u32, mean: bool) -> FloatTensor<Self> {
        let dims: [usize; 4] = x.shape().dims();
        let (first, rows, out) = axes_of(axes).split(dims);
        let reduce = |t, dim| {
            if mean {
                Self::float_mean_dim(t, dim)
            } else {
                Self::float_sum_dim(t, dim)
            }
        };
        let r = Self::float_reshape(reduce(x, first), Shape::new(rows));
        Self::float_reshape(reduce(r, 1), Shape::new(out))
    }
}

fn axes_of(code: u32) -> StatAxes {
    match code {
        0 => StatAxes::Channel,
        _ => StatAxes::Sample,
    }
}

#[cfg(feature = "wgpu")]
impl StatOps for burn::backend::wgpu::CubeBackend {}
impl StatOps for burn::backend::Flex {}
#[cfg(feature = "ndarray")]
impl StatOps for burn::backend::NdArray {}

/// Backward of a statistic: the upstream gradient (`[1, C, 1, 1]` or `[N, 1, 1, 1]`), scaled
/// by `1/count` for a mean, broadcast back to the input's shape.
#[derive(Debug)]
struct StatBackward {
    shape: Shape,
    scale: Option<f64>,
}

impl<B: StatOps> Backward<B, 1> for StatBackward {
    type State = ();

    fn backward(self, ops: Ops<(), 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let up = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            let up = match self.scale {
                Some(s) => B::float_mul_scalar(up, Scalar::Float(s)),
                None => up,
            };
            grads.register::<B>(parent.id, B::float_expand(up, self.shape));
        }
    }
}

impl<B: StatOps, C: CheckpointStrategy> StatOps for Autodiff<B, C> {
    fn stat_reduce(x: FloatTensor<Self>, axes: u32, mean: bool) -> FloatTensor<Self> {
        let shape = x.shape();
        let (_, _, out) = axes_of(axes).split(shape.dims());
        let count = shape.num_elements() / out.iter().product::<usize>();
        StatBackward {
            shape,
            scale: mean.then(|| 1.0 / count as f64),
        }
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateless(B::stat_reduce(x.into_primitive(), axes, mean))
    }
}

/// The statistic through [`StatOps`], on every backend.
pub(crate) fn stat_reduce(x: Tensor<4>, axes: StatAxes, mean: bool) -> Tensor<4> {
    use burn::backend::Dispatch;
    let code = match axes {
        StatAxes::Channel => 0,
        StatAxes::Sample => 1,
    };
    Tensor::from_dispatch(<Dispatch as StatOps>::stat_reduce(
        x.into_dispatch(),
        code,
        mean,
    ))
}
