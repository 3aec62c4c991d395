//! The GEMM formulation of the kit's convolutions (`margan::conv`) against burn's own
//! convolutions (the reference), and the patch references against direct indexing, on the CPU
//! backend. Shapes cover odd sizes, stride 1 and 2, padding 0 and 1, batch 1, 1×1 to 4×4
//! kernels. The same checks on wgpu (the WGSL patch kernels) are in `patch_kernels.rs`.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use common::CONV_CASES as CASES;
use common::{assert_close, device, rel_err, to_vec64};
use margan::conv::patches::{col2im_reference, im2col_reference, Patches};
use margan::conv::{self, with_conv_path, ConvPath};
use margan::layers::{Mode, Network};
use margan::nets::DcganConfig;
use margan::rng::Rng;
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};

fn values(t: Tensor<4>) -> (Vec<f64>, [usize; 4]) {
    let d = t.dims();
    (to_vec64(t), d)
}

/// `cols` by direct indexing of the formula in `margan::conv::patches`.
fn im2col_direct(x: &[f64], g: Patches) -> Vec<f64> {
    let (k, l) = (g.k, g.ho * g.wo);
    let mut cols = vec![0.0; g.rows() * g.cols()];
    for c in 0..g.c {
        for kh in 0..k {
            for kw in 0..k {
                for n in 0..g.n {
                    for oh in 0..g.ho {
                        for ow in 0..g.wo {
                            let ih = (oh * g.stride + kh) as isize - g.padding as isize;
                            let iw = (ow * g.stride + kw) as isize - g.padding as isize;
                            let inside =
                                ih >= 0 && iw >= 0 && (ih as usize) < g.h && (iw as usize) < g.w;
                            let row = (c * k + kh) * k + kw;
                            let col = n * l + oh * g.wo + ow;
                            if inside {
                                cols[row * g.cols() + col] =
                                    x[((n * g.c + c) * g.h + ih as usize) * g.w + iw as usize];
                            }
                        }
                    }
                }
            }
        }
    }
    cols
}

#[test]
fn patch_references_match_direct_indexing() {
    let dev = device();
    let mut rng = Rng::new(5);
    for (n, c, _, h, w, k, s, p) in CASES {
        let x = rng.normal_tensor([n, c, h, w], 0.0, 1.0, &dev);
        let g = Patches::conv([n, c, h, w], k, s, p);
        let (xv, _) = values(x.clone());
        let expect = im2col_direct(&xv, g);
        let got = to_vec64(im2col_reference(x.clone(), g));
        assert_eq!(got, expect, "im2col {g:?}");

        // col2im is the adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for every x, c, so with x
        // the unit vectors, col2im(c)[i] = Σ_j [im2col(e_i)]_j c_j — checked through the
        // direct im2col on each unit vector.
        let cv = rng.normal_tensor([g.rows(), g.cols(), 1, 1], 0.0, 1.0, &dev);
        let cols = cv.reshape([g.rows(), g.cols()]);
        let c_host = to_vec64(cols.clone());
        let folded = to_vec64(col2im_reference(cols, g));
        let mut unit = vec![0.0; xv.len()];
        for i in 0..xv.len() {
            unit[i] = 1.0;
            let patch = im2col_direct(&unit, g);
            let e: f64 = patch.iter().zip(&c_host).map(|(a, b)| a * b).sum();
            unit[i] = 0.0;
            assert!(
                (folded[i] - e).abs() <= 1e-5 * e.abs().max(1.0),
                "col2im {g:?} at {i}: {} vs {e}",
                folded[i]
            );
        }
    }
}

#[test]
fn conv_gemm_matches_reference() {
    let dev = device();
    let mut rng = Rng::new(7);
    for (n, ci, co, h, w, k, s, p) in CASES {
        let what = format!("n{n} {ci}->{co} {h}x{w} k{k} s{s} p{p}");
        let x = rng.normal_tensor([n, ci, h, w], 0.0, 1.0, &dev);
        let wt = rng.normal_tensor([co, ci, k, k], 0.0, 0.5, &dev);
        let b = rng.normal_tensor([co], 0.0, 0.5, &dev);
        let both = |f: &dyn Fn() -> Tensor<4>| {
            (
                with_conv_path(ConvPath::Gemm, f),
                with_conv_path(ConvPath::Burn, f),
            )
        };
        let (a, r) = both(&|| conv::conv2d(x.clone(), wt.clone(), Some(b.clone()), s, p));
        assert_close(a, r.clone(), 1e-5, &format!("conv2d forward {what}"));
        let [_, _, ho, wo] = r.dims();
        let gy = rng.normal_tensor([n, co, ho, wo], 0.0, 1.0, &dev);
        let (a, r) = both(&|| conv::conv2d_input_grad(gy.clone(), wt.clone(), [h, w], s, p));
        assert_close(a, r, 1e-5, &format!("conv2d input gradient {what}"));
        let (a, r) = both(&|| conv::conv2d_weight_grad(x.clone(), gy.clone(), k, s, p));
        assert_close(a, r, 1e-5, &format!("conv2d weight gradient {what}"));
        // Transposed convolution, with every output padding the stride allows.
        for op in 0..s {
            let wt_t = rng.normal_tensor([ci, co, k, k], 0.0, 0.5, &dev);
            let (a, r) = both(&|| {
                conv::conv_transpose2d(x.clone(), wt_t.clone(), Some(b.clone()), s, p, op)
            });
            assert_close(a, r, 1e-5, &format!("conv_transpose2d op{op} {what}"));
        }
    }
}

struct Collect<'a>(&'a GradientsParams, Vec<Vec<f64>>);

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.0.get::<D>(param.id) {
            self.1.push(to_vec64(g));
        }
    }
}

/// D's parameter gradient of HingeGAN + L∞ hinge penalty (double backward through every
/// convolution), and G's through D, on a small DCGAN-32 from fixed weights.
fn penalised_step(dev: &Device) -> (f64, Vec<Vec<f64>>) {
    let cfg = DcganConfig::new().with_width(8).with_z_dim(16);
    let mut rng = Rng::new(3);
    let g = cfg.init_generator(dev, &mut rng);
    let d: Network = cfg.init_discriminator(dev, &mut rng);
    let n = 3;
    let real = rng.uniform_tensor([n, 3, 32, 32], -1.0, 1.0, dev);
    let z = rng.normal_tensor([n, 16, 1, 1], 0.0, 1.0, dev);
    let gp = GradientPenalty {
        norm: Norm::Linf,
        form: Form::ZeroCentered,
        at: Where::Interpolates,
        weight: 20.0,
    };
    let fake = g.forward(z.clone(), Mode::Train);
    let tr = d.trace(real, Mode::Train);
    let tf = d.trace(fake.clone().detach(), Mode::Train);
    let loss = GanLoss::Hinge.d_loss(tr.output().reshape([n]), tf.output().reshape([n]));
    let out = gp.compute(&d, &tr, &tf, &mut rng);
    let penalty = to_vec64(out.value.clone())[0];
    let mut c = Collect(
        &GradientsParams::from_grads((loss + out.value).backward(), &d),
        Vec::new(),
    );
    d.visit(&mut c);
    let mut grads = c.1;
    let cf = d.forward(fake, Mode::Train).reshape([n]);
    let g_loss = GanLoss::Hinge.g_loss(cf.zeros_like().detach(), cf);
    let gg = GradientsParams::from_grads(g_loss.backward(), &g);
    let mut c = Collect(&gg, Vec::new());
    g.visit(&mut c);
    grads.extend(c.1);
    (penalty, grads)
}

#[test]
fn gemm_path_gives_burns_penalised_gradients() {
    let dev = device();
    let (pa, ga) = with_conv_path(ConvPath::Gemm, || penalised_step(&dev));
    let (pb, gb) = with_conv_path(ConvPath::Burn, || penalised_step(&dev));
    assert!(pb > 0.0, "the zero-centred penalty is positive");
    assert!(
        (pa - pb).abs() <= 1e-5 * pb,
        "penalty: gemm {pa} vs burn {pb}"
    );
    assert_eq!(ga.len(), gb.len());
    for (i, (a, b)) in ga.iter().zip(&gb).enumerate() {
        let e = rel_err(a, b);
        assert!(e < 1e-4, "parameter {i}: gradient relative error {e:.2e}");
    }
}
