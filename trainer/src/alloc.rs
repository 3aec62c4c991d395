//! The process's memory allocator settings, for the CPU backend (flex), whose tensors are large
//! and short-lived: an iteration allocates and frees the same few hundred buffers of up to tens
//! of MiB.
//!
//! glibc serves an allocation above its mmap threshold (128 KiB at start, then raised to the
//! size of each such block freed, up to 32 MiB) with fresh pages from the kernel, and returns
//! them on free: every use faults its pages in and the kernel zeroes them. Which buffers escape
//! depends on the order of frees, so unrelated changes moved the iteration's time by ±10% (the
//! in-place Adam step of `margan::kernels::adam_flex` doubled the page faults). Fixing the
//! threshold at the ceiling of glibc's own sliding one and not trimming the heap keeps the freed
//! buffers for reuse. (glibc refuses a threshold above 32 MiB: a 1 GiB one, tried at an earlier
//! stop, left its defaults in place. Freed blocks that large are kept by `large_blocks`.)
//! DCGAN-32 b16 L∞ on 2 cores (`bench --device cpu --iterations 25`, three rounds alternated):
//! page faults per run 0.26–0.33M before the in-place Adam step, 0.60–0.69M after it, 0.056M
//! with these settings; ms per iteration 414–489, 447–472 and 399–445.

/// Applies the settings (glibc on Linux; elsewhere the platform's allocator is left as it is).
/// Returns whether glibc took them (on a refusal it keeps its defaults, which are correct, only
/// slower).
pub fn tune() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Blocks up to 32 MiB (where glibc's sliding threshold stops) come from the heap.
        const MMAP_THRESHOLD: libc::c_int = crate::large_blocks::MIN_BYTES as libc::c_int;
        // Freed memory at the heap's top stays mapped (up to 2 GiB), for the next iteration.
        const TRIM_THRESHOLD: libc::c_int = libc::c_int::MAX;
        // SAFETY: mallopt only changes malloc's parameters, under malloc's own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(super::tune(), "mallopt refused the allocator settings");
    }
}
