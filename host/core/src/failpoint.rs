//! Crash-test failpoints: `POPLINE_FAILPOINT=NAME` (or `NAME@N` for the Nth
//! hit) makes the process abort at that point, as SIGKILL would, so tests can
//! prove that a restart loses and duplicates nothing.
//!
//! Always compiled in; inert unless the variable is set (one cached lookup).
//! Points: `retr` (mid-RETR), `after-parse`, `in-mapper`, `between-sinks`,
//! `after-sink`, `after-state`, `after-dele`, `after-quit` (before the
//! deletions are recorded), `notice-before-send`, `notice-after-send` (after
//! the SMTP server's `250`, before the outbox records it).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

struct Armed {
    name: String,
    at: u32,
    hits: AtomicU32,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var("POPLINE_FAILPOINT").ok()?;
            let (name, at) = match v.split_once('@') {
                Some((n, a)) => (n.to_string(), a.parse().unwrap_or(1)),
                None => (v, 1),
            };
            Some(Armed {
                name,
                at,
                hits: AtomicU32::new(0),
            })
        })
        .as_ref()
}

/// Abort the process if `name` is the armed failpoint and this is its Nth hit.
pub fn hit(name: &str) {
    if let Some(a) = armed()
        && a.name == name
        && a.hits.fetch_add(1, Ordering::SeqCst) + 1 == a.at
    {
        eprintln!("failpoint {name} hit: aborting");
        std::process::abort();
    }
}
