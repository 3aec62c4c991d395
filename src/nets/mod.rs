//! The paper's networks, as lists of kit layers.

mod dcgan;
mod mlp;
mod standard_cnn;

pub use dcgan::{DcganConfig, DcganSize};
pub use mlp::MlpConfig;
pub use standard_cnn::StandardCnnConfig;
