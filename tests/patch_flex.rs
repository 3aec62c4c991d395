//! The flex CPU backend's patch ops (`im2col`, `col2im` as loops, `kernels/patches_flex.rs`)
//! against their plain-tensor references, forward and backward (each is the other's adjoint),
//! on the shapes of the WGSL kernels' tests (`patch_kernels.rs`: odd sizes, stride 1 and 2,
//! padding 0 and 1, batch 1, 1×1 to 4×4 kernels) and on geometries where whole kernel rows lie
//! in the padding or the stride skips past the input; and on strided inputs, which the loop
//! reads in place.

mod common;

use common::{device, patches, ConvCase, CONV_CASES};
use margan::conv::patches::Patches;
use margan::kernels::patches::{col2im_kernel, im2col_kernel, runs_kernel};
use margan::rng::Rng;

/// `(n, c, c_out, h, w, k, s, p)`: padding wider than the image (taps reading only zeros, some
/// of them on both sides), stride 3, a 1×1 image, an 8×2 one.
const EDGE_CASES: [ConvCase; 5] = [
    (2, 2, 1, 1, 1, 3, 1, 2),
    (1, 2, 1, 1, 1, 6, 1, 3),
    (1, 3, 1, 7, 8, 2, 3, 1),
    (3, 2, 1, 2, 3, 4, 1, 2),
    (1, 1, 1, 8, 2, 3, 2, 1),
];

#[test]
fn flex_patch_ops_match_reference() {
    let dev = device();
    let mut rng = Rng::new(21);
    for (n, c, _, h, w, k, s, p) in CONV_CASES.into_iter().chain(EDGE_CASES) {
        let x = rng.normal_tensor([n, c, h, w], 0.0, 1.0, &dev);
        assert!(runs_kernel(&x), "f32 on flex takes the loops");
        patches::check_against_reference(Patches::conv([n, c, h, w], k, s, p), &mut rng, &dev);
    }
}

/// The adjoint identity ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ in f64 sums of the f32 loops' outputs:
/// each loop against the other, independent of the references.
#[test]
fn flex_patch_ops_are_adjoint() {
    let dev = device();
    let mut rng = Rng::new(22);
    for (n, c, _, h, w, k, s, p) in CONV_CASES.into_iter().chain(EDGE_CASES) {
        let g = Patches::conv([n, c, h, w], k, s, p);
        let x = rng.normal_tensor([n, c, h, w], 0.0, 1.0, &dev);
        let y = rng.normal_tensor([g.rows(), g.cols()], 0.0, 1.0, &dev);
        let dot = |a: Vec<f64>, b: Vec<f64>| a.iter().zip(&b).map(|(u, v)| u * v).sum::<f64>();
        let left = dot(
            common::to_vec64(im2col_kernel(x.clone(), g)),
            common::to_vec64(y.clone()),
        );
        let right = dot(common::to_vec64(x), common::to_vec64(col2im_kernel(y, g)));
        let scale = (g.rows() * g.cols()) as f64;
        assert!(
            (left - right).abs() <= 1e-5 * scale.sqrt().max(1.0),
            "{g:?}: <im2col x, y> = {left} but <x, col2im y> = {right}"
        );
    }
}

/// im2col reads its input through its strides: the views of the WGSL kernel's test
/// (channel-major, row-sliced, NHWC, broadcast) and a flip (negative strides).
#[test]
fn flex_im2col_on_strided_inputs_matches_reference() {
    let dev = device();
    let mut rng = Rng::new(23);
    for (n, c, _, h, w, k, s, p) in CONV_CASES.into_iter().chain(EDGE_CASES) {
        let g = Patches::conv([n, c, h, w], k, s, p);
        let mut inputs = patches::strided_inputs(g, &mut rng, &dev);
        inputs.push((
            "flipped along its width",
            rng.normal_tensor([n, c, h, w], 0.0, 1.0, &dev).flip([3]),
        ));
        patches::check_strided(g, inputs);
    }
}
