//! The tiled WGSL matrix product (`margan::kernels::matmul`, on wgpu: Mesa lavapipe in CI),
//! every variant, against the reference, burn's `matmul` on the CPU backend (on lavapipe burn's
//! own wgpu matmul would spend minutes autotuning every shape): odd sizes, one row or column,
//! operands as transposed views, K split over several workgroups and not; its autodiff against
//! burn's autodiff of the reference; the measuring tuner; and the `tiled` convolution path
//! against burn's convolutions. The f16 products are in `f16_matmul.rs`.
//!
//! `cargo test --release -p margan --features wgpu --test matmul_kernel`. Without an adapter the
//! tests print why and pass, except when `MARGAN_REQUIRE_GPU=1` (CI).
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, Tensor};
use common::matmul::{launches_counted, on, operand, CASES};
use common::{assert_close, gpu};
use margan::conv::{self, with_conv_path, ConvPath};
use margan::kernels::matmul::{
    clear_tuning, is_thin, matmul_kernel, matmul_reference, matmul_variant, product_launches,
    split_k, tune_records, with_matmul_tuning, MatmulChoice, MatmulTuning, MatmulVariant,
    TcVariant,
};
use margan::rng::Rng;

#[test]
fn tiled_matmul_matches_reference() {
    let Some(dev) = gpu() else { return };
    let counted = launches_counted("tiled_matmul_matches_reference");
    let mut rng = Rng::new(41);
    for (m, k, n) in CASES {
        for (a_view, b_view) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = operand(m, k, a_view, &mut rng);
            let b = operand(k, n, b_view, &mut rng);
            let want = matmul_reference(a.clone(), b.clone());
            // The vector variants read an operand as vec4 where its contiguous index (k for A,
            // n for B, or the other one for a transposed view) has a multiple of 4 values.
            let vec4 = [
                if a_view { m % 4 == 0 } else { k % 4 == 0 },
                if b_view { k % 4 == 0 } else { n % 4 == 0 },
            ];
            for v in MatmulVariant::ALL {
                let what = format!(
                    "{} [{m}, {k}]·[{k}, {n}], views {a_view}/{b_view}",
                    v.name()
                );
                let before = product_launches();
                let got = matmul_variant(on(&a, a_view, &dev), on(&b, b_view, &dev), v);
                // Read first: under burn's fusion the launch happens when the result is needed.
                let got = got.to_device(&margan::device::cpu());
                let n = product_launches().since(before);
                assert_close(got, want.clone(), 1e-5, &what);
                if !counted {
                    continue;
                }
                let expected = vec4.map(|x| (x && v.vec4) as u64);
                assert_eq!(n.launches, 1, "{what}: one launch of the kernel");
                assert_eq!(
                    [n.a_vec4, n.b_vec4],
                    expected,
                    "{what}: operands read as vec4"
                );
            }
        }
    }
}

/// Shapes seen again, interleaved with others and with new operands (the kernels keep each
/// launch's info buffer and reuse it when the same values come by): every product is the new
/// one's, through the kernel and through the split sum.
#[test]
fn repeated_shapes_take_their_new_operands() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(43);
    let shapes = [
        (65, 17, 63),
        (5, 5000, 3),
        (65, 17, 63),
        (130, 300, 70),
        (5, 5000, 3),
    ];
    for round in 0..2 {
        for (m, k, n) in shapes {
            let a = operand(m, k, false, &mut rng);
            let b = operand(k, n, true, &mut rng);
            let got = matmul_variant(
                on(&a, false, &dev),
                on(&b, true, &dev),
                MatmulVariant::DEFAULT,
            );
            assert_close(
                got.to_device(&margan::device::cpu()),
                matmul_reference(a, b),
                1e-5,
                &format!("round {round}, [{m}, {k}]·[{k}, {n}]"),
            );
        }
    }
}

#[test]
fn tuning_settings_parse_their_names_and_scope_to_a_thread() {
    let mut names = vec![
        "measure".to_string(),
        "heuristic".into(),
        "burn".into(),
        "measure-f16".into(),
        "measure-f16x3".into(),
        "f16-emulated".into(),
    ];
    names.extend(MatmulVariant::ALL.map(|v| v.name()));
    names.extend(TcVariant::every().map(|v| v.name()));
    for name in &names {
        let t = MatmulTuning::parse(name).unwrap_or_else(|| panic!("{name} parses"));
        assert_eq!(&t.name(), name);
    }
    // `f16` is the tensor-core kernel's default variant, `f16x3` its default f16×3 one.
    assert_eq!(
        MatmulTuning::parse("f16"),
        Some(MatmulTuning::Fixed(MatmulChoice::TensorCores(
            TcVariant::DEFAULT
        )))
    );
    assert_eq!(
        MatmulTuning::parse("f16x3"),
        Some(MatmulTuning::Fixed(MatmulChoice::TensorCores(
            TcVariant::SPLIT[0]
        )))
    );
    assert_eq!(TcVariant::SPLIT[0].name(), "f16x3-64x64");
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(
        distinct.len(),
        names.len(),
        "every variant has its own name"
    );
    assert_eq!(MatmulTuning::parse("fastest"), None);
    let fixed = MatmulTuning::Fixed(MatmulChoice::Kernel(MatmulVariant::new(8, 4, false)));
    let outside = margan::kernels::matmul::matmul_tuning();
    with_matmul_tuning(fixed, || {
        assert_eq!(margan::kernels::matmul::matmul_tuning(), fixed);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(margan::kernels::matmul::matmul_tuning(), outside));
        });
    });
    assert_eq!(margan::kernels::matmul::matmul_tuning(), outside);
}

/// Workgroup memory: the heuristic's 64×64 variant (what the browser runs) within WebGPU's
/// default 16 KB, every variant within 32 KB (lavapipe's and most GPUs' limit; NVIDIA's is 48).
#[test]
fn kernel_variants_fit_the_usual_workgroup_memory() {
    let bytes = |v: MatmulVariant| v.shared_bytes();
    assert!(bytes(MatmulVariant::DEFAULT) <= 16 * 1024);
    assert_eq!(bytes(MatmulVariant::vectorised(4, 4)), 16 * 1024);
    // Two buffers of 16 rows of 128 + 128 values, unpadded.
    assert_eq!(bytes(MatmulVariant::vectorised(8, 8)), 2 * 16 * 256 * 4);
    // One buffer of 16 rows of 128 + 128 values, padded by one vec4 each.
    assert_eq!(bytes(MatmulVariant::new(8, 8, true)), 16 * (33 + 33) * 16);
    for v in MatmulVariant::ALL {
        assert!(bytes(v) <= 32 * 1024, "{}: {} bytes", v.name(), bytes(v));
    }
}

#[test]
fn tiled_matmul_splits_long_thin_products() {
    for v in MatmulVariant::ALL {
        // One block over K = 5000: split into ranges of a multiple of 16, covering K.
        let (ranges, range) = split_k(5, 3, 5000, v);
        assert!(
            ranges > 1,
            "K = 5000 over one block is split ({ranges} ranges)"
        );
        assert_eq!(range % 16, 0);
        assert!(ranges * range >= 5000 && (ranges - 1) * range < 5000);
        // Enough blocks, or a short K: one range.
        assert_eq!(split_k(4096, 4096, 4096, v).0, 1);
        assert_eq!(split_k(5, 3, 200, v).0, 1);
    }
    // A DCGAN-32 weight gradient at batch 64 (256 × 2048 over 4096): the GPU filled, larger
    // blocks split more; the heuristic takes the kernel; not for its square input gradient,
    // nor a tiny product.
    let (ranges, _) = split_k(256, 2048, 4096, MatmulVariant::DEFAULT);
    assert!(ranges >= 4, "{ranges} ranges");
    let big = split_k(256, 2048, 4096, MatmulVariant::new(8, 8, true)).0;
    assert!(big > ranges, "128×128 blocks: {big} ranges");
    assert!(is_thin(256, 2048, 4096));
    assert!(!is_thin(4096, 1024, 512));
    assert!(!is_thin(1, 64, 8192));
}

#[test]
fn tiled_matmul_gradients_match_reference() {
    let Some(dev) = gpu() else { return };
    let (gpu_ad, cpu_ad) = (dev.autodiff(), margan::device::cpu().autodiff());
    let mut rng = Rng::new(43);
    // Every product, forward and backward, on one kernel variant (burn's wgpu matmul, whose
    // autotune on lavapipe costs ~40 s per new shape and layout, stays out). The last case's
    // ∂a = g [64, 16384] · bᵀ [16384, 64] is split over many ranges of K.
    let variants = [MatmulVariant::DEFAULT, MatmulVariant::new(8, 8, false)];
    for (m, k, n) in [(3, 5, 7), (65, 17, 63), (5, 5000, 3), (64, 64, 16384)] {
        for view in [false, true] {
            let a0 = operand(m, k, view, &mut rng);
            let b0 = operand(k, n, !view, &mut rng);
            let weight = operand(m, n, false, &mut rng);
            let grads = |f: &dyn Fn(Tensor<2>, Tensor<2>) -> Tensor<2>, dev: &Device| {
                let a = on(&a0, view, dev).require_grad();
                let b = on(&b0, !view, dev).require_grad();
                let loss = (f(a.clone(), b.clone()) * weight.clone().to_device(dev)).sum();
                let g = loss.backward();
                let cpu = margan::device::cpu();
                (
                    a.grad(&g).expect("a's gradient").to_device(&cpu),
                    b.grad(&g).expect("b's gradient").to_device(&cpu),
                )
            };
            let (ra, rb) = grads(&matmul_reference, &cpu_ad);
            for v in variants {
                let fixed = MatmulTuning::Fixed(MatmulChoice::Kernel(v));
                let (ga, gb) = with_matmul_tuning(fixed, || grads(&matmul_kernel, &gpu_ad));
                let what = format!("{} [{m}, {k}]·[{k}, {n}], view {view}", v.name());
                assert_close(ga, ra.clone(), 1e-5, &format!("∂a {what}"));
                assert_close(gb, rb.clone(), 1e-5, &format!("∂b {what}"));
            }
        }
    }
}

#[test]
fn measuring_tuner_times_every_candidate_once_per_shape() {
    let Some(dev) = gpu() else { return };
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(59);
    // 2²⁴ multiply-adds: the smallest product the tuner measures.
    let (m, k, n) = (256, 512, 128);
    let a = rng.normal_tensor([m, k], 0.0, 1.0, &cpu);
    let b = rng.normal_tensor([k, n], 0.0, 1.0, &cpu);
    let want = matmul_reference(a.clone(), b.clone());
    let of_shape = |m0, n0, k0| {
        tune_records()
            .into_iter()
            .filter(|r| (r.m, r.n, r.k, r.row_major) == (m0, n0, k0, [true, true]))
            .collect::<Vec<_>>()
    };
    with_matmul_tuning(MatmulTuning::Measure, || {
        for round in 0..2 {
            let got = matmul_kernel(a.clone().to_device(&dev), b.clone().to_device(&dev));
            assert_close(
                got.to_device(&cpu),
                want.clone(),
                1e-5,
                &format!("round {round}"),
            );
            let recs = of_shape(m, n, k);
            assert_eq!(recs.len(), 1, "round {round}: the shape is measured once");
            let r = &recs[0];
            if round == 0 {
                let times: Vec<_> = r
                    .times
                    .iter()
                    .map(|(c, t)| format!("{} {t:.2}", c.name()))
                    .collect();
                eprintln!(
                    "[{m}, {k}]·[{k}, {n}] ms: {}; kept {}",
                    times.join(", "),
                    r.chosen.name()
                );
            }
            assert_eq!(
                r.times.len(),
                1 + MatmulVariant::ALL.len(),
                "burn + every variant"
            );
            assert!(r.times.iter().all(|(_, t)| t.is_finite() && *t > 0.0));
            let fastest = r.times.iter().min_by(|x, y| x.1.total_cmp(&y.1)).unwrap();
            assert_eq!(r.chosen, fastest.0, "the fastest is kept");
        }
        // A product under 2²⁴ multiply-adds is not measured.
        let small = matmul_kernel(
            a.clone().slice([0..8, 0..k]).to_device(&dev),
            b.clone().to_device(&dev),
        );
        assert_eq!(small.dims(), [8, n]);
        assert!(of_shape(8, n, k).is_empty());
    });
    clear_tuning();
    assert!(of_shape(m, n, k).is_empty(), "cleared");
}

#[test]
fn tiled_conv_path_matches_burns_convolutions() {
    let Some(dev) = gpu() else { return };
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(47);
    // Batch 1 and odd sizes, stride 1 and 2, padding 0 and 1; burn's convolutions on the CPU.
    for (n, ci, co, h, k, s, p) in [
        (1, 3, 5, 7, 3, 1, 0),
        (2, 4, 3, 9, 4, 2, 1),
        (3, 16, 8, 8, 4, 2, 1),
    ] {
        let what = format!("n{n} {ci}->{co} {h}x{h} k{k} s{s} p{p}");
        let x = rng.normal_tensor([n, ci, h, h], 0.0, 1.0, &cpu);
        let wt = rng.normal_tensor([co, ci, k, k], 0.0, 0.5, &cpu);
        let both = |f: &dyn Fn(&Device) -> Tensor<4>| {
            (
                with_conv_path(ConvPath::Tiled, || f(&dev)).to_device(&cpu),
                with_conv_path(ConvPath::Burn, || f(&cpu)),
            )
        };
        let (a, r) =
            both(&|d| conv::conv2d(x.clone().to_device(d), wt.clone().to_device(d), None, s, p));
        assert_close(a, r.clone(), 1e-5, &format!("conv2d {what}"));
        let [_, _, ho, wo] = r.dims();
        let gy = rng.normal_tensor([n, co, ho, wo], 0.0, 1.0, &cpu);
        let (a, r) = both(&|d| {
            conv::conv2d_input_grad(
                gy.clone().to_device(d),
                wt.clone().to_device(d),
                [h, h],
                s,
                p,
            )
        });
        assert_close(a, r, 1e-5, &format!("input gradient {what}"));
        let (a, r) = both(&|d| {
            conv::conv2d_weight_grad(x.clone().to_device(d), gy.clone().to_device(d), k, s, p)
        });
        assert_close(a, r, 1e-5, &format!("weight gradient {what}"));
    }
}

#[test]
fn tiled_conv_path_weight_gradient_takes_the_kernel() {
    let Some(dev) = gpu() else { return };
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(53);
    // 128 × 512 over K = 64·8·8 = 4096: a thin product, so the kernel (split K) computes it.
    let (n, ci, co, h, k, s, p) = (64, 32, 128, 16, 4, 2, 1);
    assert!(is_thin(co, ci * k * k, n * 8 * 8));
    let x = rng.normal_tensor([n, ci, h, h], 0.0, 1.0, &cpu);
    let gy = rng.normal_tensor([n, co, 8, 8], 0.0, 1.0, &cpu);
    let tiled = |f: &dyn Fn() -> Tensor<4>| {
        with_conv_path(ConvPath::Tiled, || {
            with_matmul_tuning(MatmulTuning::Heuristic, f)
        })
    };
    let got = tiled(&|| {
        conv::conv2d_weight_grad(
            x.clone().to_device(&dev),
            gy.clone().to_device(&dev),
            k,
            s,
            p,
        )
    });
    let want = with_conv_path(ConvPath::Burn, || conv::conv2d_weight_grad(x, gy, k, s, p));
    assert_close(
        got.to_device(&cpu),
        want,
        1e-5,
        "weight gradient, thin product",
    );
}
