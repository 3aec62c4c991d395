//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod layer_inputs;
pub mod matmul;
pub mod patches;
pub mod penalised_step;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Gradients, Tensor};

pub fn device() -> burn::tensor::Device {
    margan::device::cpu()
}

/// The CPU backend in double precision: comparisons of two exact gradient computations are then
/// free of f32 cancellation noise (e.g. the analytically zero gradient of a bias before
/// BatchNorm). The setting is process-wide: a test binary uses either this or [`device`].
pub fn device_f64() -> burn::tensor::Device {
    static CONFIGURED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CONFIGURED.get_or_init(|| {
        let mut d = burn::tensor::Device::flex();
        d.configure(
            burn::tensor::DeviceConfig::default().float_dtype(burn::tensor::FloatDType::F64),
        )
        .expect("the flex device takes f64 before its first use");
    });
    let d = burn::tensor::Device::flex().autodiff();
    let probe = margan::rng::Rng::new(0).normal_tensor([1], 0.0, 1.0, &d);
    assert_eq!(
        probe.dtype(),
        burn::tensor::DType::F64,
        "host f32 data lands as f64"
    );
    d
}

/// `max |a − b| / max |b|` (with a floor on the denominator).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let num = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let den = b.iter().map(|y| y.abs()).fold(0.0, f64::max).max(1e-6);
    num / den
}

pub fn to_vec64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

pub fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f64, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (a, b) = (to_vec64(a), to_vec64(b));
    let e = rel_err(&a, &b);
    let bmax = b.iter().map(|y| y.abs()).fold(0.0, f64::max);
    assert!(
        e <= tol,
        "{what}: relative error {e:.3e} > {tol:.0e} (max |expected| {bmax:.3e})"
    );
}

/// Compares, for every float parameter of a module, burn's autodiff gradient with ours.
pub struct CompareGrads<'a> {
    pub burn: &'a Gradients,
    pub ours: &'a GradientsParams,
    pub tol: f64,
    pub what: String,
    pub checked: usize,
}

impl ModuleVisitor for CompareGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.val().is_require_grad() {
            return; // running statistics, spectral-norm vectors
        }
        let expected = param
            .val()
            .grad(self.burn)
            .expect("burn has a gradient for every parameter");
        let ours = self.ours.get::<D>(param.id).unwrap_or_else(|| {
            panic!(
                "{}: our backward_params has no gradient for a parameter of shape {:?}",
                self.what,
                expected.dims()
            )
        });
        assert_close(
            ours.detach(),
            expected,
            self.tol,
            &format!("{} param {:?}", self.what, param.val().dims()),
        );
        self.checked += 1;
    }
}

pub fn compare_param_grads<M: Module>(
    module: &M,
    burn: &Gradients,
    ours: &GradientsParams,
    tol: f64,
    what: &str,
) -> usize {
    let mut v = CompareGrads {
        burn,
        ours,
        tol,
        what: what.to_string(),
        checked: 0,
    };
    module.visit(&mut v);
    v.checked
}

/// Convolution shapes for the GEMM / patch-kernel tests: odd sizes, stride 1 and 2, padding 0
/// and 1, batch 1–3, kernels 1–4. (n, c_in, c_out, h, w, k, stride, padding)
pub type ConvCase = (usize, usize, usize, usize, usize, usize, usize, usize);

pub const CONV_CASES: [ConvCase; 8] = [
    (2, 3, 4, 7, 5, 3, 1, 1),
    (1, 2, 3, 9, 8, 4, 2, 1),
    (3, 1, 2, 6, 6, 4, 2, 0),
    (2, 4, 2, 5, 7, 3, 2, 1),
    (1, 3, 5, 4, 4, 4, 1, 0),
    (2, 2, 2, 3, 5, 1, 1, 0),
    (1, 2, 2, 5, 5, 2, 2, 1),
    (2, 3, 2, 8, 8, 4, 2, 1),
];

/// The wgpu device (lavapipe without a GPU), or `None` after printing why the test is skipped;
/// with `MARGAN_REQUIRE_GPU=1` (CI) a missing adapter fails the test instead.
#[cfg(feature = "wgpu")]
pub fn gpu() -> Option<burn::tensor::Device> {
    match margan::device::wgpu() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("MARGAN_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("MARGAN_REQUIRE_GPU=1 but {e}; install Mesa's lavapipe: apt-get install mesa-vulkan-drivers")
        }
        Err(e) => {
            eprintln!("SKIPPED: {e} (install mesa-vulkan-drivers for lavapipe)");
            None
        }
    }
}
