//! The README's default command trains on the embedded shapes and the generator's images move
//! from noise-like to shape-like pixel statistics.

use margan::layers::Mode;
use margan::model::{network_from_bytes, ModelSpec};
use margan::pack::Pack;
use margan::rng::Rng;
use margan::shapes::{self, ImageStats};
use std::process::Command;

#[test]
fn default_preset_learns_shape_statistics() {
    let dir = std::env::temp_dir().join(format!("margan-default-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = env!("CARGO_BIN_EXE_margan");
    // A shortened default run (the README's runs 800 iterations).
    let st = Command::new(bin)
        .args(["train", "--quiet", "--iterations", "600", "--out"])
        .arg(dir.join("run"))
        .status()
        .unwrap();
    assert!(st.success());
    for f in ["samples.png", "losses.png"] {
        let img = image::open(dir.join("run").join(f)).unwrap();
        assert!(
            img.width() >= 256 && img.height() >= 256,
            "{f} is too small to look at"
        );
    }
    let export = dir.join("g.margan");
    assert!(Command::new(bin)
        .args(["export", "--run"])
        .arg(dir.join("run"))
        .arg("--out")
        .arg(&export)
        .status()
        .unwrap()
        .success());

    let pack = Pack::from_bytes(&std::fs::read(&export).unwrap(), "export").unwrap();
    let info: serde_json::Value = serde_json::from_slice(pack.get("export.json").unwrap()).unwrap();
    let model: ModelSpec = serde_json::from_value(info["model"].clone()).unwrap();
    let [c, size, _] = model.sample_shape();
    let device = margan::device::cpu();
    let untrained = model.init_generator(&device, &mut Rng::new(99));
    let trained = network_from_bytes(
        model.init_generator(&device, &mut Rng::new(0)),
        pack.get("g").unwrap(),
        "g",
    )
    .unwrap();
    let z = Rng::new(5).normal_tensor([256, model.z_dim(), 1, 1], 0.0, 1.0, &device);
    let stats = |net: &margan::layers::Network| {
        ImageStats::of(
            &margan::device::to_vec(net.forward(z.clone(), Mode::Eval)),
            c,
            size,
        )
    };
    let real = ImageStats::of(&shapes::sample(256, size, &mut Rng::new(6)), 3, size);
    let (s0, s1) = (stats(&untrained), stats(&trained));
    let (d0, d1) = (s0.distance(&real), s1.distance(&real));
    eprintln!(
        "real {real:?}\nuntrained {s0:?} (distance {d0:.3})\ntrained {s1:?} (distance {d1:.3})"
    );
    assert!(
        d1 < 0.5 * d0,
        "generated pixel statistics did not approach the real ones: {d0:.3} → {d1:.3}"
    );
    // Flat shapes on a flat background: neighbouring pixels mostly agree. The total variation
    // of the samples must be far closer to the real images' than to uniform noise's.
    let mut r = Rng::new(8);
    let noise: Vec<f32> = (0..256 * 3 * size * size)
        .map(|_| r.uniform() as f32 * 2.0 - 1.0)
        .collect();
    let noise = ImageStats::of(&noise, 3, size);
    assert!(
        (s1.tv - real.tv).abs() < (s1.tv - noise.tv).abs() / 3.0,
        "samples look like noise: total variation {:.3} (real {:.3}, noise {:.3})",
        s1.tv,
        real.tv,
        noise.tv
    );
    let _ = std::fs::remove_dir_all(&dir);
}
