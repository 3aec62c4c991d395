//! MNIST IDX images (`train-images-idx3-ubyte`, optionally gzip-free as distributed after
//! `gunzip`), centred on a `size`×`size` canvas (padded or nearest-resized), 1 channel.

use super::{read, ImageSet};
use std::path::Path;

pub fn load(dir: &Path, size: usize) -> Result<ImageSet, String> {
    let path = ["train-images-idx3-ubyte", "train-images.idx3-ubyte"].iter().map(|n| dir.join(n)).find(|p| p.exists()).ok_or_else(|| {
        format!("{}: no train-images-idx3-ubyte; expected the (gunzipped) MNIST IDX image file in this folder", dir.display())
    })?;
    let bytes = read(&path, "an MNIST IDX image file")?;
    parse(&bytes, &path, size)
}

pub fn parse(bytes: &[u8], path: &Path, size: usize) -> Result<ImageSet, String> {
    let bad = |m: String| format!("{}: {m}", path.display());
    if bytes.len() < 16 || bytes[..4] != [0, 0, 8, 3] {
        return Err(bad(
            "not an IDX3 unsigned-byte file (magic 0x00000803 expected)".into(),
        ));
    }
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let (n, rows, cols) = (be(4), be(8), be(12));
    let need = 16 + n * rows * cols;
    if bytes.len() != need {
        return Err(bad(format!("header says {n} images of {rows}×{cols} ({need} bytes) but the file has {} bytes; truncated?", bytes.len())));
    }
    if n == 0 {
        return Err(bad("no images".into()));
    }
    let mut pixels = Vec::with_capacity(n * size * size);
    for i in 0..n {
        let img = &bytes[16 + i * rows * cols..16 + (i + 1) * rows * cols];
        pixels.extend(super::folder::place(img, 1, rows, cols, size));
    }
    Ok(ImageSet {
        pixels,
        shape: [1, size, size],
    })
}
