/// Commands in flight at once when the server advertises PIPELINING.
///
/// Bounded so the commands we write while not reading stay far below any
/// socket buffer: the server may block writing answers we have not read yet.
pub const PIPELINE_WINDOW: usize = 64;

/// A sliding pipelining window over `total` commands: before reading the
/// answer to command `i`, queue [`Window::top_up`]`(i)`, so up to `size`
/// commands are in flight and one more goes out as each answer is read (the
/// link never idles between windows). Without pipelining the size is 1
/// (RFC 1939 lock-step).
#[derive(Debug, Clone)]
pub struct Window {
    total: usize,
    size: usize,
    queued: usize,
}

impl Window {
    /// A window for `total` commands.
    pub fn new(total: usize, pipelining: bool) -> Window {
        Window {
            total,
            size: if pipelining { PIPELINE_WINDOW } else { 1 },
            queued: 0,
        }
    }

    /// The commands to queue before reading the answer to command `reading`
    /// (0-based; called in order).
    pub fn top_up(&mut self, reading: usize) -> std::ops::Range<usize> {
        let start = self.queued;
        self.queued = self.total.min(reading + self.size).max(start);
        start..self.queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranges queued before each read.
    fn schedule(total: usize, pipelining: bool) -> Vec<std::ops::Range<usize>> {
        let mut w = Window::new(total, pipelining);
        (0..total).map(|i| w.top_up(i)).collect()
    }

    #[test]
    fn lock_step_without_pipelining() {
        assert_eq!(schedule(3, false), [0..1, 1..2, 2..3]);
    }

    #[test]
    fn sliding_window_of_64_with_pipelining() {
        assert_eq!(schedule(3, true), [0..3, 3..3, 3..3]);
        let s = schedule(150, true);
        assert_eq!(s[0], 0..64);
        assert_eq!(s[1], 64..65);
        assert_eq!(s[86], 149..150);
        assert!(s[87..].iter().all(|r| r.is_empty()));
    }

    #[test]
    fn every_command_is_queued_once_in_order_before_its_answer_is_read() {
        for (total, pipelining) in [(0, true), (1, true), (64, true), (130, true), (7, false)] {
            let mut w = Window::new(total, pipelining);
            let mut queued = Vec::new();
            for i in 0..total {
                queued.extend(w.top_up(i));
                assert!(queued.len() > i, "command {i} read before it was sent");
                assert!(
                    queued.len() - i <= PIPELINE_WINDOW,
                    "more than a window in flight"
                );
            }
            assert_eq!(queued, (0..total).collect::<Vec<_>>());
        }
    }
}
