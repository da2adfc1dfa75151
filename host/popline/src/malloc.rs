//! glibc malloc settings for a process whose buffers range from a few bytes
//! to whole messages.

/// Buffers from this size up get their own mapping, returned to the kernel
/// when freed.
const MMAP_THRESHOLD: usize = 128 * 1024;

/// Fix glibc's mmap threshold at [`MMAP_THRESHOLD`], unless the operator set
/// `MALLOC_MMAP_THRESHOLD_`. Call before any other thread starts.
///
/// By default glibc raises the threshold to the size of each mapped buffer
/// it frees (up to 32 MiB). After the first 1 MiB attachment, buffers of
/// received messages, decoded parts and record batches come from the heap
/// arenas instead, where freed space stays resident and fragments. Fixing
/// the threshold turns that off: peak RSS of a 10,000-message `once` went
/// from 57–61 to 49–53 MiB, at no measurable CPU cost (CHANGELOG).
pub(crate) fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        set_mmap_threshold();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter; glibc takes its own
    // lock for it.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Whether `p` is the user pointer of a chunk glibc mapped on its own:
    /// such a chunk starts a mapping of its own, 16 bytes (its header)
    /// before the pointer.
    fn own_mapping(p: *const u8) -> bool {
        let start = p as usize - 16;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().any(|l| {
            let range = l.split(' ').next().unwrap();
            let (from, _) = range.split_once('-').unwrap();
            usize::from_str_radix(from, 16).unwrap() == start
        })
    }

    /// Sets the threshold itself rather than through [`fix_mmap_threshold`],
    /// which leaves it alone when the test's environment sets one.
    #[test]
    fn a_big_buffer_freed_does_not_move_the_next_ones_to_the_heap() {
        set_mmap_threshold();
        const MIB: usize = 1 << 20;
        // glibc would raise its threshold past 1 MiB when this is freed...
        let first = vec![1u8; MIB];
        assert!(own_mapping(first.as_ptr()));
        drop(first);
        // ...and serve the next buffers of that size from a heap arena.
        for size in [MIB, MIB / 2, MMAP_THRESHOLD * 2] {
            let next = vec![2u8; size];
            assert!(own_mapping(next.as_ptr()), "{size} bytes from the heap");
        }
    }
}
