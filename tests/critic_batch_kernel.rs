//! The critic-batch kernel (`[real; fake; interpolates]` in one launch) against its plain-tensor
//! reference on the wgpu backend (lavapipe in CI), and the penalty's one-pass batch against the
//! points it draws on its own, on the CPU.
//!
//! Run with `cargo test --release -p margan --features wgpu --test critic_batch_kernel`.

mod common;

use burn::tensor::Tensor;
use common::{assert_close, device};
#[cfg(feature = "wgpu")]
use margan::kernels::critic_batch::critic_batch_reference;
use margan::penalty::{GradientPenalty, Where};
use margan::rng::Rng;

/// `pass_batch` draws what `points` draws and lays the batches out as one pass reads them.
#[test]
fn pass_batch_is_real_fake_and_the_penalty_points() {
    let device = device();
    for at in [Where::Interpolates, Where::RealPerturbed] {
        let penalty = GradientPenalty {
            at,
            ..GradientPenalty::default()
        };
        let mut rng = Rng::new(3);
        let real = rng.normal_tensor([5, 3, 4, 6], 0.0, 1.0, &device);
        let fake = rng.normal_tensor([5, 3, 4, 6], 0.5, 2.0, &device);
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        let batch = penalty.pass_batch(real.clone(), fake.clone(), &mut a);
        let points = penalty.points(real.clone(), fake.clone(), &mut b);
        let expected = Tensor::cat(vec![real, fake, points], 0);
        assert_close(batch, expected, 1e-6, &format!("{at:?}"));
        assert_eq!(a.uniform(), b.uniform(), "{at:?}: the same draws");
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use common::gpu;
    use common::layer_inputs::{input, LAYOUTS};
    use margan::kernels::critic_batch::critic_batch_kernel;

    #[test]
    fn critic_batch_kernel_matches_reference() {
        let Some(gpu) = gpu() else { return };
        let mut rng = Rng::new(4);
        let mut cases = 0;
        for shape in [[1, 1, 1, 1], [3, 3, 32, 32], [7, 2, 5, 9], [64, 3, 8, 8]] {
            // Real batches come contiguous from the data; fakes as the generator's last layer
            // leaves them (channel-major from a GEMM convolution): every pair of layouts.
            for real_layout in LAYOUTS {
                for fake_layout in LAYOUTS {
                    let real = input(shape, real_layout, &mut rng, &gpu);
                    let fake = input(shape, fake_layout, &mut rng, &gpu);
                    let u = rng.uniform_tensor([shape[0]], 0.0, 1.0, &gpu);
                    let ours = critic_batch_kernel(real.clone(), fake.clone(), u.clone());
                    let theirs = critic_batch_reference(real, fake, u);
                    let what = format!("{shape:?}, real {real_layout:?}, fake {fake_layout:?}");
                    assert_close(ours, theirs, 1e-6, &what);
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 36);
    }
}
