//! The notice outbox in PostgreSQL (a real server from the testkit): notices
//! written in the fenced transaction of their outcomes, the per-recipient
//! limit, and claims, so that hosts sharing the database never send one
//! notice twice at once and a crashed host's notices are taken over.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use popline_core::clock::unix_now;
use popline_state::{
    Committed, Disposition, Joined, NewNotice, NoticeStatus, PostgresBackend, StateBackend,
};

use crate::fleet::{database, host};

const TTL: Duration = Duration::from_secs(60);

fn skipped(uid: &str) -> Committed {
    Committed {
        uid: uid.into(),
        message_id: Some(format!("<{uid}@example.org>")),
        sha256: format!("sha-{uid}"),
        body_sha256: None,
        size: 100,
        outcome: Disposition::Skipped {
            reason: "no-match: nothing".into(),
        },
    }
}

fn notice(id: &str, uid: &str, to: &str, limit: u32) -> NewNotice {
    NewNotice {
        message_id: id.into(),
        uid: uid.into(),
        via: "smtp".into(),
        sender: "beta@contoso.example".into(),
        recipient: to.into(),
        reason: "no-match".into(),
        raw: format!("Message-ID: <{id}>\r\n\r\nhi\r\n").into_bytes(),
        per_recipient_per_day: limit,
    }
}

fn with_notices(notices: Vec<NewNotice>) -> Joined<'static> {
    Joined {
        feedback: None,
        notices,
    }
}

async fn backend(pg: &popline_testkit::Postgres, name: &str, claim: Duration) -> PostgresBackend {
    let mut opts = host(pg, name, TTL);
    opts.notice_claim_ttl = claim;
    PostgresBackend::connect(opts).await.unwrap()
}

/// Notices are queued with their outcomes under the lease (a host that
/// lost it queues nothing), once per Message-ID, within the per-recipient
/// limit (case-insensitive), and move through pending → sent / retry /
/// failed → retried; `list` and `counts` see them.
#[tokio::test]
async fn the_outbox_goes_with_the_outcomes_in_postgres() {
    let pg = database();
    let a = backend(&pg, "host-a", popline_state::postgres::NOTICE_CLAIM_TTL).await;
    assert!(a.keeps_notices());

    // Without the lease, neither the outcome nor its notice is stored.
    a.record_batch_joined(
        "beta",
        vec![skipped("u0")],
        with_notices(vec![notice("n0@x", "u0", "dana@example.org", 2)]),
    )
    .await
    .unwrap_err();
    assert!(a.notices(None, None, 10).await.unwrap().is_empty());

    assert!(a.acquire("beta").await.unwrap());
    // Three to Dana (limit 2: the third is suppressed), one to Eve, then
    // the first again (a replay): nothing new.
    a.record_batch_joined(
        "beta",
        vec![skipped("u1"), skipped("u2"), skipped("u3"), skipped("u4")],
        with_notices(vec![
            notice("n1@x", "u1", "dana@example.org", 2),
            notice("n2@x", "u2", "Dana@Example.org", 2),
            notice("n3@x", "u3", "dana@example.org", 2),
            notice("n4@x", "u4", "eve@example.org", 2),
        ]),
    )
    .await
    .unwrap();
    a.record_batch_joined(
        "beta",
        vec![skipped("u1")],
        with_notices(vec![notice("n1@x", "u1", "dana@example.org", 2)]),
    )
    .await
    .unwrap();
    // Oversized messages' notices are queued apart, fenced the same way.
    a.queue_notices("beta", vec![notice("n5@x", "u5", "finn@example.org", 2)])
        .await
        .unwrap();
    let counts = a.notice_counts("beta").await.unwrap();
    assert_eq!((counts.pending, counts.suppressed), (4, 1), "{counts:?}");

    let now = unix_now();
    let due = a.due_notices(now + 1, 10).await.unwrap();
    let ids: Vec<&str> = due.iter().map(|n| n.message_id.as_str()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(!ids.contains(&"n3@x"), "{ids:?}");
    assert!(due[0].raw.starts_with(b"Message-ID: <"));
    assert!(a.hold_notice("n1@x").await.unwrap());

    a.notice_sent("n1@x", now).await.unwrap();
    a.notice_attempt_failed("n2@x", Some(now + 60), "421 try later".into())
        .await
        .unwrap();
    a.notice_attempt_failed("n4@x", None, "550 no such user".into())
        .await
        .unwrap();
    a.notice_attempt_failed("n5@x", Some(now + 60), "421 try later".into())
        .await
        .unwrap();
    assert!(a.due_notices(now + 1, 10).await.unwrap().is_empty());
    assert_eq!(a.due_notices(now + 60, 10).await.unwrap().len(), 2);
    let failed = a
        .notices(Some("beta".into()), Some(NoticeStatus::Failed), 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].attempts, failed[0].last_error.as_deref()),
        (1, Some("550 no such user"))
    );
    assert!(
        a.notices(Some("other".into()), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let counts = a.notice_counts("beta").await.unwrap();
    assert_eq!((counts.sent, counts.failed), (1, 1), "{counts:?}");

    // A retry of named ids touches only failed ones; of the mailbox, all
    // its failed ones.
    assert_eq!(a.retry_notices(vec!["n1@x".into()], None).await.unwrap(), 0);
    assert_eq!(
        a.retry_notices(vec![], Some("beta".into())).await.unwrap(),
        1
    );
    let again = a.due_notices(unix_now(), 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].message_id.as_str(), again[0].attempts),
        ("n4@x", 0)
    );
}

/// Queue `n` notices to distinct testers on mailbox `beta` of `host`.
async fn queue(host: &PostgresBackend, n: usize) -> HashSet<String> {
    assert!(host.acquire("beta").await.unwrap());
    let commits = (0..n).map(|i| skipped(&format!("u{i}"))).collect();
    let notices: Vec<NewNotice> = (0..n)
        .map(|i| {
            notice(
                &format!("n{i}@x"),
                &format!("u{i}"),
                &format!("t{i}@example.org"),
                3,
            )
        })
        .collect();
    let ids = notices.iter().map(|n| n.message_id.clone()).collect();
    host.record_batch_joined("beta", commits, with_notices(notices))
        .await
        .unwrap();
    ids
}

/// What one host's deliverer does, without SMTP: claim due notices in
/// rounds of `round`, hold and mark each sent, until none is left for it.
async fn drain(host: Arc<PostgresBackend>, round: usize) -> Vec<String> {
    let mut sent = Vec::new();
    loop {
        let due = host.due_notices(unix_now() + 1, round).await.unwrap();
        if due.is_empty() {
            return sent;
        }
        for n in due {
            assert!(host.hold_notice(&n.message_id).await.unwrap());
            host.notice_sent(&n.message_id, unix_now()).await.unwrap();
            sent.push(n.message_id);
        }
    }
}

/// Two hosts claiming the same outbox at once never both get a notice:
/// each notice is claimed, and sent, by exactly one of them; a notice one
/// host claimed is not handed to the other while the claim lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hosts_never_claim_the_same_notice() {
    let pg = database();
    let claim = popline_state::postgres::NOTICE_CLAIM_TTL;
    let a = Arc::new(backend(&pg, "host-a", claim).await);
    let b = Arc::new(backend(&pg, "host-b", claim).await);
    let all = queue(&a, 300).await;

    let (got_a, got_b) = tokio::join!(
        tokio::spawn(drain(a.clone(), 7)),
        tokio::spawn(drain(b.clone(), 5))
    );
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    let set_a: HashSet<String> = got_a.iter().cloned().collect();
    let set_b: HashSet<String> = got_b.iter().cloned().collect();
    assert_eq!(set_a.len(), got_a.len(), "host-a got a notice twice");
    assert_eq!(set_b.len(), got_b.len(), "host-b got a notice twice");
    let both: Vec<&String> = set_a.intersection(&set_b).collect();
    assert!(both.is_empty(), "claimed by both hosts: {both:?}");
    assert_eq!(&set_a | &set_b, all, "every notice sent by one host");
    assert_eq!(a.notice_counts("beta").await.unwrap().sent, 300);

    // A live claim is this host's: the other host gets nothing.
    queue(&a, 310).await;
    let claimed = a.due_notices(unix_now() + 1, 100).await.unwrap();
    assert_eq!(claimed.len(), 10);
    assert!(b.due_notices(unix_now() + 1, 100).await.unwrap().is_empty());
    assert!(!b.hold_notice(&claimed[0].message_id).await.unwrap());
}

/// A host that claimed notices and died (its claim expired) has them taken
/// over: the other host claims and sends them, and the first host, should
/// it come back, may not send, mark or fail them.
#[tokio::test]
async fn an_expired_claim_is_taken_over() {
    let pg = database();
    // host-a's claims last no time at all: as if it died long ago.
    let a = backend(&pg, "host-a", Duration::ZERO).await;
    let b = backend(&pg, "host-b", popline_state::postgres::NOTICE_CLAIM_TTL).await;
    queue(&a, 2).await;
    let mine = a.due_notices(unix_now() + 1, 10).await.unwrap();
    assert_eq!(mine.len(), 2);

    let taken = b.due_notices(unix_now() + 1, 10).await.unwrap();
    assert_eq!(taken.len(), 2, "expired claims are taken over");
    assert!(!a.hold_notice("n0@x").await.unwrap(), "no longer host-a's");
    // host-a's late marks change nothing.
    a.notice_sent("n0@x", unix_now()).await.unwrap();
    a.notice_attempt_failed("n1@x", None, "550 late".into())
        .await
        .unwrap();
    let counts = b.notice_counts("beta").await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed), (2, 0, 0));

    assert!(b.hold_notice("n0@x").await.unwrap());
    b.notice_sent("n0@x", unix_now()).await.unwrap();
    b.notice_attempt_failed("n1@x", Some(unix_now()), "421 later".into())
        .await
        .unwrap();
    let counts = b.notice_counts("beta").await.unwrap();
    assert_eq!((counts.pending, counts.sent), (1, 1));
    let n1 = b
        .notices(None, Some(NoticeStatus::Pending), 10)
        .await
        .unwrap();
    assert_eq!(
        (n1[0].attempts, n1[0].last_error.as_deref()),
        (1, Some("421 later"))
    );
    // A failed attempt frees the claim: any host may retry it.
    assert_eq!(a.due_notices(unix_now() + 1, 10).await.unwrap().len(), 1);
}

/// A host whose submission server is down tries one notice (put off with
/// backoff) and gives up its claims on the others at the end of the round:
/// another host can take them at once instead of after the claim expires.
#[tokio::test]
async fn a_host_that_cannot_reach_the_server_leaves_the_rest_to_others() {
    let pg = database();
    let claim = popline_state::postgres::NOTICE_CLAIM_TTL;
    let a = Arc::new(backend(&pg, "host-a", claim).await);
    let b = backend(&pg, "host-b", claim).await;
    queue(&a, 3).await;

    // Nothing listens on this port.
    let closed = crate::support::free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "secret").unwrap();
    let file = dir.path().join("popline.toml");
    std::fs::write(
        &file,
        format!(
            "[notices.smtp]\nhost = \"127.0.0.1\"\nport = {closed}\n\
             from = \"beta@contoso.example\"\npassword = {{ file = \"pw\" }}\ntimeout_secs = 5\n\n\
             [sinks.out]\ntype = \"jsonl\"\npath = \"out.jsonl\"\n\n\
             [mailboxes.beta]\nhost = \"127.0.0.1\"\nuser = \"beta@contoso.example\"\n\
             password = {{ file = \"pw\" }}\ndialogue = \"d.wasm\"\nmapper = {{ plugin = \"m.wasm\" }}\n\
             sinks = [\"out\"]\nnotices = {{ via = \"smtp\" }}\n"
        ),
    )
    .unwrap();
    let config = popline_config::Config::load(&file).unwrap();
    let logins = popline_ingest::logins::Logins::new(&config).unwrap();
    let deliverer = popline_ingest::notices::deliverer(&config, a.clone(), &logins).unwrap();
    let done = deliverer.deliver_due().await.unwrap();
    assert_eq!((done.sent, done.retried, done.failed), (0, 1, 0));

    let taken = b.due_notices(unix_now() + 1, 10).await.unwrap();
    assert_eq!(taken.len(), 2, "the untried notices are free for host-b");
    let waiting = a
        .notices(None, Some(NoticeStatus::Pending), 10)
        .await
        .unwrap();
    let tried: Vec<_> = waiting.iter().filter(|n| n.attempts == 1).collect();
    assert_eq!(tried.len(), 1, "{waiting:?}");
    assert!(tried[0].last_error.is_some());
    assert!(!taken.iter().any(|n| n.message_id == tried[0].message_id));
}
