//! Exponential backoff with jitter, shared by polling, sinks and token refresh.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Delay before retry number `attempt` (1-based): `base · 2^(attempt-1)`,
/// capped at `cap`, then jittered into [d/2, d] so many clients retrying the
/// same server do not stay in lockstep.
pub fn delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    jitter(exp.min(cap))
}

/// A uniformly random duration in [d/2, d].
pub fn jitter(d: Duration) -> Duration {
    // RandomState is randomly seeded per instance: enough randomness for
    // jitter without a PRNG dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    let frac = (h.finish() % 1001) as u32;
    d / 2 + (d / 2) * frac / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_capped_and_stays_in_the_jitter_band() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 1..30 {
            let full = base.saturating_mul(1 << (attempt - 1).min(20)).min(cap);
            let d = delay(attempt, base, cap);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        // Not constant: jitter actually varies.
        let samples: std::collections::HashSet<_> =
            (0..50).map(|_| jitter(Duration::from_secs(10))).collect();
        assert!(samples.len() > 10);
    }
}
