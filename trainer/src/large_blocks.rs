//! The process's global allocator: the system's, except that freed blocks of 32 MiB and more
//! are kept for the next allocation of the same size and alignment.
//!
//! glibc serves every block above its mmap threshold with fresh pages from the kernel and
//! unmaps it on free, and it refuses a threshold above 32 MiB (`alloc::tune` sets it there).
//! On the flex CPU backend at batch 64 and up, an iteration's largest tensors (DCGAN-32's patch
//! matrices and their gradients, 32–100 MiB at b64) are such blocks, allocated and freed in the
//! same sizes every iteration: each time, every page of them was faulted in and zeroed by the
//! kernel. DCGAN-32 b64 on 2 cores (`margan bench --device cpu --preset cifar10-hinge-linf-hinge
//! --batch 64 --penalty none,linf --iterations 5 --warmup 2`): 1.39–1.47M page faults per run
//! without the cache, 0.34M with it; this cache alone took 525–620 → 437–479 ms per iteration
//! without a penalty and 772–833 → 657–705 with the L∞ one (two rounds alternated). Peak
//! resident memory 0.49 → 1.03–1.05 GB (PyTorch's process at the same batch: 1.03 GB).
//! Smaller batches allocate no such blocks and run as before.
//!
//! The cache holds at most `MAX_BLOCKS` blocks and `MAX_BYTES` bytes, handing the oldest back to
//! the system beyond that.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Blocks from this size up are cached (glibc's largest mmap threshold: smaller blocks stay in
/// its heap once freed).
pub const MIN_BYTES: usize = 32 << 20;
/// At most this many blocks are kept…
const MAX_BLOCKS: usize = 32;
/// …and at most this many bytes in all.
const MAX_BYTES: usize = 1 << 30;

/// A freed block: its address and layout.
#[derive(Clone, Copy)]
struct Block {
    ptr: usize,
    size: usize,
    align: usize,
}

/// The kept blocks, oldest first; `len` of `blocks` are in use.
struct Cache {
    blocks: [Block; MAX_BLOCKS],
    len: usize,
    bytes: usize,
}

/// [`GlobalAlloc`] over [`System`] with the cache of large freed blocks.
pub struct LargeBlockCache {
    cache: Mutex<Cache>,
}

impl LargeBlockCache {
    pub const fn new() -> Self {
        const EMPTY: Block = Block {
            ptr: 0,
            size: 0,
            align: 0,
        };
        Self {
            cache: Mutex::new(Cache {
                blocks: [EMPTY; MAX_BLOCKS],
                len: 0,
                bytes: 0,
            }),
        }
    }

    /// A kept block of exactly `layout`'s size and alignment, taken out of the cache.
    fn take(&self, layout: Layout) -> Option<*mut u8> {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let len = c.len;
        let i = (0..len)
            .rev()
            .find(|&i| c.blocks[i].size == layout.size() && c.blocks[i].align == layout.align())?;
        let block = c.blocks[i];
        c.blocks.copy_within(i + 1..len, i);
        c.len -= 1;
        c.bytes -= block.size;
        Some(block.ptr as *mut u8)
    }

    /// Keeps a freed block, handing the oldest ones back to the system beyond the limits.
    ///
    /// # Safety
    /// `ptr` was allocated by [`System`] with `layout` and is no longer used.
    unsafe fn keep(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() > MAX_BYTES {
            // Too large to keep: back to the system, the kept blocks left as they are.
            // SAFETY: the caller's contract.
            unsafe { System.dealloc(ptr, layout) };
            return;
        }
        let mut evicted = [None; MAX_BLOCKS];
        {
            let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let mut n = 0;
            while c.len > 0 && (c.len == MAX_BLOCKS || c.bytes + layout.size() > MAX_BYTES) {
                let oldest = c.blocks[0];
                let len = c.len;
                c.blocks.copy_within(1..len, 0);
                c.len -= 1;
                c.bytes -= oldest.size;
                evicted[n] = Some(oldest);
                n += 1;
            }
            let len = c.len;
            c.blocks[len] = Block {
                ptr: ptr as usize,
                size: layout.size(),
                align: layout.align(),
            };
            c.len += 1;
            c.bytes += layout.size();
        }
        // Outside the lock: the system's free of an mmapped block is a system call.
        for b in evicted.into_iter().flatten() {
            // SAFETY: each block came from `System` with this size and alignment (a valid
            // layout when it was allocated) and nothing uses it.
            unsafe {
                System.dealloc(
                    b.ptr as *mut u8,
                    Layout::from_size_align_unchecked(b.size, b.align),
                )
            };
        }
    }
}

impl Default for LargeBlockCache {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block handed out is either fresh from `System` or a block `System` allocated
// with the same size and alignment and that was freed to this allocator (so unused); blocks
// go back to `System` with the layout they were allocated with.
unsafe impl GlobalAlloc for LargeBlockCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BYTES {
            if let Some(ptr) = self.take(layout) {
                return ptr;
            }
        }
        // SAFETY: the caller's layout has a non-zero size (GlobalAlloc's contract).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BYTES {
            if let Some(ptr) = self.take(layout) {
                // SAFETY: the block has `layout.size()` writable bytes.
                unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
                return ptr;
            }
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= MIN_BYTES {
            // SAFETY: the caller frees a block of this allocator, allocated with `layout`.
            unsafe { self.keep(ptr, layout) };
        } else {
            // SAFETY: as above; small blocks always come from `System`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// The system's own `realloc` (glibc moves a large block's pages with `mremap`, without
    /// copying): every block handed out is a block of [`System`] with the caller's layout, and
    /// a grown or shrunk one need not be kept.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract; `ptr` was allocated by `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::{LargeBlockCache, MAX_BLOCKS, MIN_BYTES};
    use std::alloc::{GlobalAlloc, Layout};

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 64).unwrap()
    }

    #[test]
    fn a_freed_large_block_is_reused_for_the_same_layout_only() {
        let cache = LargeBlockCache::new();
        let big = layout(MIN_BYTES + 4096);
        // SAFETY: every block is used within its layout and freed once with it.
        unsafe {
            let a = cache.alloc(big);
            assert!(!a.is_null());
            a.write(7);
            cache.dealloc(a, big);
            let b = cache.alloc(big);
            assert_eq!(a, b, "the kept block comes back");
            // Another size, or another alignment, gets a block of its own.
            let c = cache.alloc(layout(MIN_BYTES + 8192));
            assert_ne!(c, b);
            cache.dealloc(b, big);
            let d = cache.alloc(Layout::from_size_align(MIN_BYTES + 4096, 4096).unwrap());
            assert_ne!(
                d, b,
                "a block kept for 64-byte alignment is not handed out for 4096"
            );
            cache.dealloc(d, Layout::from_size_align(MIN_BYTES + 4096, 4096).unwrap());
            cache.dealloc(c, layout(MIN_BYTES + 8192));
            // Below the threshold nothing is kept (glibc's heap reuses those itself).
            let small = layout(MIN_BYTES - 64);
            let e = cache.alloc(small);
            cache.dealloc(e, small);
            assert_eq!(cache.cache.lock().unwrap().len, 3);
        }
    }

    #[test]
    fn a_reused_block_asked_for_zeroed_is_zeroed() {
        let cache = LargeBlockCache::new();
        let big = layout(MIN_BYTES);
        // SAFETY: as above.
        unsafe {
            let a = cache.alloc(big);
            std::ptr::write_bytes(a, 0xAB, big.size());
            cache.dealloc(a, big);
            let b = cache.alloc_zeroed(big);
            assert_eq!(a, b);
            let bytes = std::slice::from_raw_parts(b, big.size());
            assert!(
                bytes.iter().all(|&x| x == 0),
                "stale bytes in a zeroed block"
            );
            cache.dealloc(b, big);
        }
    }

    #[test]
    fn the_cache_keeps_at_most_its_limits_newest_first() {
        let cache = LargeBlockCache::new();
        let sizes: Vec<usize> = (0..MAX_BLOCKS + 3).map(|i| MIN_BYTES + i * 4096).collect();
        // SAFETY: as above; the blocks are never touched (their pages are never faulted in).
        unsafe {
            let blocks: Vec<_> = sizes.iter().map(|&s| cache.alloc(layout(s))).collect();
            for (&p, &s) in blocks.iter().zip(&sizes) {
                cache.dealloc(p, layout(s));
            }
            {
                let c = cache.cache.lock().unwrap();
                assert!(c.len <= MAX_BLOCKS && c.bytes <= super::MAX_BYTES);
                assert_eq!(
                    c.bytes,
                    c.blocks[..c.len].iter().map(|b| b.size).sum::<usize>()
                );
            }
            // The newest block is kept, the oldest was handed back.
            let last = *sizes.last().unwrap();
            assert_eq!(cache.alloc(layout(last)), *blocks.last().unwrap());
            cache.dealloc(*blocks.last().unwrap(), layout(last));
            let first = cache.alloc(layout(sizes[0]));
            let c = cache.cache.lock().unwrap();
            assert!(c.blocks[..c.len].iter().all(|b| b.size != sizes[0]));
            drop(c);
            cache.dealloc(first, layout(sizes[0]));
        }
    }

    #[test]
    fn a_block_over_the_byte_limit_is_freed_and_leaves_the_kept_ones() {
        let cache = LargeBlockCache::new();
        let big = layout(MIN_BYTES);
        let huge = layout(super::MAX_BYTES + 4096);
        // SAFETY: as above; the blocks are never touched.
        unsafe {
            let kept: Vec<_> = (0..MAX_BLOCKS).map(|_| cache.alloc(big)).collect();
            for &p in &kept {
                cache.dealloc(p, big);
            }
            let before = cache.cache.lock().unwrap().len;
            assert!(before > 0);
            let h = cache.alloc(huge);
            assert!(!h.is_null());
            cache.dealloc(h, huge);
            let c = cache.cache.lock().unwrap();
            assert_eq!(c.len, before, "the kept blocks stay");
            assert!(c.blocks[..c.len].iter().all(|b| b.size == big.size()));
        }
    }

    #[test]
    fn realloc_across_the_threshold_keeps_the_contents() {
        let cache = LargeBlockCache::new();
        let small = layout(1 << 20);
        // SAFETY: as above.
        unsafe {
            let a = cache.alloc(small);
            for i in 0..small.size() {
                *a.add(i) = (i % 251) as u8;
            }
            let b = cache.realloc(a, small, MIN_BYTES * 2);
            assert!((0..small.size()).all(|i| *b.add(i) == (i % 251) as u8));
            let c = cache.realloc(b, layout(MIN_BYTES * 2), 4096);
            assert!((0..4096).all(|i| *c.add(i) == (i % 251) as u8));
            cache.dealloc(c, layout(4096));
        }
    }
}
