//! Named starting configurations: the embedded default, the paper's CIFAR-10 grid, the toy
//! 2-D sets and the standard CNN.

use crate::config::{DataConfig, DeviceChoice, RunConfig};
use margan::model::ModelSpec;
use margan::toy::Toy;
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};
use std::path::PathBuf;

/// The preset `margan train` uses without `--preset`.
pub const DEFAULT: &str = "shapes";
/// The paper's DCGAN-32 iteration on CIFAR-10, as `bench/torch_dcgan32.py` runs it.
pub const PAPER_DCGAN32: &str = "cifar10-hinge-linf-hinge";

fn paper_penalty(norm: Norm, form: Form) -> GradientPenalty {
    GradientPenalty {
        norm,
        form,
        at: Where::Interpolates,
        weight: 20.0,
    }
}

fn base(name: &str) -> RunConfig {
    RunConfig {
        loss: GanLoss::Hinge,
        penalty: Some(paper_penalty(Norm::Linf, Form::Hinge)),
        lr_d: 2e-4,
        lr_g: 2e-4,
        beta1: 0.5,
        beta2: 0.999,
        d_steps: 1,
        batch_size: 32,
        iterations: 100_000,
        seed: 1,
        device: DeviceChoice::Auto,
        out: PathBuf::from("runs").join(name),
        log_every: 100,
        sample_every: 2_000,
        checkpoint_every: 5_000,
        data: DataConfig::Cifar10 {
            dir: PathBuf::from("data/cifar-10-batches-bin"),
        },
        model: ModelSpec::dcgan32(),
    }
}

fn norm_name(n: Norm) -> &'static str {
    n.name()
}

fn form_name(f: Form) -> &'static str {
    match f {
        Form::Ls => "ls",
        Form::Hinge => "hinge",
        Form::SquaredHinge => "squared-hinge",
        Form::ZeroCentered => "zero-centered",
    }
}

/// Every preset name, in the order `margan presets` lists them.
pub fn names() -> Vec<String> {
    let mut v = vec![DEFAULT.to_string(), "shapes-dcgan32".into()];
    for t in ["8gaussians", "25gaussians", "ring", "swissroll"] {
        v.push(format!("toy-{t}"));
    }
    for loss in ["hinge", "wgan"] {
        for norm in Norm::ALL {
            for form in [Form::Ls, Form::Hinge] {
                v.push(format!(
                    "cifar10-{loss}-{}-{}",
                    norm_name(norm),
                    form_name(form)
                ));
            }
        }
        v.push(format!("cifar10-{loss}-none"));
    }
    v.push("cifar10-standard-cnn".into());
    v.push("cifar10-standard-cnn-sn".into());
    v
}

/// The configuration of a preset.
pub fn preset(name: &str) -> Result<RunConfig, String> {
    let mut c = base(name);
    match name {
        // The embedded default: small enough for a few minutes on a 2-core CPU.
        "shapes" => {
            c.data = DataConfig::Shapes { size: 32 };
            c.model = ModelSpec::Dcgan {
                size: 32,
                z_dim: 32,
                width: 16,
                channels: 3,
                batch_norm_d: true,
                spectral_d: false,
            };
            c.batch_size = 32;
            c.lr_d = 5e-4;
            c.lr_g = 5e-4;
            c.iterations = 800;
            c.log_every = 20;
            c.sample_every = 200;
            c.checkpoint_every = 200;
            c.device = DeviceChoice::Cpu;
        }
        "shapes-dcgan32" => {
            c.data = DataConfig::Shapes { size: 32 };
            c.iterations = 20_000;
        }
        toy if toy.starts_with("toy-") => {
            let dataset = match &toy[4..] {
                "8gaussians" => Toy::EightGaussians,
                "25gaussians" => Toy::TwentyFiveGaussians,
                "ring" => Toy::Ring,
                "swissroll" => Toy::SwissRoll,
                _ => return Err(unknown(name)),
            };
            c.data = DataConfig::Toy { dataset };
            c.model = ModelSpec::Mlp {
                z_dim: 8,
                width: 256,
                layers: 4,
                spectral_d: false,
            };
            c.batch_size = 256;
            c.lr_d = 1e-3;
            c.lr_g = 1e-3;
            c.beta2 = 0.9;
            c.iterations = 3_000;
            c.log_every = 50;
            c.sample_every = 500;
            c.checkpoint_every = 1_000;
            c.device = DeviceChoice::Cpu;
        }
        "cifar10-standard-cnn" | "cifar10-standard-cnn-sn" => {
            c.model = ModelSpec::StandardCnn {
                z_dim: 128,
                channels: 3,
                width_scale: 1.0,
                spectral_d: name.ends_with("-sn"),
            };
            c.batch_size = 64;
        }
        cifar if cifar.starts_with("cifar10-") => {
            let parts: Vec<&str> = cifar["cifar10-".len()..].split('-').collect();
            let loss = match parts.first() {
                Some(&"hinge") => GanLoss::Hinge,
                Some(&"wgan") => GanLoss::Wgan,
                _ => return Err(unknown(name)),
            };
            c.loss = loss;
            c.penalty = match &parts[1..] {
                ["none"] => None,
                [norm, form @ ..] => {
                    let norm = crate::config::parse_norm(norm)
                        .ok()
                        .flatten()
                        .ok_or_else(|| unknown(name))?;
                    let form =
                        crate::config::parse_form(&form.join("-")).map_err(|_| unknown(name))?;
                    if !matches!(form, Form::Ls | Form::Hinge) {
                        return Err(unknown(name));
                    }
                    Some(paper_penalty(norm, form))
                }
                _ => return Err(unknown(name)),
            };
        }
        _ => return Err(unknown(name)),
    }
    c.validate()?;
    Ok(c)
}

fn unknown(name: &str) -> String {
    format!("unknown preset `{name}`; `margan presets` lists them (e.g. {DEFAULT}, toy-8gaussians, cifar10-hinge-linf-hinge)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_and_validates() {
        for n in names() {
            let c = preset(&n).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(
                RunConfig::from_toml(&c.to_toml(), "x").unwrap(),
                c,
                "{n} round trip"
            );
        }
        assert_eq!(
            names()
                .iter()
                .filter(|n| n.starts_with("cifar10-hinge-") || n.starts_with("cifar10-wgan-"))
                .count(),
            14
        );
        let p = preset("cifar10-wgan-l1-ls").unwrap();
        assert_eq!(p.loss, GanLoss::Wgan);
        assert_eq!(
            p.penalty,
            Some(GradientPenalty {
                norm: Norm::L1,
                form: Form::Ls,
                at: Where::Interpolates,
                weight: 20.0
            })
        );
        assert_eq!(
            (p.batch_size, p.iterations, p.lr_d, p.beta1, p.beta2),
            (32, 100_000, 2e-4, 0.5, 0.999)
        );
        assert_eq!(p.model, ModelSpec::dcgan32());
        assert!(preset("cifar10-hinge-none").unwrap().penalty.is_none());
        assert!(preset("nope").unwrap_err().contains("unknown preset"));
    }
}
