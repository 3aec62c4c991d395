//! The 4-layer ReLU MLP of the paper's 2-D experiments (generator and critic/classifier).

use crate::layers::{LayerKind, LinearConfig, Network, Relu};
use crate::rng::Rng;
use burn::config::Config;
use burn::tensor::Device;

/// A ReLU MLP with `layers` linear layers (`layers − 1` hidden layers of `width` units).
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input size (2 for the critic of 2-D data; the latent size for a generator).
    pub d_input: usize,
    /// Output size (1 for a critic; 2 for a generator of 2-D points).
    pub d_output: usize,
    /// Hidden width.
    #[config(default = 512)]
    pub width: usize,
    /// Number of linear layers.
    #[config(default = 4)]
    pub layers: usize,
    /// Spectral normalisation of every weight.
    #[config(default = false)]
    pub spectral: bool,
}

impl MlpConfig {
    pub fn init(&self, device: &Device, rng: &mut Rng) -> Network {
        assert!(self.layers >= 1, "an MLP needs at least one layer");
        let mut layers = Vec::new();
        let mut d = self.d_input;
        for i in 0..self.layers {
            let out = if i + 1 == self.layers {
                self.d_output
            } else {
                self.width
            };
            layers.push(LayerKind::Linear(
                LinearConfig::new(d, out)
                    .with_spectral(self.spectral)
                    .init(device, rng),
            ));
            if i + 1 < self.layers {
                layers.push(LayerKind::Relu(Relu));
            }
            d = out;
        }
        Network::new(layers)
    }
}
