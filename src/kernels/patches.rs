//! The patch kernels (`shaders/im2col.wgsl`, `shaders/col2im.wgsl`) behind
//! [`crate::conv::patches::im2col`] / [`crate::conv::patches::col2im`]; their plain-tensor
//! references are [`crate::conv::patches::im2col_reference`] and
//! [`crate::conv::patches::col2im_reference`]. f32, any sizes whose outputs fit u32 indexing.

#[cfg(feature = "wgpu")]
use crate::conv::patches::Patches;
#[cfg(feature = "wgpu")]
use burn::tensor::Tensor;

/// `im2col` by the WGSL kernel; differentiable (backward: the `col2im` kernel).
///
/// # Panics
/// When `x` is not an f32 tensor on a wgpu device (check with [`super::has_kernels`]).
#[cfg(feature = "wgpu")]
pub fn im2col_kernel(x: Tensor<4>, g: Patches) -> Tensor<2> {
    use super::patches_cube::PatchOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&x.device()),
        "the patch kernels run on the wgpu backend only"
    );
    Tensor::from_dispatch(<Dispatch as PatchOps>::im2col(x.into_dispatch(), g.info()))
}

/// `col2im` by the WGSL kernel; differentiable (backward: the `im2col` kernel).
///
/// # Panics
/// When `cols` is not an f32 tensor on a wgpu device (check with [`super::has_kernels`]).
#[cfg(feature = "wgpu")]
pub fn col2im_kernel(cols: Tensor<2>, g: Patches) -> Tensor<4> {
    use super::patches_cube::PatchOps;
    use burn::backend::Dispatch;
    assert!(
        super::has_kernels(&cols.device()),
        "the patch kernels run on the wgpu backend only"
    );
    Tensor::from_dispatch(<Dispatch as PatchOps>::col2im(
        cols.into_dispatch(),
        g.info(),
    ))
}
