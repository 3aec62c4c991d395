//! Checks shared by the patch ops' tests on wgpu (`patch_kernels.rs`) and on flex
//! (`patch_flex.rs`): the op against its plain-tensor reference, forward and backward, and the
//! strided inputs im2col must read in place.

use super::assert_close;
use burn::tensor::{Device, Tensor};
use margan::conv::patches::{col2im_reference, im2col_reference, Patches};
use margan::kernels::patches::{col2im_kernel, im2col_kernel};
use margan::rng::Rng;

/// `im2col_kernel` / `col2im_kernel` on `dev` against the references for geometry `g`:
/// im2col exactly (it moves values), col2im within 1e-6 (it sums up to k² of them per pixel,
/// in another order), and both backward passes through the extension's autodiff against
/// autodiff of the references.
pub fn check_against_reference(g: Patches, rng: &mut Rng, dev: &Device) {
    let x = rng
        .normal_tensor([g.n, g.c, g.h, g.w], 0.0, 1.0, dev)
        .require_grad();
    let cols = rng
        .normal_tensor([g.rows(), g.cols()], 0.0, 1.0, dev)
        .detach()
        .require_grad();

    let a = im2col_kernel(x.clone(), g);
    let r = im2col_reference(x.clone(), g);
    assert_close(a.clone(), r.clone(), 0.0, &format!("im2col {g:?}"));
    let fa = col2im_kernel(cols.clone(), g);
    let fr = col2im_reference(cols.clone(), g);
    assert_close(fa.clone(), fr.clone(), 1e-6, &format!("col2im {g:?}"));

    let up = rng.normal_tensor([g.rows(), g.cols()], 0.0, 1.0, dev);
    let dk = x.grad(&(a * up.clone()).sum().backward()).unwrap();
    let dr = x.grad(&(r * up).sum().backward()).unwrap();
    assert_close(dk, dr, 1e-6, &format!("im2col backward {g:?}"));
    let up = rng.normal_tensor([g.n, g.c, g.h, g.w], 0.0, 1.0, dev);
    let dk = cols.grad(&(fa * up.clone()).sum().backward()).unwrap();
    let dr = cols.grad(&(fr * up).sum().backward()).unwrap();
    assert_close(dk, dr, 0.0, &format!("col2im backward {g:?}"));
}

/// Inputs of `g`'s shape that are views: channel-major (what a GEMM convolution, BatchNorm and
/// the activation kernels hand on), one group's rows of such a view, NHWC viewed as NCHW, and a
/// broadcast over the batch.
pub fn strided_inputs(g: Patches, rng: &mut Rng, dev: &Device) -> Vec<(&'static str, Tensor<4>)> {
    let (n, c, h, w) = (g.n, g.c, g.h, g.w);
    vec![
        (
            "channel-major",
            rng.normal_tensor([c, n, h, w], 0.0, 1.0, dev)
                .swap_dims(0, 1),
        ),
        (
            "rows of a channel-major view",
            rng.normal_tensor([c, n + 2, h, w], 0.0, 1.0, dev)
                .swap_dims(0, 1)
                .slice([1..n + 1, 0..c, 0..h, 0..w]),
        ),
        (
            "NHWC",
            rng.normal_tensor([n, h, w, c], 0.0, 1.0, dev)
                .permute([0, 3, 1, 2]),
        ),
        (
            "broadcast over the batch",
            rng.normal_tensor([1, c, h, w], 0.0, 1.0, dev)
                .expand([n, c, h, w]),
        ),
    ]
}

/// im2col of each input against the reference, exactly.
pub fn check_strided(g: Patches, inputs: Vec<(&'static str, Tensor<4>)>) {
    for (what, x) in inputs {
        assert_close(
            im2col_kernel(x.clone(), g),
            im2col_reference(x, g),
            0.0,
            &format!("im2col of a {what} input, {g:?}"),
        );
    }
}
