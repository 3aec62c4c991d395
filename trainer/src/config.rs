//! The run configuration (TOML), its validation and the command-line overrides.

use margan::gan::GanConfig;
use margan::model::ModelSpec;
use margan::toy::Toy;
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the real data comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataConfig {
    /// A 2-D toy distribution generated in code.
    Toy { dataset: Toy },
    /// Procedural coloured shapes (embedded, no download), `size`×`size` RGB.
    Shapes { size: usize },
    /// CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`) in `dir`.
    Cifar10 { dir: PathBuf },
    /// PNG/JPEG images in `dir` (recursively), resized to `size`×`size` RGB.
    Folder { dir: PathBuf, size: usize },
    /// MNIST IDX images (`train-images-idx3-ubyte`) in `dir`, padded/resized to `size`, 1 channel.
    Mnist { dir: PathBuf, size: usize },
}

/// The `--data` spelling (`shapes:32`, `toy:8gaussians`, `folder:DIR:64`, …); `parse_data`
/// reads it back.
impl std::fmt::Display for DataConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataConfig::Toy { dataset } => {
                let name = match dataset {
                    Toy::EightGaussians => "8gaussians",
                    Toy::TwentyFiveGaussians => "25gaussians",
                    Toy::Ring => "ring",
                    Toy::SwissRoll => "swissroll",
                };
                write!(f, "toy:{name}")
            }
            DataConfig::Shapes { size } => write!(f, "shapes:{size}"),
            DataConfig::Cifar10 { dir } => write!(f, "cifar10:{}", dir.display()),
            DataConfig::Folder { dir, size } => write!(f, "folder:{}:{size}", dir.display()),
            DataConfig::Mnist { dir, size } => write!(f, "mnist:{}:{size}", dir.display()),
        }
    }
}

/// Which backend runs the training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The flex CPU backend.
    Cpu,
    /// burn's wgpu backend (needs the `wgpu` feature).
    Wgpu,
    /// burn's ndarray CPU backend (needs the `ndarray` feature; for comparison, much slower).
    Ndarray,
    /// wgpu when built in and an adapter is found, else the CPU.
    Auto,
}

/// Everything a run needs; written resolved to `DIR/config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub loss: GanLoss,
    /// Absent: no gradient penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<GradientPenalty>,
    pub lr_d: f64,
    pub lr_g: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Critic updates per generator update.
    pub d_steps: usize,
    pub batch_size: usize,
    pub iterations: usize,
    pub seed: u64,
    pub device: DeviceChoice,
    /// Output folder of the run.
    pub out: PathBuf,
    /// Iterations between metrics lines.
    pub log_every: usize,
    /// Iterations between sample grids / scatter plots.
    pub sample_every: usize,
    /// Iterations between checkpoints.
    pub checkpoint_every: usize,
    pub data: DataConfig,
    pub model: ModelSpec,
}

fn err(field: &str, problem: impl Into<String>) -> String {
    format!("config `{field}`: {}", problem.into())
}

impl RunConfig {
    pub fn gan_config(&self) -> GanConfig {
        GanConfig {
            loss: self.loss,
            penalty: self.penalty.clone(),
            lr_d: self.lr_d,
            lr_g: self.lr_g,
            beta1: self.beta1,
            beta2: self.beta2,
            d_steps: self.d_steps,
            z_dim: self.model.z_dim(),
        }
    }

    /// Parses TOML; unknown keys and bad values give a message naming the key.
    pub fn from_toml(text: &str, what: &str) -> Result<RunConfig, String> {
        let c: RunConfig =
            toml::from_str(text).map_err(|e| format!("{what}: {}", e.to_string().trim()))?;
        c.validate()?;
        Ok(c)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a run config serialises")
    }

    /// Checks ranges and that the data fit the model.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate().map_err(|e| e.to_string())?;
        let positive = [
            ("batch_size", self.batch_size),
            ("d_steps", self.d_steps),
            ("iterations", self.iterations),
            ("log_every", self.log_every),
            ("sample_every", self.sample_every),
            ("checkpoint_every", self.checkpoint_every),
        ];
        for (k, v) in positive {
            if v == 0 {
                return Err(err(k, "must be at least 1"));
            }
        }
        for (k, v) in [("lr_d", self.lr_d), ("lr_g", self.lr_g)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(err(k, format!("must be a positive number, got {v}")));
            }
        }
        for (k, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(err(k, format!("must be in [0, 1), got {v}")));
            }
        }
        if let Some(p) = &self.penalty {
            if !(p.weight >= 0.0 && p.weight.is_finite()) {
                return Err(err(
                    "penalty.weight",
                    format!("must be ≥ 0, got {}", p.weight),
                ));
            }
        }
        if self.batch_size < 2
            && matches!(
                self.model,
                ModelSpec::Dcgan {
                    batch_norm_d: true,
                    ..
                } | ModelSpec::StandardCnn { .. }
            )
        {
            return Err(err("batch_size", "BatchNorm needs batches of at least 2"));
        }
        let [c, h, _] = self.model.sample_shape();
        let data_shape = match &self.data {
            DataConfig::Toy { .. } => [2, 1, 1],
            DataConfig::Shapes { size } | DataConfig::Folder { size, .. } => [3, *size, *size],
            DataConfig::Cifar10 { .. } => [3, 32, 32],
            DataConfig::Mnist { size, .. } => [1, *size, *size],
        };
        if data_shape != [c, h, h] {
            return Err(err("data", format!("the data are {data_shape:?} per sample but the model works on {:?}; pick a matching model (e.g. `channels`/`size`) or data `size`", [c, h, h])));
        }
        Ok(())
    }
}

/// Parses a penalty from the command-line words (`none` disables it).
pub fn parse_norm(s: &str) -> Result<Option<Norm>, String> {
    match s.to_ascii_lowercase().as_str() {
        "none" => Ok(None),
        "l1" => Ok(Some(Norm::L1)),
        "l2" => Ok(Some(Norm::L2)),
        "linf" | "l-inf" | "inf" => Ok(Some(Norm::Linf)),
        other => Err(format!(
            "unknown gradient norm `{other}`; expected none, l1, l2 or linf"
        )),
    }
}

pub fn parse_form(s: &str) -> Result<Form, String> {
    match s.to_ascii_lowercase().as_str() {
        "ls" => Ok(Form::Ls),
        "hinge" => Ok(Form::Hinge),
        "squared-hinge" | "hinge2" => Ok(Form::SquaredHinge),
        "zero-centered" | "zero" | "r1" => Ok(Form::ZeroCentered),
        other => Err(format!(
            "unknown penalty form `{other}`; expected ls, hinge, squared-hinge or zero-centered"
        )),
    }
}

pub fn parse_where(s: &str) -> Result<Where, String> {
    match s.to_ascii_lowercase().as_str() {
        "interpolates" | "wgan-gp" => Ok(Where::Interpolates),
        "real-perturbed" | "dragan" => Ok(Where::RealPerturbed),
        "real" | "r1" => Ok(Where::Real),
        "fake" | "r2" => Ok(Where::Fake),
        other => Err(format!("unknown penalty location `{other}`; expected interpolates, real-perturbed, real or fake")),
    }
}

/// Parses `--data`: `shapes[:SIZE]`, `toy:NAME`, `cifar10:DIR`, `folder:DIR[:SIZE]`, `mnist:DIR[:SIZE]`.
pub fn parse_data(s: &str) -> Result<DataConfig, String> {
    let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
    let size = |v: &str, default: usize| -> Result<usize, String> {
        if v.is_empty() {
            Ok(default)
        } else {
            v.parse()
                .map_err(|_| format!("bad image size `{v}` in --data {s}"))
        }
    };
    let dir_size = |rest: &str, default: usize| -> Result<(PathBuf, usize), String> {
        match rest.rsplit_once(':') {
            Some((d, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                Ok((PathBuf::from(d), size(n, default)?))
            }
            _ => Ok((PathBuf::from(rest), default)),
        }
    };
    match kind {
        "shapes" => Ok(DataConfig::Shapes { size: size(rest, 32)? }),
        "toy" => {
            let dataset = match rest {
                "8gaussians" | "8-gaussians" | "eight-gaussians" => Toy::EightGaussians,
                "25gaussians" | "25-gaussians" | "twenty-five-gaussians" => Toy::TwentyFiveGaussians,
                "ring" => Toy::Ring,
                "swissroll" | "swiss-roll" => Toy::SwissRoll,
                other => return Err(format!("unknown toy data set `{other}`; expected 8gaussians, 25gaussians, ring or swissroll")),
            };
            Ok(DataConfig::Toy { dataset })
        }
        "cifar10" if !rest.is_empty() => Ok(DataConfig::Cifar10 { dir: PathBuf::from(rest) }),
        "folder" if !rest.is_empty() => {
            let (dir, size) = dir_size(rest, 32)?;
            Ok(DataConfig::Folder { dir, size })
        }
        "mnist" if !rest.is_empty() => {
            let (dir, size) = dir_size(rest, 32)?;
            Ok(DataConfig::Mnist { dir, size })
        }
        _ => Err(format!("bad --data `{s}`; expected shapes[:SIZE], toy:NAME, cifar10:DIR, folder:DIR[:SIZE] or mnist:DIR[:SIZE]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_spelling_round_trips() {
        for s in [
            "shapes:32",
            "shapes:64",
            "toy:8gaussians",
            "toy:25gaussians",
            "toy:ring",
            "toy:swissroll",
            "cifar10:/data/cifar-10-batches-bin",
            "folder:imgs/cats:64",
            "mnist:mnist:28",
        ] {
            let d = parse_data(s).unwrap();
            assert_eq!(d.to_string(), s);
            assert_eq!(parse_data(&d.to_string()).unwrap(), d);
        }
    }
}
