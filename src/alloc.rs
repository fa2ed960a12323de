//! The global allocator of the `baton` binary and the model bench:
//! mimalloc, called the way the standard library calls the system
//! allocator. A run allocates many small strings and vectors (model
//! outcomes, wire bodies, HTTP buffers), and glibc's malloc and free took
//! about a fifth of its CPU; the `mimalloc` crate's own wrapper asks for an
//! aligned block on every call, which costs the model about 6 % more than
//! this plain `mi_malloc` for the ordinary alignments.

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every `mi_malloc` block of at least this size has
/// (`MI_MAX_ALIGN_SIZE`); smaller blocks are aligned to their size's
/// power of two, as with the system allocator.
const MIN_ALIGN: usize = 16;

/// Whether a plain allocation of `size` bytes is aligned enough for `align`
/// (the rule the standard library applies to `malloc`).
fn plain(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

/// mimalloc as a [`GlobalAlloc`]: `#[global_allocator] static A: MiMalloc = MiMalloc;`.
pub struct MiMalloc;

// SAFETY: every block comes from mimalloc and goes back to it (`mi_free`
// takes blocks of any of these calls); the aligned variants are used
// whenever the layout asks for more than a plain block guarantees.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: a valid layout; mimalloc returns null on failure.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi_malloc(layout.size()) as *mut u8
            } else {
                mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi_zalloc(layout.size()) as *mut u8
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator.
        unsafe { mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new
        // block keeps the layout's alignment.
        unsafe {
            if plain(layout.align(), new_size) {
                mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_asked_for() {
        let a = MiMalloc;
        for (size, align) in [
            (1, 1),
            (8, 8),
            (24, 8),
            (16, 16),
            (40, 32),
            (100, 64),
            (8, 16),
        ] {
            let layout = Layout::from_size_align(size, align).expect("layout");
            // SAFETY: non-zero sizes; each block is freed with its layout.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "{size} {align}");
                p.write_bytes(0xAB, size);
                let q = a.realloc(p, layout, size * 3);
                assert_eq!(q as usize % align, 0, "realloc {size} {align}");
                assert_eq!(*q, 0xAB);
                a.dealloc(q, Layout::from_size_align(size * 3, align).expect("layout"));
                let z = a.alloc_zeroed(layout);
                assert_eq!(z as usize % align, 0);
                assert!((0..size).all(|i| *z.add(i) == 0));
                a.dealloc(z, layout);
            }
        }
    }
}
