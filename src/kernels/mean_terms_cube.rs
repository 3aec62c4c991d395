//! The mean-terms backend extension and its WGSL launches on the CubeCL (wgpu) backend: the
//! terms are written into the shaders as code, one compiled shader per loss (and group size).

use super::launch::{cube_count, empty_like, kernel_id};
use super::mean_terms::{MeanTerms, Phi};
use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments, CubeCount};

/// Backend extension: a sum of means of pointwise functions over groups of `x`, and its
/// vector-Jacobian product.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait MeanTermsOps: burn::backend::Backend {
    /// `x [G·n]` → `[1]`.
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec, _spec: &MeanTerms| {
        burn::backend::fusion::custom::TensorSpec::new(Shape::new([1]), x.dtype)
    })]
    fn mean_terms_forward(x: FloatTensor<Self>, spec: MeanTerms) -> FloatTensor<Self>;

    /// `(x, up [1])` → `dx [G·n]`.
    #[fusion(dtype = x, shape = x)]
    fn mean_terms_backward(
        x: FloatTensor<Self>,
        up: FloatTensor<Self>,
        spec: MeanTerms,
    ) -> FloatTensor<Self>;
}

/// Invocations per workgroup of both shaders.
const WORKGROUP: u32 = 256;

/// `v` as an exact WGSL f32.
fn lit(v: f32) -> String {
    format!("bitcast<f32>({}u)", v.to_bits())
}

fn phi_code(phi: Phi) -> (&'static str, &'static str) {
    // (φ(z), φ'(z)) as WGSL expressions in z.
    match phi {
        Phi::Identity => ("z", "1.0"),
        Phi::Relu => ("max(z, 0.0)", "positive(z)"),
        Phi::Square => ("z * z", "2.0 * z"),
        Phi::ReluSquare => ("max(z, 0.0) * max(z, 0.0)", "2.0 * max(z, 0.0)"),
        Phi::Softplus => ("softplus(z)", "sigmoid(z)"),
    }
}

/// `z` of a term at sample `i`, as a WGSL expression.
fn z_code(inputs: &[(usize, f32)], bias: f32) -> String {
    let sum: Vec<String> = inputs
        .iter()
        .map(|&(g, a)| format!("{} * x[{g}u * N + i]", lit(a)))
        .collect();
    format!("{} + {}", sum.join(" + "), lit(bias))
}

/// The body of `value(i)`.
fn value_body(spec: &MeanTerms) -> String {
    let mut value = String::new();
    for t in &spec.terms {
        let (f, _) = phi_code(t.phi);
        value.push_str(&format!(
            "    {{\n        let z = {};\n        v = v + {} * ({f});\n    }}\n",
            z_code(&t.inputs, t.bias),
            lit(t.scale)
        ));
    }
    value
}

/// The body of `grad(g, i)`.
fn grad_body(spec: &MeanTerms) -> String {
    let mut grad = String::new();
    for t in &spec.terms {
        let (_, df) = phi_code(t.phi);
        let mut adds = String::new();
        for &(g, a) in &t.inputs {
            adds.push_str(&format!(
                "        if (g == {g}u) {{\n            d = d + {} * dphi;\n        }}\n",
                lit(t.scale * a)
            ));
        }
        grad.push_str(&format!(
            "    {{\n        let z = {};\n        let dphi = {df};\n{adds}    }}\n",
            z_code(&t.inputs, t.bias)
        ));
    }
    grad
}

struct TermsShader {
    name: &'static str,
    body: &'static str,
    n: usize,
    groups: usize,
    code: String,
}

impl TermsShader {
    fn forward(spec: &MeanTerms, n: usize) -> Self {
        let body = include_str!("../../shaders/mean_terms_forward.wgsl");
        Self::new("mean_terms_forward", body, spec, n, value_body(spec))
    }

    fn backward(spec: &MeanTerms, n: usize) -> Self {
        let body = include_str!("../../shaders/mean_terms_backward.wgsl");
        Self::new("mean_terms_backward", body, spec, n, grad_body(spec))
    }

    fn new(
        name: &'static str,
        body: &'static str,
        spec: &MeanTerms,
        n: usize,
        code: String,
    ) -> Self {
        let groups = spec.groups;
        TermsShader {
            name,
            body,
            n,
            groups,
            code,
        }
    }
}

impl KernelSource for TermsShader {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("../../shaders/mean_terms_common.wgsl"))
            .add_template(self.body)
            .register("workgroup_size", WORKGROUP.to_string())
            .register("n", self.n.to_string())
            .register("groups", self.groups.to_string())
            .register("value", self.code.clone())
            .register("grad", self.code.clone())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self, _>((self.name, self.n, self.groups, self.code.clone()))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `x` contiguous, f32, `[G·n]`, with n.
fn checked(x: CubeTensor, spec: &MeanTerms) -> (CubeTensor, usize) {
    let x = into_contiguous(x);
    assert_eq!(x.dtype, DType::F32, "the mean-terms kernel is f32 only");
    let shape = x.meta.shape();
    assert_eq!(shape.num_dims(), 1, "mean terms expect a [G·n] tensor");
    let n = spec.group_len(shape[0]);
    (x, n)
}

impl MeanTermsOps for CubeBackend {
    fn mean_terms_forward(x: FloatTensor<Self>, spec: MeanTerms) -> FloatTensor<Self> {
        let (x, n) = checked(x, &spec);
        let out = empty_like(&x, Shape::new([1]));
        x.client.launch(
            Box::new(SourceKernel::new(
                TermsShader::forward(&spec, n),
                CubeDim::new_1d(WORKGROUP),
            )),
            CubeCount::Static(1, 1, 1),
            KernelArguments::new().with_buffers(vec![
                x.handle.clone().binding(),
                out.handle.clone().binding(),
            ]),
        );
        out
    }

    fn mean_terms_backward(
        x: FloatTensor<Self>,
        up: FloatTensor<Self>,
        spec: MeanTerms,
    ) -> FloatTensor<Self> {
        let (x, n) = checked(x, &spec);
        let up = into_contiguous(up);
        let len = x.meta.shape()[0];
        let dx = empty_like(&x, Shape::new([len]));
        x.client.launch(
            Box::new(SourceKernel::new(
                TermsShader::backward(&spec, n),
                CubeDim::new_1d(WORKGROUP),
            )),
            cube_count((len as u32).div_ceil(WORKGROUP)),
            KernelArguments::new().with_buffers(vec![
                x.handle.clone().binding(),
                up.handle.clone().binding(),
                dx.handle.clone().binding(),
            ]),
        );
        dx
    }
}
