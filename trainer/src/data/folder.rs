//! A folder of PNG/JPEG images (searched recursively), centre-cropped to a square and resized
//! to `size`×`size` RGB.

use super::ImageSet;
use std::path::{Path, PathBuf};

fn images_in(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: cannot list ({e}); expected a folder of PNG/JPEG images",
            dir.display()
        )
    })?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            images_in(&p, out)?;
        } else if matches!(
            p.extension()
                .and_then(|e| e.to_str())
                .map(|e| e.to_ascii_lowercase())
                .as_deref(),
            Some("png" | "jpg" | "jpeg")
        ) {
            out.push(p);
        }
    }
    Ok(())
}

pub fn load(dir: &Path, size: usize) -> Result<ImageSet, String> {
    let mut files = Vec::new();
    images_in(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: no .png/.jpg/.jpeg files; expected a folder of images",
            dir.display()
        ));
    }
    let mut pixels = Vec::with_capacity(files.len() * 3 * size * size);
    for f in &files {
        let img = image::open(f)
            .map_err(|e| {
                format!(
                    "{}: cannot decode ({e}); expected a PNG or JPEG image",
                    f.display()
                )
            })?
            .to_rgb8();
        let (w, h) = img.dimensions();
        let s = w.min(h);
        let crop = image::imageops::crop_imm(&img, (w - s) / 2, (h - s) / 2, s, s).to_image();
        let small = image::imageops::resize(
            &crop,
            size as u32,
            size as u32,
            image::imageops::FilterType::Triangle,
        );
        for c in 0..3 {
            pixels.extend(small.pixels().map(|p| p.0[c]));
        }
    }
    Ok(ImageSet {
        pixels,
        shape: [3, size, size],
    })
}

/// A `rows×cols` image of `channels` planes placed on a `size`×`size` canvas: centred with
/// zero padding when it fits, nearest-neighbour resized otherwise.
pub fn place(img: &[u8], channels: usize, rows: usize, cols: usize, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; channels * size * size];
    for c in 0..channels {
        for y in 0..size {
            for x in 0..size {
                let (sy, sx) = if rows <= size && cols <= size {
                    let (oy, ox) = ((size - rows) / 2, (size - cols) / 2);
                    if y < oy || y >= oy + rows || x < ox || x >= ox + cols {
                        continue;
                    }
                    (y - oy, x - ox)
                } else {
                    (y * rows / size, x * cols / size)
                };
                out[c * size * size + y * size + x] = img[c * rows * cols + sy * cols + sx];
            }
        }
    }
    out
}
