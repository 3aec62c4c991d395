//! The patch ops behind [`crate::conv::patches::im2col`] / [`crate::conv::patches::col2im`]:
//! WGSL kernels on wgpu (`shaders/im2col.wgsl`, `shaders/col2im.wgsl`) and loops on the flex
//! CPU backend (`patches_flex.rs`). Their plain-tensor references are
//! [`crate::conv::patches::im2col_reference`] and [`crate::conv::patches::col2im_reference`].
//! f32, any sizes whose outputs fit u32 indexing.

use crate::conv::patches::Patches;
use burn::tensor::Tensor;

/// Whether [`im2col_kernel`] and [`col2im_kernel`] take `t`: f32 on wgpu (the WGSL kernels) or
/// on flex (loops); elsewhere the references run.
pub fn runs_kernel<const D: usize>(t: &Tensor<D>) -> bool {
    super::runs_f32_ops(t)
}

/// `im2col` by the WGSL kernel or the flex loop; differentiable (backward: `col2im`).
///
/// # Panics
/// When [`runs_kernel`] does not hold for `x`.
pub fn im2col_kernel(x: Tensor<4>, g: Patches) -> Tensor<2> {
    use super::patches_ops::PatchOps;
    use burn::backend::Dispatch;
    assert!(
        runs_kernel(&x),
        "the patch ops run on f32 tensors on wgpu or flex"
    );
    Tensor::from_dispatch(<Dispatch as PatchOps>::im2col(x.into_dispatch(), g.info()))
}

/// `col2im` by the WGSL kernel or the flex loop; differentiable (backward: `im2col`).
///
/// # Panics
/// When [`runs_kernel`] does not hold for `cols`.
pub fn col2im_kernel(cols: Tensor<2>, g: Patches) -> Tensor<4> {
    use super::patches_ops::PatchOps;
    use burn::backend::Dispatch;
    assert!(
        runs_kernel(&cols),
        "the patch ops run on f32 tensors on wgpu or flex"
    );
    Tensor::from_dispatch(<Dispatch as PatchOps>::col2im(
        cols.into_dispatch(),
        g.info(),
    ))
}
