//! Exported generators: what `margan export` writes and the browser app loads. A `MARGANPK`
//! pack with `export.json` (an [`ExportInfo`]) and `g` (the generator's weights).

use crate::error::MarganError;
use crate::layers::Network;
use crate::losses::GanLoss;
use crate::model::{network_from_bytes, network_to_bytes, ModelSpec};
use crate::pack::Pack;
use crate::penalty::GradientPenalty;
use crate::rng::Rng;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// `format` of an exported generator.
pub const FORMAT: &str = "margan-generator";
/// Newest `version` this library reads and the one it writes.
pub const VERSION: u32 = 1;

/// What an exported generator carries besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportInfo {
    pub format: String,
    pub version: u32,
    pub model: ModelSpec,
    /// Training iterations behind the weights.
    pub iteration: usize,
    pub loss: GanLoss,
    pub penalty: Option<GradientPenalty>,
    /// The training data, as the run's config described it.
    pub data: String,
}

/// The pack bytes of an exported generator.
pub fn to_bytes(info: &ExportInfo, g: &Network) -> Result<Vec<u8>, MarganError> {
    let json = serde_json::to_vec_pretty(info).map_err(|e| MarganError::Corrupt {
        what: "export info".into(),
        problem: format!("cannot serialise: {e}"),
    })?;
    let mut pack = Pack::new();
    pack.add("export.json", json);
    pack.add("g", network_to_bytes(g)?);
    Ok(pack.to_bytes())
}

/// Reads an exported generator; `what` names the file in errors (a path or URL).
pub fn load(
    bytes: &[u8],
    what: &str,
    device: &Device,
) -> Result<(ExportInfo, Network), MarganError> {
    let pack = Pack::from_bytes(bytes, what)?;
    let corrupt = |problem: String| MarganError::Corrupt {
        what: what.into(),
        problem,
    };
    let info: ExportInfo =
        serde_json::from_slice(pack.require("export.json", what)?).map_err(|e| {
            corrupt(format!(
                "export.json is not valid ({e}); re-export the run with `margan export`"
            ))
        })?;
    if info.format != FORMAT {
        return Err(corrupt(format!(
            "format `{}` is not an exported generator (`{FORMAT}`)",
            info.format
        )));
    }
    if info.version > VERSION {
        return Err(corrupt(format!(
            "export version {} is newer than this margan reads ({VERSION}); update margan",
            info.version
        )));
    }
    info.model.validate()?;
    // The architecture comes from the config; the weights must fit it exactly.
    let g = info.model.init_generator(device, &mut Rng::new(0));
    let g = network_from_bytes(g, pack.require("g", what)?, what)?;
    Ok((info, g))
}
