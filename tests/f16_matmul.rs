//! The f16 matrix products of `margan::kernels::matmul`: the tensor-core kernel's WGSL through
//! naga (everywhere), the f16-emulating kernel against burn's product of f16-rounded operands
//! (on lavapipe in CI), and the tensor-core kernel itself where the adapter has cooperative
//! matrices (a GPU, or Mesa 26's lavapipe; on Debian 12's it prints why it skips); and what
//! each does to a penalised GAN step against the CPU in f32.
//!
//! `cargo test --release -p margan --features wgpu --test f16_matmul`; `./test.sh` runs the
//! same binary again on Mesa 26's lavapipe (`.ci/coop-lavapipe BINARY`), where nothing skips.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::Tensor;
use common::matmul::{on, operand, product64, product_error, round_f16, CASES};
use common::penalised_step::{compare_within, step};
use common::{assert_close, gpu};
use margan::conv::{with_conv_path, ConvPath};
use margan::kernels::matmul::{
    kernel_variant_fits, matmul_kernel, matmul_reference, product_launches, tensor_core_report,
    tensor_core_variant_fits, tensor_core_wgsl, tensor_cores, tune_records, with_matmul_tuning,
    MatmulChoice, MatmulTuning, MatmulVariant, TcVariant, TENSOR_CORE_WIDTHS,
};
use margan::rng::Rng;

/// The tensor-core kernel's WGSL, every variant, operand layout, subgroup width and tile,
/// through naga (the front and back end wgpu compiles it with): parsed, validated with
/// cooperative matrices and f16 allowed, and written as SPIR-V. Runs everywhere; running the
/// kernel needs an adapter that has them (below).
#[test]
fn tensor_core_shader_is_valid_wgsl_and_spirv() {
    let layouts = [(true, true), (false, true), (true, false), (false, false)];
    let cases = TcVariant::every().flat_map(|v| {
        [16, 8].into_iter().flat_map(move |t| {
            TENSOR_CORE_WIDTHS.into_iter().flat_map(move |w| {
                [false, true]
                    .into_iter()
                    .flat_map(move |vec4| layouts.map(|(a, b)| (v, a, b, vec4, w, t)))
            })
        })
    });
    for (v, a_rm, b_rm, vec4, width, tile) in cases {
        let src = tensor_core_wgsl(v, [a_rm, b_rm], vec4, width, tile);
        let what = format!(
            "{}, layout {a_rm}/{b_rm}, vec4 {vec4}, width {width}, tile {tile}",
            v.name()
        );
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(&src)));
        let caps = naga::valid::Capabilities::COOPERATIVE_MATRIX
            | naga::valid::Capabilities::SHADER_FLOAT16
            | naga::valid::Capabilities::SUBGROUP;
        let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(&src)));
        let options = naga::back::spv::Options {
            lang_version: (1, 3),
            ..Default::default()
        };
        let words = naga::back::spv::write_vec(&module, &info, &options, None)
            .unwrap_or_else(|e| panic!("{what}: SPIR-V: {e}"));
        assert!(words.len() > 500, "{} SPIR-V words", words.len());
        // Without the capabilities the same module is refused: the check above means something.
        let plain = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module);
        assert!(plain.is_err(), "cooperative matrices need their capability");
    }
}

/// The tensor cores' arithmetic emulated (operands rounded to f16 as they are staged, f32
/// multiply-adds), on any adapter, forward and backward: exactly the f32 product of the
/// f16-rounded operands.
#[test]
fn f16_emulated_matmul_matches_rounded_reference() {
    let Some(dev) = gpu() else { return };
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(67);
    let emulated = MatmulTuning::Fixed(MatmulChoice::F16Emulated);
    for (m, k, n) in CASES {
        for (a_view, b_view) in [(false, false), (true, true)] {
            let a = operand(m, k, a_view, &mut rng).mul_scalar(3.0);
            let b = operand(k, n, b_view, &mut rng);
            let what = format!("f16-emulated [{m}, {k}]·[{k}, {n}], views {a_view}/{b_view}");
            let got = with_matmul_tuning(emulated, || {
                matmul_kernel(on(&a, a_view, &dev), on(&b, b_view, &dev))
            })
            .to_device(&cpu);
            let rounded = matmul_reference(round_f16(&a), round_f16(&b));
            assert_close(got.clone(), rounded, 1e-5, &what);
            // Not the f32 product: the rounding is there.
            let exact = common::to_vec64(matmul_reference(a, b));
            let e = common::rel_err(&common::to_vec64(got), &exact);
            assert!(e > 1e-6 && e < 1e-2, "{what}: {e:.2e} from the f32 product");
        }
    }
    // Its backward products round their operands too (the gradient of the output included).
    let (m, k, n) = (65, 70, 33);
    let a0 = operand(m, k, false, &mut rng);
    let b0 = operand(k, n, false, &mut rng);
    let w = operand(m, n, false, &mut rng);
    let ad = dev.clone().autodiff();
    let a = on(&a0, false, &ad).require_grad();
    let b = on(&b0, false, &ad).require_grad();
    let g = with_matmul_tuning(emulated, || {
        (matmul_kernel(a.clone(), b.clone()) * w.clone().to_device(&ad))
            .sum()
            .backward()
    });
    let ga = a.grad(&g).expect("∂a").to_device(&cpu);
    let want = matmul_reference(round_f16(&w), round_f16(&b0.clone().transpose()));
    assert_close(ga, want, 1e-5, "∂a = round(∂c) · round(b)ᵀ");
}

/// The emulation's rounding, value by value, against the `half` crate's f32 → f16 conversion
/// (to nearest, ties to even): `[m, 1]·[1, 1]` with B = 1 is A rounded. The values include
/// ties, f16's subnormals and the edge of its range (65504 the largest, 65520 the first to
/// round to infinity); the comparison is exact, bit for bit.
#[test]
fn f16_emulated_rounding_matches_half() {
    let Some(dev) = gpu() else { return };
    let cpu = margan::device::cpu();
    let ulp = |e: i32| 2f32.powi(e);
    let mut values = vec![
        0.0,
        1.0,
        1.0 + ulp(-11),            // a tie: down to 1 (even)
        1.0 + 3.0 * ulp(-11),      // a tie: up to 1 + 2^-9 (even)
        1.0 + ulp(-11) + ulp(-20), // just over a tie: up
        1.0 / 3.0,
        std::f32::consts::PI,
        65504.0,
        65519.0,
        65520.0,
        1.0e6,
        ulp(-14),                  // the smallest normal
        ulp(-14) - ulp(-26),       // rounds up to it
        ulp(-24),                  // the smallest subnormal
        ulp(-25),                  // a tie: down to 0
        3.0 * ulp(-25),            // a tie: up to 2^-23
        1.5 * ulp(-24) + ulp(-30), // over a tie: 2^-23
        1.0e-30,
    ];
    let mut rng = Rng::new(71);
    values.extend((0..46).map(|i| rng.normal() as f32 * 10f32.powi(i % 9 - 4)));
    let signed: Vec<f32> = values.iter().flat_map(|&v| [v, -v]).collect();
    let m = signed.len();
    let a = Tensor::<2>::from_data(burn::tensor::TensorData::new(signed.clone(), [m, 1]), &dev);
    let one = Tensor::<2>::ones([1, 1], &dev);
    let emulated = MatmulTuning::Fixed(MatmulChoice::F16Emulated);
    let got: Vec<f32> = with_matmul_tuning(emulated, || matmul_kernel(a, one))
        .to_device(&cpu)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (&v, &g) in signed.iter().zip(&got) {
        let want = burn::tensor::f16::from_f32(v).to_f32();
        assert!(
            g.to_bits() == want.to_bits() || (g == 0.0 && want == 0.0),
            "{v:e} (bits {:#010x}) rounded to {g:e}, the f16 nearest is {want:e}",
            v.to_bits()
        );
    }
}

#[test]
fn tensor_core_matmul_matches_reference() {
    let Some(dev) = gpu() else { return };
    if !tensor_cores() {
        eprintln!(
            "SKIPPED the tensor-core product: this adapter has {} (an NVIDIA GPU through Vulkan \
             has them; so does Mesa's lavapipe from 26.x, not older ones)",
            tensor_core_report()
        );
        return;
    }
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(61);
    let variants = TcVariant::ALL.into_iter().filter(|&v| {
        let fits = tensor_core_variant_fits(v);
        if !fits {
            eprintln!(
                "SKIPPED the tensor-core variant {}: the device's workgroup memory cannot hold it",
                v.name()
            );
        }
        fits
    });
    for (v, (m, k, n)) in variants.flat_map(|v| CASES.map(|c| (v, c))) {
        for (a_view, b_view) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = operand(m, k, a_view, &mut rng);
            let b = operand(k, n, b_view, &mut rng);
            let what = format!(
                "{} [{m}, {k}]·[{k}, {n}], views {a_view}/{b_view}",
                v.name()
            );
            let fixed = MatmulTuning::Fixed(MatmulChoice::TensorCores(v));
            let before = product_launches();
            let got = with_matmul_tuning(fixed, || {
                matmul_kernel(on(&a, a_view, &dev), on(&b, b_view, &dev))
            })
            .to_device(&cpu);
            // Operands whose contiguous index has a multiple of 4 values are read as vec4.
            let vec4 = [
                if a_view { m % 4 == 0 } else { k % 4 == 0 },
                if b_view { k % 4 == 0 } else { n % 4 == 0 },
            ];
            let n = product_launches().since(before);
            assert_eq!(n.launches, 1, "{what}: one launch of the kernel");
            assert_eq!(
                [n.a_vec4, n.b_vec4],
                vec4.map(u64::from),
                "{what}: operands read as vec4"
            );
            // Exactly the f16-rounded operands' product, up to f32 summation order; and within
            // f16's rounding of the exact one.
            let rounded = matmul_reference(round_f16(&a), round_f16(&b));
            assert_close(got.clone(), rounded, 1e-5, &what);
            assert_close(
                got,
                matmul_reference(a, b),
                1e-2,
                &format!("{what}, vs f32"),
            );
        }
    }
}

/// The f16×3 variants keep f32's precision: against the f64 product, each value's error
/// (relative to `|a|·|b|`) is within a few times that of burn's f32 product (on the CPU),
/// for operands of ordinary size, of a gradient's (10⁻⁷), beyond f16's range (10⁵) and far apart
/// (10⁻²⁵ · 10²⁵), where the plain f16 kernel loses them (checked on the first two).
#[test]
fn f16x3_matmul_matches_reference() {
    let Some(dev) = gpu() else { return };
    if !tensor_cores() {
        eprintln!(
            "SKIPPED the f16x3 tensor-core product: this adapter has {} (an NVIDIA GPU through \
             Vulkan has them; so does Mesa's lavapipe from 26.x, not older ones)",
            tensor_core_report()
        );
        return;
    }
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(71);
    let scales = [(1.0, 1.0), (1e-7, 3e-3), (3e5, 2.0), (1e-25, 1e25)];
    let mut worst = 0.0f64;
    for (c, (m, k, n)) in CASES.into_iter().enumerate() {
        let (sa, sb) = scales[c % scales.len()];
        for (a_view, b_view) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = operand(m, k, a_view, &mut rng).mul_scalar(sa);
            let b = operand(k, n, b_view, &mut rng).mul_scalar(sb);
            let exact = product64(&a, &b);
            let (da, db) = (on(&a, a_view, &dev), on(&b, b_view, &dev));
            // burn's f32 product on the CPU (on lavapipe, burn's autotune would time its
            // candidates for every new shape: minutes).
            let f32_err = product_error(matmul_reference(a.clone(), b.clone()), &exact);
            let fixed = |v| MatmulTuning::Fixed(MatmulChoice::TensorCores(v));
            for v in TcVariant::SPLIT
                .into_iter()
                .filter(|&v| tensor_core_variant_fits(v))
            {
                let what = format!(
                    "{} [{m}, {k}]·[{k}, {n}] (×{sa:e}, ×{sb:e}), views {a_view}/{b_view}",
                    v.name()
                );
                let before = product_launches();
                let got = with_matmul_tuning(fixed(v), || matmul_kernel(da.clone(), db.clone()));
                assert_eq!(product_launches().since(before).launches, 1, "{what}");
                let e = product_error(got.to_device(&cpu), &exact);
                worst = worst.max(e / f32_err.max(1e-9));
                // f16×3 keeps 22 bits per operand (f32 24), and drops the low parts' product:
                // about 2⁻²¹ per term at most.
                assert!(
                    e <= (4.0 * f32_err).max(1e-6),
                    "{what}: error {e:.2e} against f32's {f32_err:.2e}"
                );
            }
            // The plain f16 kernel is 10⁻⁴ off (ordinary operands) or loses the small ones.
            if sa <= 1.0 && sb <= 1.0 && k > 1 {
                let f16 = with_matmul_tuning(fixed(TcVariant::DEFAULT), || {
                    matmul_kernel(da.clone(), db.clone())
                });
                let e = product_error(f16.to_device(&cpu), &exact);
                assert!(
                    e > 3e-5,
                    "f16 [{m}, {k}]·[{k}, {n}] ×{sa:e}: only {e:.2e} off"
                );
            }
        }
    }
    eprintln!("f16x3 products: at most {worst:.2} times the f32 product's error");
    // Rows of A from 1 down to 10⁻⁸ of the largest (as a gradient's can be): each value keeps
    // its precision relative to its own size, not just to the operand's largest.
    let (m, k, n) = (9, 700, 40);
    let decades: Vec<f32> = (0..m).map(|r| 10f32.powi(-(r as i32))).collect();
    let rows = Tensor::<1>::from_floats(decades.as_slice(), &cpu).reshape([m, 1]);
    let a = operand(m, k, false, &mut rng) * rows;
    let b = operand(k, n, false, &mut rng);
    let exact = product64(&a, &b);
    let f32_err = product_error(matmul_reference(a.clone(), b.clone()), &exact);
    for v in TcVariant::SPLIT
        .into_iter()
        .filter(|&v| tensor_core_variant_fits(v))
    {
        let fixed = MatmulTuning::Fixed(MatmulChoice::TensorCores(v));
        let got = with_matmul_tuning(fixed, || {
            matmul_kernel(on(&a, false, &dev), on(&b, false, &dev))
        });
        let e = product_error(got.to_device(&cpu), &exact);
        eprintln!(
            "{}: rows 1 to 1e-8: error {e:.2e} against f32's {f32_err:.2e}",
            v.name()
        );
        assert!(
            e <= (4.0 * f32_err).max(1e-6),
            "{}: rows 1 to 1e-8: error {e:.2e} against f32's {f32_err:.2e}",
            v.name()
        );
    }
    // An operand that does not fill its memory (a block of columns of a wider tensor, whose
    // other columns hold 10³⁰): its scale comes from its own values, read through its strides.
    // (64 more columns: a slice whose end lies 256 bytes before the buffer's is a view in burn;
    // an unaligned one is copied.)
    let (m, k, n) = (70, 300, 33);
    let wide = operand(m, k, false, &mut rng);
    let outside = Tensor::<2>::ones([m, 64], &cpu).mul_scalar(1e30);
    let wide = wide.mul_scalar(1e-6);
    let a = wide.clone();
    let full = Tensor::cat(vec![wide, outside], 1).to_device(&dev);
    let view = full.slice([0..m, 0..k]);
    let b = operand(k, n, false, &mut rng);
    let exact = product64(&a, &b);
    let f32_err = product_error(matmul_reference(a, b.clone()), &exact);
    for v in TcVariant::SPLIT
        .into_iter()
        .filter(|&v| tensor_core_variant_fits(v))
    {
        let fixed = MatmulTuning::Fixed(MatmulChoice::TensorCores(v));
        let got = with_matmul_tuning(fixed, || matmul_kernel(view.clone(), on(&b, false, &dev)));
        let e = product_error(got.to_device(&cpu), &exact);
        assert!(
            e <= (4.0 * f32_err).max(1e-6),
            "{}: a column block of a wider operand: error {e:.2e} against f32's {f32_err:.2e}",
            v.name()
        );
    }
}

/// `measure-f16x3` times the f16×3 variants among burn's and the f32 kernel's, never the plain
/// f16 ones: whichever it keeps, the product keeps f32's precision.
#[test]
fn measure_f16x3_takes_only_f32_accurate_candidates() {
    let Some(dev) = gpu() else { return };
    if !tensor_cores() {
        eprintln!(
            "SKIPPED measure-f16x3's candidates: this adapter has {} (no tensor cores, so the \
             setting measures what `measure` does)",
            tensor_core_report()
        );
        return;
    }
    let cpu = margan::device::cpu();
    let mut rng = Rng::new(73);
    // 2²⁴ multiply-adds: the smallest product the tuner measures.
    let (m, k, n) = (256, 512, 128);
    let a = rng.normal_tensor([m, k], 0.0, 1.0, &cpu);
    let b = rng.normal_tensor([k, n], 0.0, 1.0, &cpu);
    let got = with_matmul_tuning(MatmulTuning::MeasureF16x3, || {
        matmul_kernel(a.clone().to_device(&dev), b.clone().to_device(&dev))
    });
    let record = tune_records()
        .into_iter()
        .find(|r| {
            (r.m, r.n, r.k) == (m, n, k)
                && r.times
                    .iter()
                    .any(|t| matches!(t.0, MatmulChoice::TensorCores(v) if v.split))
        })
        .expect("the shape was measured with the f16x3 variants");
    let mut want: Vec<MatmulChoice> = vec![MatmulChoice::Burn];
    want.extend(
        MatmulVariant::ALL
            .into_iter()
            .filter(|&v| kernel_variant_fits(v))
            .map(MatmulChoice::Kernel),
    );
    want.extend(
        TcVariant::SPLIT
            .into_iter()
            .filter(|&v| tensor_core_variant_fits(v))
            .map(MatmulChoice::TensorCores),
    );
    let timed: Vec<MatmulChoice> = record.times.iter().map(|t| t.0).collect();
    assert_eq!(timed, want, "burn, the f32 kernels and the f16x3 ones");
    eprintln!("measure-f16x3 kept {}", record.chosen.name());
    assert_close(
        got.to_device(&cpu),
        matmul_reference(a, b),
        1e-5,
        &format!("measure-f16x3 ({})", record.chosen.name()),
    );
}

/// What f16 operands do to the penalised step, on any adapter: every product with its operands
/// rounded to f16 (the tensor cores' arithmetic, emulated), against the CPU in f32. The
/// differences are printed; the bounds are loose (f16 keeps 11 significant bits).
#[test]
fn f16_emulated_step_against_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let b = with_conv_path(ConvPath::Burn, || step(&margan::device::cpu()));
    let f16 = MatmulTuning::Fixed(MatmulChoice::F16Emulated);
    let a = with_conv_path(ConvPath::Tiled, || with_matmul_tuning(f16, || step(&gpu)));
    let [losses, grads] = compare_within(&a, &b, "wgpu (f16-emulated)", "cpu f32", [2e-2, 5e-2]);
    eprintln!(
        "f16-emulated products: losses and penalty within {losses:.2e} of f32, gradients within {grads:.2e}"
    );
    // The rounding shows: the same step in f32 on the same kernel is far closer.
    let f32 = MatmulTuning::Fixed(MatmulChoice::Kernel(MatmulVariant::DEFAULT));
    let c = with_conv_path(ConvPath::Tiled, || with_matmul_tuning(f32, || step(&gpu)));
    let [losses32, grads32] = compare_within(&c, &b, "wgpu (f32 kernel)", "cpu f32", [1e-4, 1e-3]);
    eprintln!(
        "f32 kernel: losses and penalty within {losses32:.2e} of the CPU, gradients within {grads32:.2e}"
    );
    assert!(
        grads > 3.0 * grads32,
        "f16 {grads:.2e} vs f32 {grads32:.2e}"
    );
}

/// The effect of the optional f16 tensor-core products on the penalised step: losses, penalty
/// and gradients against the CPU in f32, printed, within loose bounds (f16 operands).
#[test]
fn f16_tensor_core_step_against_cpu() {
    let Some(gpu) = common::gpu() else { return };
    if !tensor_cores() {
        eprintln!(
            "SKIPPED the f16 tensor-core step: this adapter has {} (an NVIDIA GPU through Vulkan \
             has them; so does Mesa's lavapipe from 26.x, not older ones)",
            tensor_core_report()
        );
        return;
    }
    let b = with_conv_path(ConvPath::Burn, || step(&margan::device::cpu()));
    // The default variant and the last one that fits (a 128 block of 128 invocations: the most
    // tiles per subgroup). The others differ from these in when the loads are issued or in how
    // many subgroups share a block, which the product test above covers.
    let largest = TcVariant::ALL
        .into_iter()
        .rev()
        .find(|&v| tensor_core_variant_fits(v))
        .unwrap_or(TcVariant::DEFAULT);
    for v in [TcVariant::DEFAULT, largest] {
        let f16 = MatmulTuning::Fixed(MatmulChoice::TensorCores(v));
        let a = with_conv_path(ConvPath::Tiled, || with_matmul_tuning(f16, || step(&gpu)));
        let what = format!("wgpu (tensor cores, {})", v.name());
        let [losses, grads] = compare_within(&a, &b, &what, "cpu f32", [2e-2, 5e-2]);
        eprintln!(
            "{what}: losses and penalty within {losses:.2e} of f32, gradients within {grads:.2e}"
        );
    }
    // The f16×3 products keep f32's precision: within the f32 kernel's bounds.
    for v in [TcVariant::SPLIT[0], TcVariant::SPLIT[2]] {
        if !tensor_core_variant_fits(v) {
            eprintln!(
                "SKIPPED {}: the device's workgroup memory cannot hold it",
                v.name()
            );
            continue;
        }
        let f16x3 = MatmulTuning::Fixed(MatmulChoice::TensorCores(v));
        let a = with_conv_path(ConvPath::Tiled, || with_matmul_tuning(f16x3, || step(&gpu)));
        let what = format!("wgpu (tensor cores, {})", v.name());
        let [losses, grads] = compare_within(&a, &b, &what, "cpu f32", [1e-4, 1e-3]);
        eprintln!(
            "{what}: losses and penalty within {losses:.2e} of f32, gradients within {grads:.2e}"
        );
    }
}
