//! The "standard CNN" of Miyato et al. (2018) for 32×32 images, as in the paper's code.
//!
//! G: z → Linear(4·4·512) → [BN, ReLU] → 3 × (ConvT 4×4 s2 + BN + ReLU: 512→256→128→64)
//! → Conv 3×3 → Tanh. D: Conv 3×3 / 4×4-s2 pairs 3→64→64→128→128→256→256→512 with
//! LeakyReLU(0.1), then Linear(4·4·512 → 1). Optional spectral norm in D.

use crate::layers::{
    BatchNormConfig, Conv2dConfig, ConvTranspose2dConfig, LayerKind, LeakyRelu, LinearConfig,
    Network, Relu, Reshape, Tanh,
};
use crate::rng::Rng;
use burn::config::Config;
use burn::tensor::Device;

/// Configuration of the standard CNN pair.
#[derive(Config, Debug)]
pub struct StandardCnnConfig {
    /// Latent size.
    #[config(default = 128)]
    pub z_dim: usize,
    /// Image channels.
    #[config(default = 3)]
    pub channels: usize,
    /// Width multiplier: 1.0 gives the published 64…512 channels.
    #[config(default = 1.0)]
    pub width_scale: f64,
    /// Spectral normalisation of every weight of the discriminator.
    #[config(default = false)]
    pub spectral_d: bool,
    /// LeakyReLU slope of the discriminator.
    #[config(default = 0.1)]
    pub slope: f64,
}

impl StandardCnnConfig {
    fn w(&self, c: usize) -> usize {
        ((c as f64 * self.width_scale).round() as usize).max(1)
    }

    /// Generator: `[N, z, 1, 1]` → `[N, channels, 32, 32]`.
    pub fn init_generator(&self, device: &Device, rng: &mut Rng) -> Network {
        let top = self.w(512);
        let mut layers = vec![
            LayerKind::Linear(LinearConfig::new(self.z_dim, 4 * 4 * top).init(device, rng)),
            LayerKind::Reshape(Reshape::new([top, 4, 4])),
            LayerKind::BatchNorm(BatchNormConfig::new(top).init(device, rng)),
            LayerKind::Relu(Relu),
        ];
        let chans = [top, self.w(256), self.w(128), self.w(64)];
        for pair in chans.windows(2) {
            layers.push(LayerKind::ConvTranspose2d(
                ConvTranspose2dConfig::new(pair[0], pair[1], 4)
                    .with_stride(2)
                    .with_padding(1)
                    .init(device, rng),
            ));
            layers.push(LayerKind::BatchNorm(
                BatchNormConfig::new(pair[1]).init(device, rng),
            ));
            layers.push(LayerKind::Relu(Relu));
        }
        layers.push(LayerKind::Conv2d(
            Conv2dConfig::new(chans[3], self.channels, 3)
                .with_padding(1)
                .init(device, rng),
        ));
        layers.push(LayerKind::Tanh(Tanh));
        Network::new(layers)
    }

    /// Discriminator: `[N, channels, 32, 32]` → `[N, 1, 1, 1]` logits.
    pub fn init_discriminator(&self, device: &Device, rng: &mut Rng) -> Network {
        let sn = self.spectral_d;
        let spec = [
            (self.channels, self.w(64), 3, 1, 1),
            (self.w(64), self.w(64), 4, 2, 1),
            (self.w(64), self.w(128), 3, 1, 1),
            (self.w(128), self.w(128), 4, 2, 1),
            (self.w(128), self.w(256), 3, 1, 1),
            (self.w(256), self.w(256), 4, 2, 1),
            (self.w(256), self.w(512), 3, 1, 1),
        ];
        let mut layers = Vec::new();
        for (i, o, k, s, p) in spec {
            layers.push(LayerKind::Conv2d(
                Conv2dConfig::new(i, o, k)
                    .with_stride(s)
                    .with_padding(p)
                    .with_spectral(sn)
                    .init(device, rng),
            ));
            layers.push(LayerKind::LeakyRelu(LeakyRelu::new(self.slope)));
        }
        layers.push(LayerKind::Reshape(Reshape::flatten()));
        layers.push(LayerKind::Linear(
            LinearConfig::new(4 * 4 * self.w(512), 1)
                .with_spectral(sn)
                .init(device, rng),
        ));
        Network::new(layers)
    }
}
