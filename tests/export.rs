//! Exported generators round-trip, and bad files give errors that name the problem.

mod common;

use common::{device, to_vec64};
use margan::export::{load, to_bytes, ExportInfo, FORMAT, VERSION};
use margan::layers::Mode;
use margan::model::ModelSpec;
use margan::rng::Rng;

fn spec(width: usize) -> ModelSpec {
    ModelSpec::Dcgan {
        size: 32,
        z_dim: 8,
        width,
        channels: 3,
        batch_norm_d: true,
        spectral_d: false,
    }
}

fn info(model: ModelSpec) -> ExportInfo {
    ExportInfo {
        format: FORMAT.into(),
        version: VERSION,
        model,
        iteration: 42,
        loss: margan::GanLoss::Hinge,
        penalty: Some(margan::GradientPenalty::default()),
        data: "shapes".into(),
    }
}

#[test]
fn exported_generator_round_trips() {
    let dev = device();
    let g = spec(8).init_generator(&dev, &mut Rng::new(3));
    let bytes = to_bytes(&info(spec(8)), &g).unwrap();
    let (back_info, back) = load(&bytes, "demo.margan", &dev).unwrap();
    assert_eq!(back_info, info(spec(8)));
    let z = Rng::new(9).normal_tensor([2, 8, 1, 1], 0.0, 1.0, &dev);
    assert_eq!(
        to_vec64(g.forward(z.clone(), Mode::Eval)),
        to_vec64(back.forward(z, Mode::Eval)),
        "the loaded generator computes the same samples"
    );
}

#[test]
fn bad_exports_are_named_errors() {
    let dev = device();
    let g = spec(8).init_generator(&dev, &mut Rng::new(3));
    let good = to_bytes(&info(spec(8)), &g).unwrap();
    let err = |bytes: &[u8]| load(bytes, "x.margan", &dev).unwrap_err().to_string();

    let e = err(b"<html>not found</html>");
    assert!(e.contains("x.margan"), "{e}");
    let e = err(&good[..good.len() / 2]);
    assert!(e.contains("x.margan"), "truncated: {e}");
    // Weights of a narrower generator under a config that says wider.
    let mismatched = to_bytes(&info(spec(16)), &g).unwrap();
    let e = err(&mismatched);
    assert!(e.contains("do not fit"), "mismatch: {e}");
    let mut other = info(spec(8));
    other.format = "something-else".into();
    let e = err(&to_bytes(&other, &g).unwrap());
    assert!(e.contains("not an exported generator"), "{e}");
    other = info(spec(8));
    other.version = VERSION + 1;
    let e = err(&to_bytes(&other, &g).unwrap());
    assert!(e.contains("newer"), "{e}");
}
