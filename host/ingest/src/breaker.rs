//! The circuit breaker: after `threshold` consecutive mapper failures, stop
//! fetching for `cooldown`, then let one message through (half-open).
//! Time is passed in, so the rules are tested without waiting.

use std::time::{Duration, Instant};

/// Consecutive mapper failures, and when an open breaker may try again.
#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    consecutive: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold,
            cooldown,
            consecutive: 0,
            open_until: None,
        }
    }

    /// Whether the last message mapped (no failure streak, never opened).
    pub fn healthy(&self) -> bool {
        self.consecutive == 0 && self.open_until.is_none()
    }

    /// How long it stays open, if it is open at `now`.
    pub fn open_for(&self, now: Instant) -> Option<Duration> {
        self.open_until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now))
    }

    /// Record a mapping success or failure at `now`. Returns true when this
    /// failure opened it.
    pub fn record(&mut self, ok: bool, now: Instant) -> bool {
        if ok {
            self.consecutive = 0;
            self.open_until = None;
            return false;
        }
        self.consecutive += 1;
        if self.consecutive < self.threshold {
            return false;
        }
        self.open_until = Some(now + self.cooldown);
        // Half-open after the cooldown: one more failure re-opens it.
        self.consecutive = self.threshold.saturating_sub(1);
        true
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(600);

    #[test]
    fn opens_at_the_threshold_and_a_success_resets_the_streak() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, COOL);
        assert!(b.healthy());
        assert!(!b.record(false, t0));
        assert!(!b.healthy(), "a failure streak is not healthy");
        assert!(!b.record(true, t0));
        assert!(b.healthy());
        assert!(!b.record(false, t0));
        assert!(!b.record(false, t0));
        assert_eq!(b.open_for(t0), None);
        assert!(
            b.record(false, t0),
            "the third consecutive failure opens it"
        );
        assert_eq!(b.open_for(t0), Some(COOL));
    }

    #[test]
    fn after_the_cooldown_one_failure_reopens_and_one_success_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, COOL);
        b.record(false, t0);
        b.record(false, t0);
        let later = t0 + COOL + Duration::from_secs(1);
        assert_eq!(b.open_for(later), None, "half-open after the cooldown");
        assert!(b.record(false, later), "one failure re-opens it");
        assert_eq!(b.open_for(later), Some(COOL));

        let much_later = later + COOL * 2;
        b.record(true, much_later);
        assert!(b.healthy());
        assert!(
            !b.record(false, much_later),
            "the streak starts again from zero"
        );
    }
}
