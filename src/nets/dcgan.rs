//! DCGAN generator and discriminator for 32×32 and 64×64 images, as in the paper's code:
//! transposed convolutions 4×4 without bias, BatchNorm + ReLU in G, LeakyReLU(0.2) in D with
//! BatchNorm after every middle convolution, weights `N(0, 0.02)`, BatchNorm `γ ~ N(1, 0.02)`.
//!
//! DCGAN-32 (z = 128, width = 128): G 128→512→256→128→3, D 3→128→256→512→1.

use crate::layers::{
    BatchNormConfig, Conv2dConfig, ConvTranspose2dConfig, LayerKind, LeakyRelu, Network, Relu, Tanh,
};
use crate::rng::Rng;
use burn::config::Config;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Image size of a DCGAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DcganSize {
    S32,
    S64,
}

/// Configuration of the DCGAN pair.
#[derive(Config, Debug)]
pub struct DcganConfig {
    /// Image size (32 or 64).
    #[config(default = "DcganSize::S32")]
    pub size: DcganSize,
    /// Latent size.
    #[config(default = 128)]
    pub z_dim: usize,
    /// Base width (`G_h_size` / `D_h_size` of the paper's code).
    #[config(default = 128)]
    pub width: usize,
    /// Image channels.
    #[config(default = 3)]
    pub channels: usize,
    /// BatchNorm in the discriminator.
    #[config(default = true)]
    pub batch_norm_d: bool,
    /// Spectral normalisation of the discriminator's convolutions (replaces its BatchNorm).
    #[config(default = false)]
    pub spectral_d: bool,
    /// LeakyReLU slope of the discriminator.
    #[config(default = 0.2)]
    pub slope: f64,
}

const STD: f64 = 0.02;

impl DcganConfig {
    /// `mult` of the paper's code: image size / 8.
    fn mult(&self) -> usize {
        match self.size {
            DcganSize::S32 => 4,
            DcganSize::S64 => 8,
        }
    }

    /// Image side in pixels.
    pub fn image_size(&self) -> usize {
        self.mult() * 8
    }

    /// Generator: `[N, z, 1, 1]` → `[N, channels, size, size]` in `[-1, 1]`.
    pub fn init_generator(&self, device: &Device, rng: &mut Rng) -> Network {
        let bn = |c: usize, rng: &mut Rng| {
            LayerKind::BatchNorm(
                BatchNormConfig::new(c)
                    .with_init_std(Some(STD))
                    .init(device, rng),
            )
        };
        let convt = |i: usize, o: usize, s: usize, p: usize, rng: &mut Rng| {
            LayerKind::ConvTranspose2d(
                ConvTranspose2dConfig::new(i, o, 4)
                    .with_stride(s)
                    .with_padding(p)
                    .with_bias(false)
                    .with_init_std(Some(STD))
                    .init(device, rng),
            )
        };
        let mut mult = self.mult();
        let mut layers = vec![
            convt(self.z_dim, self.width * mult, 1, 0, rng),
            bn(self.width * mult, rng),
            LayerKind::Relu(Relu),
        ];
        while mult > 1 {
            layers.push(convt(self.width * mult, self.width * mult / 2, 2, 1, rng));
            layers.push(bn(self.width * mult / 2, rng));
            layers.push(LayerKind::Relu(Relu));
            mult /= 2;
        }
        layers.push(convt(self.width, self.channels, 2, 1, rng));
        layers.push(LayerKind::Tanh(Tanh));
        Network::new(layers)
    }

    /// Discriminator: `[N, channels, size, size]` → `[N, 1, 1, 1]` logits.
    pub fn init_discriminator(&self, device: &Device, rng: &mut Rng) -> Network {
        let conv = |i: usize, o: usize, s: usize, p: usize, rng: &mut Rng| {
            LayerKind::Conv2d(
                Conv2dConfig::new(i, o, 4)
                    .with_stride(s)
                    .with_padding(p)
                    .with_bias(false)
                    .with_init_std(Some(STD))
                    .with_spectral(self.spectral_d)
                    .init(device, rng),
            )
        };
        let act = || LayerKind::LeakyRelu(LeakyRelu::new(self.slope));
        let mut layers = vec![conv(self.channels, self.width, 2, 1, rng), act()];
        let mut size = self.image_size() / 2;
        let mut mult = 1;
        while size > 4 {
            layers.push(conv(self.width * mult, self.width * mult * 2, 2, 1, rng));
            if self.batch_norm_d && !self.spectral_d {
                layers.push(LayerKind::BatchNorm(
                    BatchNormConfig::new(self.width * mult * 2)
                        .with_init_std(Some(STD))
                        .init(device, rng),
                ));
            }
            layers.push(act());
            size /= 2;
            mult *= 2;
        }
        layers.push(conv(self.width * mult, 1, 1, 0, rng));
        Network::new(layers)
    }
}
