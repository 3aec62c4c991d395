//! Which networks a run uses, as a serialisable spec (so a checkpoint or an exported file can
//! rebuild them before loading weights).

use crate::error::MarganError;
use crate::layers::Network;
use crate::nets::{DcganConfig, DcganSize, MlpConfig, StandardCnnConfig};
use crate::rng::Rng;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

/// The generator/critic architecture of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelSpec {
    /// 4-layer ReLU MLPs for 2-D data.
    Mlp {
        z_dim: usize,
        width: usize,
        layers: usize,
        spectral_d: bool,
    },
    /// DCGAN for `size`×`size` images (32 or 64).
    Dcgan {
        size: usize,
        z_dim: usize,
        width: usize,
        channels: usize,
        batch_norm_d: bool,
        spectral_d: bool,
    },
    /// The standard CNN of Miyato et al. for 32×32 images.
    StandardCnn {
        z_dim: usize,
        channels: usize,
        width_scale: f64,
        spectral_d: bool,
    },
}

impl ModelSpec {
    /// The paper's DCGAN-32.
    pub fn dcgan32() -> Self {
        ModelSpec::Dcgan {
            size: 32,
            z_dim: 128,
            width: 128,
            channels: 3,
            batch_norm_d: true,
            spectral_d: false,
        }
    }

    /// The paper's 2-D MLPs (width 512).
    pub fn mlp() -> Self {
        ModelSpec::Mlp {
            z_dim: 2,
            width: 512,
            layers: 4,
            spectral_d: false,
        }
    }

    pub fn z_dim(&self) -> usize {
        match self {
            ModelSpec::Mlp { z_dim, .. }
            | ModelSpec::Dcgan { z_dim, .. }
            | ModelSpec::StandardCnn { z_dim, .. } => *z_dim,
        }
    }

    /// Per-sample shape of the data `[C, H, W]` (`[2, 1, 1]` for points).
    pub fn sample_shape(&self) -> [usize; 3] {
        match self {
            ModelSpec::Mlp { .. } => [2, 1, 1],
            ModelSpec::Dcgan { size, channels, .. } => [*channels, *size, *size],
            ModelSpec::StandardCnn { channels, .. } => [*channels, 32, 32],
        }
    }

    /// Checks the values; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), MarganError> {
        let bad = |field: &str, problem: String| {
            Err(MarganError::Config {
                field: field.into(),
                problem,
            })
        };
        match self {
            ModelSpec::Dcgan { size, .. } if *size != 32 && *size != 64 => bad(
                "model.size",
                format!("DCGAN size must be 32 or 64, got {size}"),
            ),
            ModelSpec::Mlp { layers: 0, .. } => {
                bad("model.layers", "an MLP needs at least 1 layer".into())
            }
            ModelSpec::StandardCnn { width_scale, .. }
                if !width_scale.is_finite() || *width_scale <= 0.0 =>
            {
                bad(
                    "model.width_scale",
                    format!("must be a finite number > 0, got {width_scale}"),
                )
            }
            _ if self.z_dim() == 0 => bad("model.z_dim", "must be at least 1".into()),
            ModelSpec::Dcgan { width: 0, .. } | ModelSpec::Mlp { width: 0, .. } => {
                bad("model.width", "must be at least 1".into())
            }
            _ => Ok(()),
        }
    }

    fn dcgan(&self) -> Option<DcganConfig> {
        match self {
            ModelSpec::Dcgan {
                size,
                z_dim,
                width,
                channels,
                batch_norm_d,
                spectral_d,
            } => Some(
                DcganConfig::new()
                    .with_size(if *size == 64 {
                        DcganSize::S64
                    } else {
                        DcganSize::S32
                    })
                    .with_z_dim(*z_dim)
                    .with_width(*width)
                    .with_channels(*channels)
                    .with_batch_norm_d(*batch_norm_d)
                    .with_spectral_d(*spectral_d),
            ),
            _ => None,
        }
    }

    fn standard(&self) -> Option<StandardCnnConfig> {
        match self {
            ModelSpec::StandardCnn {
                z_dim,
                channels,
                width_scale,
                spectral_d,
            } => Some(
                StandardCnnConfig::new()
                    .with_z_dim(*z_dim)
                    .with_channels(*channels)
                    .with_width_scale(*width_scale)
                    .with_spectral_d(*spectral_d),
            ),
            _ => None,
        }
    }

    pub fn init_generator(&self, device: &Device, rng: &mut Rng) -> Network {
        match self {
            ModelSpec::Mlp {
                z_dim,
                width,
                layers,
                ..
            } => MlpConfig::new(*z_dim, 2)
                .with_width(*width)
                .with_layers(*layers)
                .init(device, rng),
            ModelSpec::Dcgan { .. } => self.dcgan().unwrap().init_generator(device, rng),
            ModelSpec::StandardCnn { .. } => self.standard().unwrap().init_generator(device, rng),
        }
    }

    pub fn init_discriminator(&self, device: &Device, rng: &mut Rng) -> Network {
        match self {
            ModelSpec::Mlp {
                width,
                layers,
                spectral_d,
                ..
            } => MlpConfig::new(2, 1)
                .with_width(*width)
                .with_layers(*layers)
                .with_spectral(*spectral_d)
                .init(device, rng),
            ModelSpec::Dcgan { .. } => self.dcgan().unwrap().init_discriminator(device, rng),
            ModelSpec::StandardCnn { .. } => {
                self.standard().unwrap().init_discriminator(device, rng)
            }
        }
    }
}

/// A network's weights (and running statistics, spectral-norm estimates) as bytes.
pub fn network_to_bytes(net: &Network) -> Result<Vec<u8>, MarganError> {
    let bytes = net
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| MarganError::Corrupt {
            what: "network".into(),
            problem: format!("cannot serialise: {e:?}"),
        })?;
    Ok(bytes.to_vec())
}

/// Loads weights saved by [`network_to_bytes`] into a network of the same architecture.
pub fn network_from_bytes(net: Network, bytes: &[u8], what: &str) -> Result<Network, MarganError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        MarganError::Corrupt {
            what: what.into(),
            problem: format!("not a weights record ({e:?})"),
        }
    })?;
    net.try_load_record(record)
        .map_err(|e| MarganError::Corrupt { what: what.into(), problem: format!("weights do not fit the configured network ({e:?}); was it saved with another model config?") })
}
