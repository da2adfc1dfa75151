/// Commands in flight at once when the server advertises PIPELINING.
///
/// Bounded so the commands we write while not reading stay far below any
/// socket buffer: the server may block writing answers we have not read yet.
pub const PIPELINE_WINDOW: usize = 64;

/// Split `commands` into windows: each window is written in one go, then its
/// answers are read in order. Without pipelining every window holds one
/// command (RFC 1939 lock-step).
pub fn windows<T>(commands: &[T], pipelining: bool) -> std::slice::Chunks<'_, T> {
    commands.chunks(if pipelining { PIPELINE_WINDOW } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize, pipelining: bool) -> Vec<usize> {
        let commands: Vec<usize> = (0..n).collect();
        windows(&commands, pipelining).map(<[usize]>::len).collect()
    }

    #[test]
    fn lock_step_without_pipelining() {
        assert_eq!(sizes(3, false), [1, 1, 1]);
    }

    #[test]
    fn windows_of_at_most_64_with_pipelining() {
        assert_eq!(sizes(3, true), [3]);
        assert_eq!(sizes(64, true), [64]);
        assert_eq!(sizes(150, true), [64, 64, 22]);
    }

    #[test]
    fn no_commands_no_windows() {
        assert!(sizes(0, true).is_empty());
        assert!(sizes(0, false).is_empty());
    }

    #[test]
    fn order_is_kept() {
        let commands: Vec<u32> = (1..=130).collect();
        let flat: Vec<u32> = windows(&commands, true).flatten().copied().collect();
        assert_eq!(flat, commands);
    }
}
