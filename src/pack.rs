//! A small container of named byte sections: checkpoints and exported generators.
//!
//! Layout: magic `MARGANPK`, `u32` format version, `u32` section count, then per section a
//! `u32` name length, the UTF-8 name, a `u64` length and the bytes (little endian).

use crate::error::MarganError;

const MAGIC: &[u8; 8] = b"MARGANPK";
const VERSION: u32 = 1;

/// Named sections in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pack {
    pub sections: Vec<(String, Vec<u8>)>,
}

impl Pack {
    pub fn new() -> Self {
        Pack::default()
    }

    pub fn add(&mut self, name: &str, bytes: Vec<u8>) {
        self.sections.push((name.to_string(), bytes));
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    /// The section `name`, or an error naming the file and the missing section.
    pub fn require(&self, name: &str, what: &str) -> Result<&[u8], MarganError> {
        self.get(name).ok_or_else(|| MarganError::Corrupt {
            what: what.into(),
            problem: format!("section `{name}` is missing"),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.sections.len() as u32).to_le_bytes());
        for (name, bytes) in &self.sections {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Parses a pack; `what` names the file in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Pack, MarganError> {
        let err = |problem: String| MarganError::Corrupt {
            what: what.into(),
            problem,
        };
        let mut r = Reader { bytes, pos: 0 };
        if r.take(8).ok() != Some(MAGIC.as_slice()) {
            return Err(err("not a margan file (bad magic); expected a checkpoint or an export written by `margan`".into()));
        }
        let truncated = |_| err("truncated file".into());
        let version = r.u32().map_err(truncated)?;
        if version != VERSION {
            // Versions only grow one at a time; a huge number is damage, not the future.
            return Err(err(if version > VERSION && version < 1000 {
                format!("format version {version} is newer than this margan reads ({VERSION}); update margan")
            } else {
                format!("damaged header (format version {version}); the file is corrupt or not a margan file — write it again or download it again")
            }));
        }
        let count = r.u32().map_err(truncated)?;
        let mut pack = Pack::new();
        for _ in 0..count {
            let n = r.u32().map_err(truncated)? as usize;
            let name = std::str::from_utf8(r.take(n).map_err(truncated)?)
                .map_err(|_| err("section name is not UTF-8".into()))?
                .to_string();
            let len = r.u64().map_err(truncated)? as usize;
            let data = r.take(len).map_err(|_| {
                err(format!(
                    "truncated file: section `{name}` needs {len} bytes"
                ))
            })?;
            pack.add(&name, data.to_vec());
        }
        if r.pos != bytes.len() {
            return Err(err(format!(
                "{} unexpected bytes after the last section",
                bytes.len() - r.pos
            )));
        }
        Ok(pack)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ()> {
        let end = self.pos.checked_add(n).ok_or(())?;
        let s = self.bytes.get(self.pos..end).ok_or(())?;
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ()> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, ()> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_errors() {
        let mut p = Pack::new();
        p.add("a", vec![1, 2, 3]);
        p.add("empty", vec![]);
        let bytes = p.to_bytes();
        assert_eq!(Pack::from_bytes(&bytes, "f").unwrap(), p);
        for cut in [0, 5, 12, 20, bytes.len() - 1] {
            let e = Pack::from_bytes(&bytes[..cut], "ckpt.bin")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("ckpt.bin") && (e.contains("truncated") || e.contains("magic")),
                "{e}"
            );
        }
        let e = Pack::from_bytes(b"hello world, not a pack", "x.png")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad magic"), "{e}");
        // A damaged version field vs. a file from a newer margan.
        let e = Pack::from_bytes(b"MARGANPK but not a pack", "w.margan")
            .unwrap_err()
            .to_string();
        assert!(e.contains("w.margan") && e.contains("corrupt"), "{e}");
        let mut newer = bytes.clone();
        newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        let e = Pack::from_bytes(&newer, "n").unwrap_err().to_string();
        assert!(e.contains("newer") && e.contains("update margan"), "{e}");
        assert!(p
            .require("missing", "f")
            .unwrap_err()
            .to_string()
            .contains("`missing`"));
    }
}
