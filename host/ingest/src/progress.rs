//! Live progress of polls in this process (messages and bytes per mailbox).
//!
//! The pipeline reports with two calls ([`planned`] once the listing says
//! what will be fetched, [`fetched`] per message retrieved); anything may read
//! a [`snapshot`] (the CLI's progress bars do).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// Where one mailbox's current poll stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Whether the listing is known yet (before: connecting, logging in).
    pub listed: bool,
    /// Messages this poll will fetch.
    pub planned: u64,
    /// Their size on the server (from LIST), in bytes.
    pub planned_bytes: u64,
    /// Messages retrieved so far.
    pub fetched: u64,
    /// Bytes of those messages.
    pub fetched_bytes: u64,
}

fn live() -> &'static Mutex<BTreeMap<String, Snapshot>> {
    static LIVE: OnceLock<Mutex<BTreeMap<String, Snapshot>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

/// A poll of `mailbox` listed its messages and will fetch `messages` of them,
/// `bytes` in all. Starts the mailbox's count afresh.
pub fn planned(mailbox: &str, messages: usize, bytes: u64) {
    live().lock().unwrap().insert(
        mailbox.to_string(),
        Snapshot {
            listed: true,
            planned: messages as u64,
            planned_bytes: bytes,
            ..Snapshot::default()
        },
    );
}

/// One message of `bytes` was retrieved from `mailbox`.
pub fn fetched(mailbox: &str, bytes: u64) {
    let mut live = live().lock().unwrap();
    let s = live.entry(mailbox.to_string()).or_default();
    s.fetched += 1;
    s.fetched_bytes += bytes;
}

/// Where `mailbox`'s current (or last) poll stands.
pub fn snapshot(mailbox: &str) -> Snapshot {
    live()
        .lock()
        .unwrap()
        .get(mailbox)
        .copied()
        .unwrap_or_default()
}

/// Forget `mailbox`'s counts (before a new poll).
pub fn reset(mailbox: &str) {
    live().lock().unwrap().remove(mailbox);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_restart_with_each_listing_and_add_up_per_message() {
        fetched("p-test", 10);
        assert_eq!(snapshot("p-test").fetched, 1);
        assert!(!snapshot("p-test").listed);
        planned("p-test", 3, 3000);
        fetched("p-test", 1000);
        fetched("p-test", 1024);
        let s = snapshot("p-test");
        assert_eq!(
            s,
            Snapshot {
                listed: true,
                planned: 3,
                planned_bytes: 3000,
                fetched: 2,
                fetched_bytes: 2024,
            }
        );
        reset("p-test");
        assert_eq!(snapshot("p-test"), Snapshot::default());
    }
}
