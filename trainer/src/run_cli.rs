//! `margan sample` and `margan export`: what is done with a finished (or checkpointed) run. Both
//! read the networks only (`checkpoint::load`), on the CPU.

use crate::{checkpoint, plot};
use margan::rng::Rng;
use std::path::{Path, PathBuf};

/// Writes a square grid of `n` samples from the run's generator (latents from `seed`) to `out`,
/// by default `RUN/sample.png`.
pub fn sample(run: &Path, n: usize, seed: u64, out: Option<PathBuf>) -> Result<(), String> {
    let (cfg, gan) = checkpoint::load(run, &margan::device::cpu())?;
    let [c, h, _] = cfg.model.sample_shape();
    if h == 1 {
        return Err(
            "`margan sample` draws image grids; 2-D runs have their scatter plot in RUN/samples.png"
                .to_string(),
        );
    }
    let z = Rng::new(seed).normal_tensor([n, cfg.model.z_dim(), 1, 1], 0.0, 1.0, &gan.device);
    let imgs = margan::device::to_vec(gan.generate(z));
    let out = out.unwrap_or_else(|| run.join("sample.png"));
    plot::save(
        &plot::image_grid(&imgs, c, h, (n as f64).sqrt().ceil() as usize),
        &out,
    )?;
    println!("{}", out.display());
    Ok(())
}

/// Writes the run's generator as a file for the browser app's sampler.
pub fn export(run: &Path, out: &Path) -> Result<(), String> {
    let (cfg, gan) = checkpoint::load(run, &margan::device::cpu())?;
    if cfg.model.sample_shape()[1] == 1 {
        return Err(format!(
            "{}: a 2-D run; the browser's sampler shows image generators (the playground trains \
             2-D ones live), so there is nothing to export",
            run.display()
        ));
    }
    let info = checkpoint::export(&cfg, &gan, out)?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} ({} bytes, iteration {}, model {:?})",
        out.display(),
        size,
        info.iteration,
        info.model
    );
    Ok(())
}
