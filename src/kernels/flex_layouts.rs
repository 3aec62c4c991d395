//! The flex loops keep a channel-major activation channel-major (as the WGSL kernels do), so
//! that the next GEMM convolution's `[C, N·H·W]` operand is a view, not a copy: BatchNorm's
//! outputs and the activation's take their input's order of planes, and `col2im` writes
//! channel-major images. Each output here is also compared, value for value, with the same op
//! on row-major copies of its inputs: the order of the planes must not change the arithmetic.

use super::batch_norm_ops::{BatchNormOps, NO_ACTIVATION};
use super::leaky_scale_ops::LeakyScaleOps;
use super::patches_ops::PatchOps;
use crate::conv::patches::Patches;
use crate::rng::Rng;
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::TensorData;

const SHAPE: [usize; 4] = [4, 3, 5, 6];

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A `[N, C, H, W]` view of channel-major values.
fn channel_major(rng: &mut Rng) -> FlexTensor {
    let [n, c, h, w] = SHAPE;
    tensor(rng.normal_vec(n * c * h * w, 0.0, 1.0), [c, n, h, w]).transpose(0, 1)
}

fn row_major(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

fn is_channel_major(t: &FlexTensor) -> bool {
    let [n, _, h, w] = SHAPE;
    t.layout().strides() == [(h * w) as isize, (n * h * w) as isize, w as isize, 1]
}

fn values(t: FlexTensor) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 values")
}

fn channel_vector(c: usize, rng: &mut Rng) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(rng.normal_vec(c, 1.0, 0.2), [c]))
}

#[test]
fn batch_norm_on_flex_keeps_channel_major_order() {
    let mut rng = Rng::new(5);
    let c = SHAPE[1];
    let x = channel_major(&mut rng);
    let [gamma, beta, rm, rv] = [(); 4].map(|_| channel_vector(c, &mut rng));
    let scalars = [1e-5f32.to_bits(), 0.1f32.to_bits(), 2, NO_ACTIVATION];
    let forward = |x: FlexTensor| {
        let (g, b, m, v) = (gamma.clone(), beta.clone(), rm.clone(), rv.clone());
        Flex::batch_norm_forward(x, g, b, m, v, scalars).0
    };
    let y = forward(x.clone());
    assert!(is_channel_major(&y), "forward: {:?}", y.layout().strides());
    assert_eq!(values(y), values(forward(row_major(&x))), "forward");

    // An upstream gradient in the other order: the outputs follow x.
    let gy = tensor(rng.normal_vec(x.layout().num_elements(), 0.0, 1.0), SHAPE);
    let eps_groups = [1e-5f32.to_bits(), 2];
    let backward =
        |x: FlexTensor| Flex::batch_norm_backward(x, gy.clone(), gamma.clone(), eps_groups).0;
    let gx = backward(x.clone());
    assert!(
        is_channel_major(&gx),
        "backward: {:?}",
        gx.layout().strides()
    );
    assert_eq!(values(gx), values(backward(row_major(&x))), "backward");

    let u = channel_major(&mut rng);
    let vjp = |x: FlexTensor| {
        let (dx, dgy, _) =
            Flex::batch_norm_backward_vjp(x, gy.clone(), gamma.clone(), u.clone(), eps_groups);
        (dx, dgy)
    };
    let (dx, dgy) = vjp(x.clone());
    assert!(is_channel_major(&dx) && is_channel_major(&dgy), "VJP");
    let (dx_row, dgy_row) = vjp(row_major(&x));
    assert_eq!(values(dx), values(dx_row), "VJP ∂x");
    assert_eq!(values(dgy), values(dgy_row), "VJP ∂gy");
}

#[test]
fn leaky_scale_on_flex_keeps_channel_major_order() {
    let mut rng = Rng::new(6);
    let slope = 0.2f32.to_bits();
    // x: one group's rows of a wider channel-major activation (gaps between its channels), as
    // a critic pass over several batches hands out; t channel-major without gaps.
    let [n, c, h, w] = SHAPE;
    let wide = tensor(
        rng.normal_vec((n + 2) * c * h * w, 0.0, 1.0),
        [c, n + 2, h, w],
    );
    let x = wide.transpose(0, 1).narrow(0, 1, n);
    let t = channel_major(&mut rng);
    let out = Flex::leaky_scale(x.clone(), t.clone(), slope);
    assert!(is_channel_major(&out), "{:?}", out.layout().strides());
    let expected = Flex::leaky_scale(row_major(&x), row_major(&t), slope);
    assert_eq!(values(out), values(expected));
}

#[test]
fn col2im_on_flex_writes_channel_major_images() {
    let mut rng = Rng::new(7);
    let [n, c, h, w] = SHAPE;
    let g = Patches::conv([n, c, h, w], 3, 2, 1);
    let cols = FlexTensor::from_data(TensorData::new(
        rng.normal_vec(g.rows() * g.cols(), 0.0, 1.0),
        [g.rows(), g.cols()],
    ));
    let image = Flex::col2im(cols, g.info());
    assert!(is_channel_major(&image), "{:?}", image.layout().strides());
}
