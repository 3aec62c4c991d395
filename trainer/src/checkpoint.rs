//! Checkpoints (generator, critic, both Adam states, RNG, iteration) and exported generators,
//! written atomically: a temporary file is written and synced, then renamed over the old one.

use crate::config::RunConfig;
use margan::gan::Gan;
use margan::model::{network_from_bytes, network_to_bytes};
use margan::pack::Pack;
use margan::rng::Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const CHECKPOINT: &str = "checkpoint.bin";

#[derive(Serialize, Deserialize)]
struct State {
    iteration: usize,
    rng: Rng,
}

pub use margan::export::ExportInfo;

pub fn path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT)
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let io = |e: std::io::Error, p: &Path| format!("{}: cannot write ({e})", p.display());
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(e, &tmp))?;
        f.write_all(bytes).map_err(|e| io(e, &tmp))?;
        f.sync_all().map_err(|e| io(e, &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io(e, path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn e2s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Saves the run's state to `DIR/checkpoint.bin`.
pub fn save(config: &RunConfig, gan: &Gan) -> Result<(), String> {
    let mut pack = Pack::new();
    pack.add("config.toml", config.to_toml().into_bytes());
    let state = State {
        iteration: gan.iteration,
        rng: gan.rng.clone(),
    };
    pack.add("state.json", serde_json::to_vec(&state).map_err(e2s)?);
    pack.add("g", network_to_bytes(&gan.g).map_err(e2s)?);
    pack.add("d", network_to_bytes(&gan.d).map_err(e2s)?);
    pack.add(
        "opt_g",
        gan.opt_g
            .into_bytes()
            .map_err(|e| format!("optimiser state: {e:?}"))?
            .to_vec(),
    );
    pack.add(
        "opt_d",
        gan.opt_d
            .into_bytes()
            .map_err(|e| format!("optimiser state: {e:?}"))?
            .to_vec(),
    );
    write_atomic(&path(&config.out), &pack.to_bytes())
}

/// Reads a pack file with errors that name it.
pub fn read_pack(file: &Path) -> Result<Pack, String> {
    let bytes =
        std::fs::read(file).map_err(|e| format!("{}: cannot read ({e})", file.display()))?;
    Pack::from_bytes(&bytes, &file.display().to_string()).map_err(e2s)
}

/// Loads the networks of the run in `dir` onto `device`, rebuilt from its config, for sampling
/// and export. The optimisers' states are not read: their `Gan` fields are fresh. (burn puts a
/// loaded optimiser state on its default device, which in a GPU build starts the GPU; and a
/// damaged state then does not stand in the way of the generator.)
pub fn load(dir: &Path, device: &burn::tensor::Device) -> Result<(RunConfig, Gan), String> {
    load_with(dir, |_| Ok(device.clone()), false)
}

/// The whole checkpoint, optimiser states included, onto the device `choose` picks from the
/// run's saved config (e.g. its `device`): what `--resume` continues from.
pub fn load_on(
    dir: &Path,
    choose: impl FnOnce(&RunConfig) -> Result<burn::tensor::Device, String>,
) -> Result<(RunConfig, Gan), String> {
    load_with(dir, choose, true)
}

fn load_with(
    dir: &Path,
    choose: impl FnOnce(&RunConfig) -> Result<burn::tensor::Device, String>,
    optimisers: bool,
) -> Result<(RunConfig, Gan), String> {
    let file = path(dir);
    if !file.exists() {
        return Err(format!(
            "{}: no checkpoint; expected a run folder written by `margan train`",
            file.display()
        ));
    }
    let what = file.display().to_string();
    let pack = read_pack(&file)?;
    let text = String::from_utf8(pack.require("config.toml", &what).map_err(e2s)?.to_vec())
        .map_err(|_| format!("{what}: config is not UTF-8"))?;
    let mut config = RunConfig::from_toml(&text, &what)?;
    config.out = dir.to_path_buf();
    let state: State = serde_json::from_slice(pack.require("state.json", &what).map_err(e2s)?)
        .map_err(|e| format!("{what}: bad state ({e})"))?;
    let device = &choose(&config)?;
    let mut init_rng = Rng::new(0);
    let g = network_from_bytes(
        config.model.init_generator(device, &mut init_rng),
        pack.require("g", &what).map_err(e2s)?,
        &format!("{what} (generator)"),
    )
    .map_err(e2s)?;
    let d = network_from_bytes(
        config.model.init_discriminator(device, &mut init_rng),
        pack.require("d", &what).map_err(e2s)?,
        &format!("{what} (critic)"),
    )
    .map_err(e2s)?;
    let mut gan = Gan::new(g, d, config.gan_config(), state.rng, device.clone());
    gan.iteration = state.iteration;
    if !optimisers {
        return Ok((config, gan));
    }
    let opt = |name: &str, o: burn::optim::ModuleOptimizer| {
        let bytes = pack.require(name, &what).map_err(e2s)?;
        o.from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|e| format!("{what}: optimiser state `{name}` is corrupt ({e:?})"))
    };
    gan.opt_g = opt("opt_g", gan.opt_g)?;
    gan.opt_d = opt("opt_d", gan.opt_d)?;
    Ok((config, gan))
}

/// Writes the generator and what the browser app needs to rebuild it.
pub fn export(config: &RunConfig, gan: &Gan, out: &Path) -> Result<ExportInfo, String> {
    let info = ExportInfo {
        format: margan::export::FORMAT.into(),
        version: margan::export::VERSION,
        model: config.model.clone(),
        iteration: gan.iteration,
        loss: config.loss,
        penalty: config.penalty.clone(),
        data: config.data.to_string(),
    };
    let bytes = margan::export::to_bytes(&info, &gan.g).map_err(e2s)?;
    write_atomic(out, &bytes)?;
    Ok(info)
}
