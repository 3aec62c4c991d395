//! The fused Adam step on the flex CPU backend: one loop over a parameter tensor, reading
//! `p, g, m, v` and writing `p', m', v'` (the moments in place where it can), instead of burn's
//! 13 elementwise operations (each a pass over memory and an allocation; on strided gradients,
//! strided ones). The arithmetic is the reference's ([`super::adam::adam_step_reference`]), in
//! f32, in the same order.

use super::adam::AdamScalars;
use super::adam_ops::AdamOps;
use super::flex::{contiguous, f32_values, from_values};
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::FloatTensor;
use burn::tensor::DType;

impl AdamOps for Flex {
    fn adam_step(
        p: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        scalars: [u32; 7],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        for t in [&p, &g, &m, &v] {
            assert_eq!(t.dtype(), DType::F32, "the fused Adam step is f32 only");
        }
        let n = p.layout().num_elements();
        assert!(
            [&g, &m, &v].iter().all(|t| t.layout().num_elements() == n),
            "fused Adam step: the gradient and moments must have the parameter's shape"
        );
        // The gradient is read; a strided one (burn's matrix products return some weight
        // gradients transposed) is laid out in the parameter's order once, by flex's copy.
        let g = contiguous(g);
        let g = f32_values(&g);
        let p_in = contiguous(p);
        let p = f32_values(&p_in);
        // The moments are updated in place where this step holds their only reference (as it
        // does in training: no allocation, no fresh pages), else in a copy. The parameter is
        // also held by its module, so the new one is a new tensor.
        let [mut m, mut v] = [m, v].map(writable);
        let [ms, vs] = [&mut m, &mut v].map(|t| {
            t.try_storage_mut::<f32>()
                .expect("a tensor of its own")
                .get_mut(..n)
                .expect("the parameter's size")
        });
        let s = AdamScalars::from_bits(scalars);
        let mut p_out = vec![0f32; n];
        // All of length n, so that the loop runs without bounds checks.
        let (g, p, po) = (&g[..n], &p[..n], &mut p_out[..n]);
        for i in 0..n {
            let gi = g[i];
            let mi = ms[i] * s.beta1 + gi * s.one_minus_beta1;
            let vi = vs[i] * s.beta2 + (gi * gi) * s.one_minus_beta2;
            let update = (mi * s.combined) / (vi.sqrt() + s.epsilon);
            ms[i] = mi;
            vs[i] = vi;
            po[i] = p[i] - update * s.lr;
        }
        (from_values(p_out, p_in.layout().shape().clone()), m, v)
    }
}

/// `t` itself when it holds its values alone, contiguously from the start of its buffer (to be
/// written in place), else a contiguous copy of its values.
fn writable(t: FlexTensor) -> FlexTensor {
    FlexTensor::from_data(t.into_data())
}
