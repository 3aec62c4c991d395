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
