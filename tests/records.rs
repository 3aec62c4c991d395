//! A network's record holds its running state as of the latest update (BatchNorm's running
//! statistics, spectral normalisation's singular-vector estimates), and loading it gives a
//! network that computes exactly what the saved one did — also into a freshly initialised
//! network, whose own initial power iterations must not replace the loaded estimates.

mod common;

use common::{assert_close, device_f64};
use margan::layers::{Mode, Network};
use margan::model::{network_from_bytes, network_to_bytes};
use margan::nets::{DcganConfig, StandardCnnConfig};
use margan::rng::Rng;

#[test]
fn records_hold_the_latest_running_state() {
    let dev = device_f64();
    let dcgan = DcganConfig::new()
        .with_width(4)
        .with_z_dim(8)
        .with_spectral_d(true);
    let cnn = StandardCnnConfig::new()
        .with_width_scale(1.0 / 16.0)
        .with_z_dim(8)
        .with_spectral_d(true);
    type Init<'a> = Box<dyn Fn(&mut Rng) -> Network + 'a>;
    let cases: Vec<(&str, Init, [usize; 4])> = vec![
        (
            "dcgan G (BatchNorm)",
            Box::new(|r| dcgan.init_generator(&dev, r)),
            [3, 8, 1, 1],
        ),
        (
            "dcgan D (spectral norm)",
            Box::new(|r| dcgan.init_discriminator(&dev, r)),
            [3, 3, 32, 32],
        ),
        (
            "standard cnn D (spectral norm)",
            Box::new(|r| cnn.init_discriminator(&dev, r)),
            [3, 3, 32, 32],
        ),
    ];
    let mut rng = Rng::new(8);
    for (name, init, shape) in cases {
        let net = init(&mut Rng::new(1));
        // Training passes move the state on; the last one's update is what a record must hold.
        for _ in 0..3 {
            let _ = net.forward(rng.normal_tensor(shape, 0.0, 1.0, &dev), Mode::Train);
        }
        let bytes = network_to_bytes(&net).expect("serialise");
        let x = rng.normal_tensor(shape, 0.0, 1.0, &dev);
        let expected = net.forward(x.clone(), Mode::Eval);
        // Into a network initialised from another seed, and into the saved one's architecture
        // straight after its initialisation (pending initial power iterations).
        let loaded = network_from_bytes(init(&mut Rng::new(2)), &bytes, name).expect("load");
        let got = loaded.forward(x, Mode::Eval);
        assert_close(
            got,
            expected,
            1e-12,
            &format!("{name}: evaluation after a reload"),
        );
    }
}

/// BatchNorm's fields as margan stored them before it had its own running state: burn's
/// `RunningState`, whose records are what older checkpoints and the shipped demo weights hold.
#[derive(burn::module::Module, Debug)]
struct BurnsBatchNorm {
    gamma: burn::module::Param<burn::tensor::Tensor<1>>,
    beta: burn::module::Param<burn::tensor::Tensor<1>>,
    running_mean: burn::module::RunningState<burn::tensor::Tensor<1>>,
    running_var: burn::module::RunningState<burn::tensor::Tensor<1>>,
    momentum: f64,
    eps: f64,
}

/// A record of burn's `RunningState` loads into margan's `Running` and the other way round:
/// both are one float tensor under the same name.
#[test]
fn running_state_records_load_across_burns_running_state() {
    use burn::module::{Module, Param, RunningState};
    use burn::tensor::Tensor;
    use margan::layers::BatchNormConfig;
    let dev = device_f64();
    let values = |v: &[f64]| Tensor::<1>::from_floats(v, &dev);
    let old = BurnsBatchNorm {
        gamma: Param::from_tensor(values(&[1.5, 0.5, 2.0])),
        beta: Param::from_tensor(values(&[0.1, -0.2, 0.3])),
        running_mean: RunningState::new(values(&[0.25, -1.0, 3.0])),
        running_var: RunningState::new(values(&[2.0, 0.5, 4.0])),
        momentum: 0.1,
        eps: 1e-5,
    };
    let fresh = || BatchNormConfig::new(3).init(&dev, &mut Rng::new(3));
    let ours = fresh().load_record(old.clone().into_record());
    assert_close(
        ours.running_mean.value(),
        values(&[0.25, -1.0, 3.0]),
        0.0,
        "running mean",
    );
    assert_close(
        ours.running_var.value(),
        values(&[2.0, 0.5, 4.0]),
        0.0,
        "running variance",
    );
    assert_close(ours.gamma.val(), values(&[1.5, 0.5, 2.0]), 0.0, "γ");
    assert!(
        !ours.running_mean.value().is_require_grad(),
        "a loaded running state must not be trainable"
    );

    // And back: margan's record (moved by a training pass) into burn's type.
    let x = Rng::new(4).normal_tensor([5, 3, 2, 2], 0.5, 2.0, &dev);
    let _ = margan::layers::Layer::forward(&ours, x, Mode::Train);
    let back = BurnsBatchNorm {
        running_mean: RunningState::new(values(&[0.0; 3])),
        running_var: RunningState::new(values(&[0.0; 3])),
        ..old
    }
    .load_record(ours.clone().into_record());
    assert_close(
        back.running_mean.value_sync(),
        ours.running_mean.value(),
        0.0,
        "mean back",
    );
    assert_close(
        back.running_var.value_sync(),
        ours.running_var.value(),
        0.0,
        "var back",
    );
    // The pass moved the statistics (else the round trip above would prove little).
    assert!(
        common::rel_err(
            &common::to_vec64(ours.running_mean.value()),
            &[0.25, -1.0, 3.0]
        ) > 1e-3,
        "a training pass must move the running mean"
    );
}

/// Clones of a layer share its running state (the critic's copy the generator's step runs
/// through moves the critic's statistics, as in PyTorch), and every read sees the latest
/// update; `valid()` makes a copy of its own.
#[test]
fn running_state_is_shared_by_clones_and_current_on_every_read() {
    use burn::module::{Module, ParamId};
    use burn::tensor::Tensor;
    use margan::layers::Running;
    let dev = device_f64();
    let values = |v: &[f64]| Tensor::<1>::from_floats(v, &dev);
    let state = Running::new(ParamId::from(7), values(&[1.0, 2.0]));
    let copy = state.clone();
    let valid = state.valid();
    copy.update(values(&[3.0, 4.0]));
    assert_close(
        state.value(),
        values(&[3.0, 4.0]),
        0.0,
        "update through a clone",
    );
    state.update(values(&[5.0, 6.0]));
    assert_close(
        copy.value(),
        values(&[5.0, 6.0]),
        0.0,
        "second update, read at once",
    );
    assert_close(
        valid.value(),
        values(&[1.0, 2.0]),
        0.0,
        "valid() copy stays as it was",
    );
    assert_eq!(
        valid.id(),
        state.id(),
        "a copy keeps the id records know it by"
    );
}
