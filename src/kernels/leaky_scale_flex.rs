//! The ReLU / LeakyReLU extension on the flex CPU backend: `t · (x > 0 ? 1 : slope)` in one loop,
//! where burn's ops take a mask, a conversion, two scalar ops and a product for the input
//! gradient, and a masked select for the activation's own backward. The arithmetic is the WGSL
//! kernel's (`shaders/leaky_scale.wgsl`): a product by 1 or by `slope`, so that NaN propagates
//! and the derivative at exactly 0 is `slope` (0 for ReLU), as in PyTorch.

use super::flex::{contiguous, f32_values, for_chunks, from_values, in_planes, PlaneOrder, Planes};
use super::leaky_scale_ops::LeakyScaleOps;
use burn::backend::flex::{Flex, FlexTensor, Layout};
use burn::backend::tensor::FloatTensor;
use burn::tensor::DType;

impl LeakyScaleOps for Flex {
    fn leaky_scale(x: FloatTensor<Self>, t: FloatTensor<Self>, slope: u32) -> FloatTensor<Self> {
        for v in [&x, &t] {
            assert_eq!(v.dtype(), DType::F32, "the leaky_scale op is f32 only");
        }
        assert_eq!(
            x.layout().shape(),
            t.layout().shape(),
            "leaky_scale: x and t have different shapes"
        );
        let slope = f32::from_bits(slope);
        // Images: plane by plane, each read in place where contiguous (a channel-major
        // activation, one group's rows of one, and the gradients autodiff hands out), written
        // in x's order of planes.
        if x.layout().num_dims() == 4 {
            let [x, t] = [x, t].map(in_planes);
            let order = PlaneOrder::of(&x);
            let (xp, tp) = (Planes::new(&x), Planes::new(&t));
            let mut out = vec![0f32; order.len()];
            for_chunks(&mut out, order.hw(), |plane, out| {
                let (b, ch) = order.plane_at(plane);
                scale_into(out, xp.get(b, ch), tp.get(b, ch), slope);
            });
            return order.tensor(out);
        }
        let scale = |x: &[f32], t: &[f32]| -> Vec<f32> {
            x.iter()
                .zip(t)
                .map(|(&x, &t)| t * if x > 0.0 { 1.0 } else { slope })
                .collect()
        };
        // Otherwise two views of the same dense order are read in memory order, and the result
        // keeps that order; others are copied to row-major first.
        if let (Some(xs), Some(ts)) = (dense(&x), dense(&t)) {
            if same_order(x.layout(), t.layout()) {
                let values = scale(xs, ts);
                let shape = x.layout().shape().clone();
                let layout = Layout::new(shape.clone(), x.layout().strides().to_vec(), 0);
                return from_values(values, shape).with_layout(layout);
            }
        }
        let [x, t] = [x, t].map(contiguous);
        let values = scale(f32_values(&x), f32_values(&t));
        from_values(values, x.layout().shape().clone())
    }
}

/// `out = t · (x > 0 ? 1 : slope)`; a function of its own, so that the compiler knows the
/// slices apart and vectorises the loop.
fn scale_into(out: &mut [f32], x: &[f32], t: &[f32], slope: f32) {
    for ((o, &x), &t) in out.iter_mut().zip(x).zip(t) {
        *o = t * if x > 0.0 { 1.0 } else { slope };
    }
}

/// The tensor's values in memory order, when its strides are a permutation of a dense layout's
/// (row-major, or a transposed or permuted view of it): every element once, no gaps.
fn dense(t: &FlexTensor) -> Option<&[f32]> {
    let layout = t.layout();
    let n = layout.num_elements();
    let mut dims: Vec<(isize, usize)> = layout
        .strides()
        .iter()
        .copied()
        .zip(layout.shape().iter().copied())
        .filter(|&(_, size)| size > 1)
        .collect();
    dims.sort_unstable();
    let mut expected = 1isize;
    for (stride, size) in dims {
        if stride != expected {
            return None;
        }
        expected *= size as isize;
    }
    let start = layout.start_offset();
    t.storage::<f32>().get(start..start + n)
}

/// Whether two layouts of one shape walk memory in the same order (their strides agree on every
/// dimension longer than 1).
fn same_order(a: &Layout, b: &Layout) -> bool {
    a.shape()
        .iter()
        .zip(a.strides().iter().zip(b.strides()))
        .all(|(&size, (sa, sb))| size <= 1 || sa == sb)
}
