//! The fused Adam step on the flex CPU backend: one loop over a parameter tensor, reading
//! `p, g, m, v` and writing `p', m', v'`, instead of burn's 13 elementwise operations (each a
//! pass over memory and an allocation; on strided gradients, strided ones). The arithmetic is
//! the reference's ([`super::adam::adam_step_reference`]), in f32, in the same order.

use super::adam::AdamScalars;
use super::adam_ops::AdamOps;
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, TensorData};

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
        let shape = p.layout().shape().clone();
        // A strided gradient (burn's matrix products return some weight gradients transposed)
        // is laid out in the parameter's order once, by flex's copy.
        let [p, g, m, v] = [p, g, m, v].map(contiguous);
        let [p, g, m, v] = [&p, &g, &m, &v].map(|t| t.as_slice::<f32>().expect("contiguous f32"));
        let n = p.len();
        assert!(
            [g.len(), m.len(), v.len()] == [n; 3],
            "fused Adam step: the gradient and moments must have the parameter's shape"
        );
        let s = AdamScalars::from_bits(scalars);
        let (mut p_out, mut m_out, mut v_out) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        // All of length n, so that the loop runs without bounds checks.
        let (g, m, v) = (&g[..n], &m[..n], &v[..n]);
        let (po, mo, vo) = (&mut p_out[..n], &mut m_out[..n], &mut v_out[..n]);
        for i in 0..n {
            let gi = g[i];
            let mi = m[i] * s.beta1 + gi * s.one_minus_beta1;
            let vi = v[i] * s.beta2 + (gi * gi) * s.one_minus_beta2;
            let update = (mi * s.combined) / (vi.sqrt() + s.epsilon);
            mo[i] = mi;
            vo[i] = vi;
            po[i] = p[i] - update * s.lr;
        }
        let tensor =
            |values: Vec<f32>| FlexTensor::from_data(TensorData::new(values, shape.clone()));
        (tensor(p_out), tensor(m_out), tensor(v_out))
    }
}

/// `t` itself when its values lie contiguously in memory, else a contiguous copy.
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}
