//! This host's hold on a mailbox while it polls it. With fleet state the
//! hold is a lease in the database, renewed by a [`LeaseKeeper`]; a poll
//! asks [`Lease::held`] after each message and stops, without committing,
//! once the lease is lost or may have expired. Single-host state holds every
//! mailbox for good.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use popline_state::StateBackend;

/// Whether this host still holds a mailbox's lease, as far as it can tell
/// without asking the database.
#[derive(Clone, Default)]
pub struct Lease(Option<Arc<Held>>);

struct Held {
    ttl: Duration,
    /// When the last successful renewal was *sent*: the database's expiry
    /// is at least this plus the TTL, so the local deadline is never later
    /// than the real one.
    renewed: Mutex<Instant>,
    lost: AtomicBool,
}

impl Lease {
    /// A hold that never ends: single-host state.
    pub fn unbounded() -> Lease {
        Lease(None)
    }

    /// A lease taken (or renewed) by a request sent at `sent`, valid for
    /// `ttl` from then.
    pub fn taken(sent: Instant, ttl: Duration) -> Lease {
        Lease(Some(Arc::new(Held {
            ttl,
            renewed: Mutex::new(sent),
            lost: AtomicBool::new(false),
        })))
    }

    /// Whether the lease is surely still this host's at `now`: not found
    /// lost, and renewed less than a TTL ago. A host that was paused (GC,
    /// SIGSTOP, a partition from the database) past its TTL answers `false`
    /// even before it learns that another host took the mailbox.
    pub fn held_at(&self, now: Instant) -> bool {
        let Some(h) = &self.0 else { return true };
        !h.lost.load(Ordering::Acquire) && now < *h.renewed.lock().unwrap() + h.ttl
    }

    /// [`Self::held_at`] now.
    pub fn held(&self) -> bool {
        self.held_at(Instant::now())
    }

    fn renewed(&self, sent: Instant) {
        if let Some(h) = &self.0 {
            let mut at = h.renewed.lock().unwrap();
            *at = (*at).max(sent);
        }
    }

    fn lose(&self) {
        if let Some(h) = &self.0 {
            h.lost.store(true, Ordering::Release);
        }
    }
}

/// Renews a mailbox's lease every third of its TTL while it lives; aborted
/// when dropped.
pub struct LeaseKeeper {
    lease: Lease,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaseKeeper {
    /// The lease it keeps.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Take mailbox `name`'s lease and keep it renewed: `Ok(None)` when another
/// host holds it. With single-host state the hold is unbounded.
pub async fn take(
    state: &Arc<dyn StateBackend>,
    name: &str,
) -> anyhow::Result<Option<LeaseKeeper>> {
    let Some(ttl) = state.lease_ttl() else {
        return Ok(Some(LeaseKeeper {
            lease: Lease::unbounded(),
            task: None,
        }));
    };
    let sent = Instant::now();
    if !state.acquire(name).await? {
        return Ok(None);
    }
    let lease = Lease::taken(sent, ttl);
    let task = tokio::spawn(renew(
        state.clone(),
        name.to_string(),
        lease.clone(),
        ttl / 3,
    ));
    Ok(Some(LeaseKeeper {
        lease,
        task: Some(task),
    }))
}

async fn renew(state: Arc<dyn StateBackend>, name: String, lease: Lease, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let sent = Instant::now();
        match state.renew(&name).await {
            Ok(true) => lease.renewed(sent),
            Ok(false) => {
                lease.lose();
                tracing::error!(mailbox = %name, "lease lost: this host's writes for the mailbox are refused until it takes the lease again");
                return;
            }
            Err(e) => tracing::warn!(mailbox = %name, "renewing the lease: {e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_held_until_lost_or_a_ttl_after_its_last_renewal() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let s = Duration::from_secs;
        // (renewals sent at, asked at, lost, held)
        let cases: &[(&[u64], u64, bool, bool)] = &[
            (&[], 0, false, true),
            (&[], 9, false, true),
            (&[], 10, false, false),
            (&[7], 16, false, true),
            (&[7], 17, false, false),
            // A late answer to an older renewal does not move it back.
            (&[7, 3], 16, false, true),
            (&[], 1, true, false),
            (&[7], 8, true, false),
        ];
        for &(renewals, at, lost, held) in cases {
            let lease = Lease::taken(t0, ttl);
            for &r in renewals {
                lease.renewed(t0 + s(r));
            }
            if lost {
                lease.lose();
            }
            assert_eq!(
                lease.held_at(t0 + s(at)),
                held,
                "renewals {renewals:?}, asked at {at}, lost {lost}"
            );
        }
        assert!(Lease::unbounded().held_at(t0 + s(1 << 30)));
    }
}
