//! The patch (im2col / col2im) backend extension: the WGSL kernels on wgpu
//! (`patches_cube.rs`) and loops on the flex CPU backend (`patches_flex.rs`); their autodiff
//! is `patches_autodiff.rs` (each is the other's backward).

use burn::backend::{backend_extension, tensor::FloatTensor};
#[cfg(feature = "fusion")]
use burn::tensor::Shape;

/// Backend extension: patch extraction and its adjoint. `info` is
/// [`crate::conv::patches::Patches::info`]: `[n, c, h, w, k, s, p, ho, wo]`.
#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex,
    Fusion: cfg(feature = "fusion"),
    Autodiff
)]
pub trait PatchOps: burn::backend::Backend {
    /// `x [n, c, h, w]` → `cols [c·k², n·ho·wo]`.
    #[fusion(dtype = x, shape = {
        let [n, c, _, _, k, _, _, ho, wo] = info.map(|v| v as usize);
        Shape::new([c * k * k, n * ho * wo])
    })]
    fn im2col(x: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self>;

    /// `cols [c·k², n·ho·wo]` → `x [n, c, h, w]` (sum over the taps that read each pixel).
    #[fusion(dtype = cols, shape = {
        let [n, c, h, w, ..] = info.map(|v| v as usize);
        Shape::new([n, c, h, w])
    })]
    fn col2im(cols: FloatTensor<Self>, info: [u32; 9]) -> FloatTensor<Self>;
}
