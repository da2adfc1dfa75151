//! Planning a poll: a pure function of the server's listing, what the state
//! knows, the mailbox's policy and the time. No I/O, so every rule is a row
//! in a table test.

use std::collections::HashMap;

use popline_config::{MailboxConfig, OversizePolicy, Retention};
use popline_plugin_runtime::dialogue::Listing;
use popline_state::Seen;

/// The parts of a mailbox's configuration that decide a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub retention: Retention,
    /// With `Retention::Keep`: delete this many days after commit.
    pub keep_days: Option<u32>,
    /// Messages larger than this (bytes, as LIST says) are oversized.
    pub max_message: u64,
    pub oversize: OversizePolicy,
}

impl Policy {
    pub fn of(cfg: &MailboxConfig) -> Policy {
        Policy {
            retention: cfg.retention,
            keep_days: cfg.keep_days,
            max_message: cfg.max_message_mib.saturating_mul(1024 * 1024),
            oversize: cfg.oversize,
        }
    }
}

/// What one poll will do with each listed message.
#[derive(Debug, Default)]
pub struct Plan<'l> {
    /// Committed earlier and now due for deletion.
    pub delete: Vec<&'l Listing>,
    /// Too large for `max_message` with `oversize = "skip"`: left on the
    /// server and recorded.
    pub oversized: Vec<&'l Listing>,
    /// To retrieve, in listing order.
    pub fetch: Vec<&'l Listing>,
    /// With `oversize = "fetch"`, the size bound the session needs for the
    /// largest message to fetch, when that is above `max_message`.
    pub raise_max_message: Option<u64>,
}

/// Plan a poll of a mailbox listing `listing`, whose committed uids the
/// state knows as `seen` and whose oversized ones as `oversized` (uid →
/// size in bytes: LIST's, or at least the bound a `RETR` outgrew when LIST
/// understated it), at Unix time `now`.
pub fn plan<'l>(
    listing: &'l [Listing],
    seen: &HashMap<String, Seen>,
    oversized: &HashMap<String, u64>,
    policy: &Policy,
    now: i64,
) -> Plan<'l> {
    let keep_secs = policy.keep_days.map(|d| i64::from(d) * 86_400);
    let mut p = Plan::default();
    for l in listing {
        // A uid committed and then deleted from the server, yet listed
        // again, names a message this poll has not seen: servers that derive
        // ids from positions reuse them for new mail (or the server lost the
        // deletion). Fetch it; the content digest tells the two apart, and
        // deleting it unread would lose it.
        match seen.get(&l.uid).filter(|s| !s.deleted) {
            Some(s) => {
                // Committed earlier (perhaps a crash before DELE/QUIT).
                let due = match policy.retention {
                    Retention::Delete => true,
                    Retention::Keep => keep_secs.is_some_and(|k| now - s.committed_at >= k),
                };
                if due {
                    p.delete.push(l);
                }
            }
            None if size_of(l, oversized) > policy.max_message
                && policy.oversize == OversizePolicy::Skip =>
            {
                p.oversized.push(l);
            }
            None => p.fetch.push(l),
        }
    }
    if let Some(largest) = p.fetch.iter().map(|l| size_of(l, oversized)).max()
        && largest > policy.max_message
    {
        // `oversize = "fetch"`: accept the largest listed message, with slack
        // for a server whose LIST size is a little off, but still bounded so
        // a runaway response cannot fill the disk.
        p.raise_max_message = Some(largest.saturating_add(largest / 10 + (1 << 20)));
    }
    p
}

/// What a message's size is known to be: LIST's word, unless a `RETR`
/// showed it larger.
fn size_of(l: &Listing, oversized: &HashMap<String, u64>) -> u64 {
    oversized
        .get(&l.uid)
        .map_or(l.size, |&known| known.max(l.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 100 * DAY;
    const MIB: u64 = 1024 * 1024;

    fn listing(uid: &str, size: u64) -> Listing {
        Listing {
            number: 0,
            uid: uid.to_string(),
            size,
        }
    }

    fn policy(retention: Retention, keep_days: Option<u32>, oversize: OversizePolicy) -> Policy {
        Policy {
            retention,
            keep_days,
            max_message: 10 * MIB,
            oversize,
        }
    }

    /// A state row: committed `age_days` ago, deleted or not.
    fn seen(age_days: i64, deleted: bool) -> Option<Seen> {
        Some(Seen {
            committed_at: NOW - age_days * DAY,
            deleted,
        })
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Action {
        Fetch,
        Delete,
        Oversized,
        Leave,
    }

    #[test]
    fn each_listed_message_gets_one_action() {
        use Action::*;
        use OversizePolicy::{Fetch as FetchBig, Skip};
        use Retention::{Delete as Del, Keep};
        let cases: Vec<(&str, Option<Seen>, u64, Policy, Action)> = vec![
            ("new message", None, 1000, policy(Keep, None, Skip), Fetch),
            (
                "new, delete mode",
                None,
                1000,
                policy(Del, None, Skip),
                Fetch,
            ),
            (
                "committed, keep forever",
                seen(400, false),
                1000,
                policy(Keep, None, Skip),
                Leave,
            ),
            (
                "committed, delete mode: crash before DELE",
                seen(0, false),
                1000,
                policy(Del, None, Skip),
                Delete,
            ),
            (
                "committed, keep_days not yet due",
                seen(29, false),
                1000,
                policy(Keep, Some(30), Skip),
                Leave,
            ),
            (
                "committed, keep_days due",
                seen(30, false),
                1000,
                policy(Keep, Some(30), Skip),
                Delete,
            ),
            (
                "reused uid: committed and deleted, listed again",
                seen(1, true),
                1000,
                policy(Del, None, Skip),
                Fetch,
            ),
            (
                "reused uid, keep mode",
                seen(1, true),
                1000,
                policy(Keep, None, Skip),
                Fetch,
            ),
            (
                "oversized, skip",
                None,
                11 * MIB,
                policy(Keep, None, Skip),
                Oversized,
            ),
            (
                "oversized, fetch",
                None,
                11 * MIB,
                policy(Keep, None, FetchBig),
                Fetch,
            ),
            (
                "exactly the bound is not oversized",
                None,
                10 * MIB,
                policy(Keep, None, Skip),
                Fetch,
            ),
            (
                "committed oversized-fetch message is deleted, not re-triaged",
                seen(0, false),
                11 * MIB,
                policy(Del, None, Skip),
                Delete,
            ),
        ];
        for (what, row, size, pol, want) in cases {
            let listed = [listing("u", size)];
            let state: HashMap<String, Seen> =
                row.into_iter().map(|s| ("u".to_string(), s)).collect();
            let p = plan(&listed, &state, &HashMap::new(), &pol, NOW);
            let got = match (p.fetch.len(), p.delete.len(), p.oversized.len()) {
                (1, 0, 0) => Fetch,
                (0, 1, 0) => Delete,
                (0, 0, 1) => Oversized,
                (0, 0, 0) => Leave,
                other => panic!("{what}: listed in several parts: {other:?}"),
            };
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn fetch_keeps_listing_order_and_raises_the_bound_only_when_needed() {
        let listed = [listing("a", 5), listing("b", 20 * MIB), listing("c", 7)];
        let pol = policy(Retention::Keep, None, OversizePolicy::Fetch);
        let p = plan(&listed, &HashMap::new(), &HashMap::new(), &pol, NOW);
        let uids: Vec<&str> = p.fetch.iter().map(|l| l.uid.as_str()).collect();
        assert_eq!(uids, ["a", "b", "c"]);
        let raised = p.raise_max_message.unwrap();
        assert!(
            raised > 20 * MIB && raised <= 20 * MIB + 3 * MIB,
            "{raised}"
        );

        let small = [listing("a", 5)];
        assert_eq!(
            plan(&small, &HashMap::new(), &HashMap::new(), &pol, NOW).raise_max_message,
            None
        );
        let skip = policy(Retention::Keep, None, OversizePolicy::Skip);
        assert_eq!(
            plan(&listed, &HashMap::new(), &HashMap::new(), &skip, NOW).raise_max_message,
            None
        );
    }

    #[test]
    fn a_message_larger_than_list_said_is_judged_by_what_retr_showed() {
        let listed = [listing("u", 100)];
        let shown = HashMap::from([("u".to_string(), 10 * MIB + 1)]);
        let skip = policy(Retention::Keep, None, OversizePolicy::Skip);
        let p = plan(&listed, &HashMap::new(), &shown, &skip, NOW);
        assert_eq!(
            p.oversized.len(),
            1,
            "left on the server, not fetched again"
        );
        // A raised bound lets it through.
        let raised = Policy {
            max_message: 20 * MIB,
            ..skip.clone()
        };
        assert_eq!(
            plan(&listed, &HashMap::new(), &shown, &raised, NOW)
                .fetch
                .len(),
            1
        );
        // With oversize = "fetch" the session's bound is raised past it.
        let fetch = policy(Retention::Keep, None, OversizePolicy::Fetch);
        let p = plan(&listed, &HashMap::new(), &shown, &fetch, NOW);
        assert!(p.raise_max_message.unwrap() > 10 * MIB + 1);
    }
}
