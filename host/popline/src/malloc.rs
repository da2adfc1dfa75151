//! glibc malloc settings for a process whose buffers range from a few bytes
//! to whole messages, and pass from thread to thread.

/// Buffers from this size up get their own mapping, returned to the kernel
/// when freed.
const MMAP_THRESHOLD: usize = 128 * 1024;

/// Set glibc's malloc up for popline, before any other thread starts. Each
/// setting is left alone when the operator set its environment variable.
///
/// - **The mmap threshold is fixed at [`MMAP_THRESHOLD`]**
///   (`MALLOC_MMAP_THRESHOLD_`). By default glibc raises it to the size of
///   each mapped buffer it frees (up to 32 MiB). After the first 1 MiB
///   attachment, buffers of received messages, decoded parts and record
///   batches come from the heap arenas instead, where freed space stays
///   resident and fragments. Fixing it took the peak RSS of a
///   10,000-message `once` from 57–61 to 49–53 MiB, at no measurable CPU
///   cost (CHANGELOG).
/// - **One arena for every thread** (`MALLOC_ARENA_MAX`). glibc gives
///   threads arenas of their own, up to eight per core, and each keeps what
///   was freed in it. A message is received on one thread, parsed and
///   mapped on others and written by a blocking one, so every arena fills
///   to a batch's size. With one arena, on 2 cores, a 2,000-message `once`
///   peaked at 40.4–41.9 MiB instead of 44.1–46.4 and a 10,000-message one
///   at 46.4–46.5 instead of 50.2–53.1, with CPU and wall time unchanged.
///   On many cores threads may wait on the arena's lock: `MALLOC_ARENA_MAX`
///   gives them more (not measured here).
pub(crate) fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        }
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            set(libc::M_ARENA_MAX, 1);
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set(param: libc::c_int, value: libc::c_int) {
    // SAFETY: mallopt only sets an allocator parameter; glibc takes its own
    // lock for it.
    unsafe {
        libc::mallopt(param, value);
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

    /// Sets the threshold itself rather than through [`configure`], which
    /// leaves it alone when the test's environment sets one.
    #[test]
    fn a_big_buffer_freed_does_not_move_the_next_ones_to_the_heap() {
        set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
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

    /// Whether `p` is the user pointer of a chunk from an arena other than
    /// the main one: glibc marks such chunks in their size field, the word
    /// before the pointer.
    fn from_another_arena(p: *const u8) -> bool {
        const NON_MAIN_ARENA: usize = 0x4;
        // SAFETY: `p` points into a live chunk, whose header precedes it.
        unsafe { *(p as *const usize).sub(1) & NON_MAIN_ARENA != 0 }
    }

    /// Set in the copy of this test binary that [`configure`] runs in.
    const CHILD: &str = "POPLINE_TEST_MALLOC_CHILD";

    /// In a fresh process (this test binary again, running one test), after
    /// [`configure`] a new thread allocates from the main arena, unless
    /// `MALLOC_ARENA_MAX` says otherwise: then it gets one of its own, as
    /// glibc gives every new thread by default.
    #[test]
    fn threads_share_one_arena_unless_the_operator_says_otherwise() {
        if std::env::var_os(CHILD).is_some() {
            configure();
            let own = std::thread::spawn(|| from_another_arena(vec![0u8; 200].as_ptr()))
                .join()
                .unwrap();
            let want = std::env::var_os("MALLOC_ARENA_MAX").is_some();
            assert_eq!(
                own, want,
                "a new thread's allocation from an arena of its own"
            );
            return;
        }
        for arenas in [None, Some("8")] {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap());
            child
                .args(["--exact", "--test-threads=1"])
                .arg("malloc::tests::threads_share_one_arena_unless_the_operator_says_otherwise")
                .env(CHILD, "1")
                .env_remove("MALLOC_ARENA_MAX");
            if let Some(n) = arenas {
                child.env("MALLOC_ARENA_MAX", n);
            }
            let out = child.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "MALLOC_ARENA_MAX={arenas:?}\n{stdout}"
            );
            assert!(stdout.contains("1 passed"), "{stdout}");
        }
    }
}
