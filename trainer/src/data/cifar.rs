//! CIFAR-10 binary version: `data_batch_{1..5}.bin`, each 10 000 records of 1 label byte +
//! 3072 pixel bytes (R, G, B planes of 32×32).

use super::{read, ImageSet};
use std::path::Path;

const RECORD: usize = 1 + 3 * 32 * 32;

/// Loads every `data_batch_*.bin` in `dir`.
pub fn load(dir: &Path) -> Result<ImageSet, String> {
    if !dir.is_dir() {
        return Err(format!(
            "{}: not a folder; expected the CIFAR-10 binary folder with data_batch_1.bin … data_batch_5.bin (from cifar-10-binary.tar.gz)",
            dir.display()
        ));
    }
    let mut pixels = Vec::new();
    let mut found = 0;
    for i in 1..=5 {
        let path = dir.join(format!("data_batch_{i}.bin"));
        if !path.exists() {
            continue;
        }
        let bytes = read(&path, "a CIFAR-10 binary batch")?;
        parse(&bytes, &path, &mut pixels)?;
        found += 1;
    }
    if found == 0 {
        return Err(format!("{}: no data_batch_*.bin files; expected the CIFAR-10 binary version (cifar-10-binary.tar.gz)", dir.display()));
    }
    Ok(ImageSet {
        pixels,
        shape: [3, 32, 32],
    })
}

/// Appends the images of one batch file.
pub fn parse(bytes: &[u8], path: &Path, pixels: &mut Vec<u8>) -> Result<(), String> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(format!(
            "{}: {} bytes is not a whole number of CIFAR-10 records ({RECORD} bytes each: 1 label + 3072 pixels); the file is truncated or not CIFAR-10",
            path.display(),
            bytes.len()
        ));
    }
    for rec in bytes.chunks(RECORD) {
        if rec[0] > 9 {
            return Err(format!(
                "{}: label {} out of 0..=9; not a CIFAR-10 binary batch",
                path.display(),
                rec[0]
            ));
        }
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(())
}
