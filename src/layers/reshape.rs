//! Reshape (and flatten) of each sample's activation.

use super::{Layer, Mode};
use burn::module::Module;
use burn::tensor::Tensor;

/// Reshapes each sample to `[C, H, W]`; `Reshape::flatten()` gives `[C·H·W, 1, 1]`.
#[derive(Module, Debug)]
pub struct Reshape {
    /// Target per-sample shape; `[0, 1, 1]` means "flatten everything".
    pub shape: [usize; 3],
}

impl Reshape {
    pub fn new(shape: [usize; 3]) -> Self {
        Reshape { shape }
    }
    pub fn flatten() -> Self {
        Reshape { shape: [0, 1, 1] }
    }
}

impl Layer for Reshape {
    fn forward(&self, x: Tensor<4>, _mode: Mode) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let [tc, th, tw] = self.shape;
        let target = if tc == 0 {
            [n, c * h * w, 1, 1]
        } else {
            [n, tc, th, tw]
        };
        assert_eq!(
            c * h * w,
            target[1] * target[2] * target[3],
            "Reshape: cannot reshape [{c}, {h}, {w}] per sample to {:?}",
            &target[1..]
        );
        x.reshape(target)
    }
    fn backward_input(
        &self,
        x: &Tensor<4>,
        _y: &Tensor<4>,
        gy: Tensor<4>,
        _mode: Mode,
    ) -> Tensor<4> {
        gy.reshape(x.dims())
    }
}
