//! State shared by a fleet of hosts in a real PostgreSQL (started by the
//! testkit): mailbox leases with fencing tokens, a paused host's late
//! writes refused, fair shares, graceful release, and `popline once` and
//! `popline status` honouring leases across processes.

use std::time::Duration;

use popline_state::{
    Committed, Disposition, LeaseLost, PostgresBackend, PostgresOptions, StateBackend,
};
use popline_testkit::{Postgres, PostgresOptions as ServerOptions};

use crate::support::scenario::{Mailbox, Run, Workspace, replies};
use crate::support::scripted::{Script, ScriptedServer};

const LIMIT: Duration = Duration::from_secs(60);

/// The user of the scripted server's mailbox.
const BETA: &str = "beta@beta.example.com";

/// `[state]` lines: PostgreSQL at `$POPLINE_TEST_PG_URL`.
const PG_STATE: &str = "backend = \"postgres\"\nurl = { env = \"POPLINE_TEST_PG_URL\" }";

/// A scripted server with `n` replies for [`BETA`].
fn beta_server(n: usize) -> ScriptedServer {
    ScriptedServer::spawn(Script::login(BETA, "pw"), replies("beta", n))
}

/// `popline ARGS` on `ws` with the database at `url`.
fn popline_on(ws: &Workspace, url: &str, args: &[&str]) -> Run {
    let mut cmd = ws.popline(args);
    cmd.env("POPLINE_TEST_PG_URL", url);
    crate::support::scenario::run(cmd, LIMIT)
}

/// Write `ws`'s configuration for a fleet: PostgreSQL state and a postgres
/// sink at `$URL_ENV`, and one delete-mode mailbox per Dovecot user (named
/// by the address's local part, password `PW`), with `state` and `mailbox`
/// lines added to their tables.
pub(crate) fn write_fleet_config(
    ws: &Workspace,
    dovecot: &popline_testkit::Dovecot,
    users: &[String],
    (password, url_env): (&str, &str),
    state: &str,
    mailbox: &str,
) {
    std::fs::write(ws.path("pw"), password).unwrap();
    let mut text = format!(
        "[state]\npath = \"state.db\"\nbackend = \"postgres\"\nurl = {{ env = \"{url_env}\" }}\n{state}\n\n\
         [sinks.db]\ntype = \"postgres\"\nurl = {{ env = \"{url_env}\" }}\n"
    );
    for user in users {
        let name = user.split('@').next().unwrap();
        text.push_str(&format!(
            "\n[mailboxes.{name}]\nhost = \"localhost\"\nport = {port}\nca_file = \"{ca}\"\nuser = \"{user}\"\n\
             password = {{ file = \"pw\" }}\ndialogue = \"{dialogue}\"\n\
             mapper = {{ plugin = \"{mapper}\", config = {{ unmatched = \"new\" }} }}\n\
             sinks = [\"db\"]\nretention = \"delete\"\n{mailbox}\n",
            port = dovecot.tls_port(),
            ca = dovecot.ca_pem().display(),
            dialogue = crate::support::plugin("pop3-standard").display(),
            mapper = crate::support::plugin("feedback-default").display(),
        ));
    }
    std::fs::write(ws.config(), text).unwrap();
}

pub(crate) fn database() -> Postgres {
    let pg = Postgres::start(ServerOptions::default()).expect("starting PostgreSQL");
    pg.create_database("fleet").unwrap();
    pg
}

pub(crate) fn host(pg: &Postgres, name: &str, ttl: Duration) -> PostgresOptions {
    PostgresOptions {
        url: pg.url("fleet"),
        pool_size: 2,
        ca_file: None,
        lease_ttl: ttl,
        host_id: name.into(),
        mailboxes: 2,
        notice_claim_ttl: popline_state::postgres::NOTICE_CLAIM_TTL,
    }
}

fn committed(uid: &str) -> Committed {
    Committed {
        uid: uid.into(),
        message_id: Some(format!("<{uid}@beta.example.com>")),
        sha256: format!("sha-{uid}"),
        body_sha256: None,
        size: 100,
        outcome: Disposition::Feedback { records: 1 },
    }
}

#[track_caller]
fn lost(r: anyhow::Result<()>) -> bool {
    r.is_err_and(|e| e.downcast_ref::<LeaseLost>().is_some())
}

/// One host per mailbox at a time. A host paused past its lease finds its
/// commits and its DELE authorisations refused once another host took the
/// mailbox with a newer fencing token; two live hosts share two mailboxes
/// one each; a host that shuts down frees its mailboxes at once.
#[tokio::test]
async fn leases_fence_a_paused_host_and_share_mailboxes_fairly() {
    let pg = database();
    let ttl = Duration::from_secs(2);
    let a = PostgresBackend::connect(host(&pg, "host-a", ttl))
        .await
        .unwrap();
    assert!(a.acquire("m1").await.unwrap());
    let b = PostgresBackend::connect(host(&pg, "host-b", ttl))
        .await
        .unwrap();
    assert!(!b.acquire("m1").await.unwrap(), "host-a holds m1");
    a.record_batch("m1", vec![committed("u1")]).await.unwrap();
    let first = a.leases().await.unwrap();

    // host-a stops renewing (paused) past the TTL; host-b takes m1.
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    assert!(
        b.acquire("m1").await.unwrap(),
        "an expired lease is taken over"
    );
    assert!(lost(a.record_batch("m1", vec![committed("late")]).await));
    assert!(lost(a.mark_deleting("m1", vec!["u1".into()]).await));
    assert!(!a.renew("m1").await.unwrap());
    b.record_batch("m1", vec![committed("u2")]).await.unwrap();
    let seen = b.seen("m1").await.unwrap();
    assert!(seen.contains_key("u1") && seen.contains_key("u2"));
    assert!(
        !seen.contains_key("late"),
        "the paused host's write is not stored"
    );
    assert!(
        !seen["u1"].deleted,
        "no DELE was authorised by the paused host"
    );
    let now = b.leases().await.unwrap();
    assert_eq!(now[0].holder, "host-b");
    assert!(now[0].token > first[0].token, "a new lease, a newer token");

    // Two live hosts, two mailboxes: one each.
    assert!(a.acquire("m2").await.unwrap());
    assert!(!b.acquire("m2").await.unwrap(), "host-b has its fair share");
    assert!(!a.acquire("m1").await.unwrap(), "m1 is host-b's");

    // host-b shuts down: its mailbox is free at once, not after the TTL
    // (host-a notices within a sixth of the TTL, when it next counts hosts).
    b.release_all().await.unwrap();
    tokio::time::sleep(ttl / 4).await;
    assert!(a.acquire("m1").await.unwrap());
    assert_eq!(
        a.leases()
            .await
            .unwrap()
            .iter()
            .map(|l| l.holder.as_str())
            .collect::<Vec<_>>(),
        ["host-a", "host-a"]
    );
}

/// `popline once` on PostgreSQL state polls only the mailboxes whose lease
/// it can take: one held elsewhere is skipped (and shown by `popline
/// status` with its holder), the other ingested; once the holder lets go,
/// the next run ingests it, and nothing twice.
#[tokio::test]
async fn once_polls_only_mailboxes_it_holds_and_status_shows_holders() {
    let pg = database();
    let server = beta_server(2);
    server.add_user("other@beta.example.com", "pw", replies("other", 3));
    let elsewhere = PostgresBackend::connect(host(&pg, "elsewhere", Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(elsewhere.acquire("beta").await.unwrap());

    let mut ws = Workspace::new();
    ws.state = format!("{PG_STATE}\nhost_id = \"test-host\"");
    ws.configure(&[
        Mailbox::scripted("beta", server.port, BETA, "pw"),
        Mailbox::scripted("other", server.port, "other@beta.example.com", "pw"),
    ]);
    let once = || popline_on(&ws, &pg.url("fleet"), &["once"]);
    let out = once();
    out.assert_success();
    assert!(
        out.line("beta").contains("skipped: another host holds"),
        "{out}"
    );
    assert!(out.line("other").contains("committed 3"), "{out}");

    let status = popline_on(&ws, &pg.url("fleet"), &["status"]);
    status.assert_success();
    let holder = status
        .stdout
        .lines()
        .find(|l| l.starts_with("beta ") && l.contains("elsewhere"));
    assert!(holder.is_some(), "{status}");
    // The poll was recorded in the shared state.
    let other = status.stdout.lines().find(|l| l.starts_with("other "));
    assert!(
        other.is_some_and(|l| l.contains(" ago ") && l.contains(" ok ")),
        "{status}"
    );

    elsewhere.release_all().await.unwrap();
    let out = once();
    out.assert_success();
    assert!(out.line("beta").contains("committed 2"), "{out}");
    assert!(out.line("other").contains("committed 0"), "{out}");
    assert_eq!(ws.jsonl().len(), 5, "every reply exactly once");
}

/// State and a `postgres` sink in one database: every reply lands in the
/// `feedback` table exactly once, also when the same messages are offered
/// again (a replay after a crash between the sink's commit and the state's).
#[tokio::test]
async fn postgres_sink_stores_each_record_once() {
    let pg = database();
    let server = beta_server(3);
    let mut ws = Workspace::new();
    ws.state = PG_STATE.into();
    ws.sinks = "[sinks.pg]\ntype = \"postgres\"\nurl = { env = \"POPLINE_TEST_PG_URL\" }\n".into();
    ws.configure(&[Mailbox::scripted("beta", server.port, BETA, "pw").sinks(&["pg"])]);
    let once = |ws: &Workspace| popline_on(ws, &pg.url("fleet"), &["once"]);
    let out = once(&ws);
    out.assert_success();
    assert!(
        out.line("beta").contains("committed 3 (3 records)"),
        "{out}"
    );

    let (client, conn) = tokio_postgres::connect(&pg.url("fleet"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    async fn count(client: &tokio_postgres::Client) -> (i64, i64) {
        let r = client
            .query_one("SELECT count(*), count(DISTINCT id) FROM feedback", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    }
    assert_eq!(count(&client).await, (3, 3));
    let kind: String = client
        .query_one("SELECT record->>'schema' FROM feedback LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert!(kind.starts_with("popline.feedback/"), "{kind}");

    // Forget the state (as if it had not committed): the messages are
    // fetched and mapped again, and the sink stores nothing twice.
    client
        .execute("DELETE FROM messages WHERE mailbox = 'beta'", &[])
        .await
        .unwrap();
    let out = once(&ws);
    out.assert_success();
    assert!(out.line("beta").contains("committed 3"), "{out}");
    assert_eq!(count(&client).await, (3, 3));
}

/// A postgres sink on the state's own database commits its records in the
/// state's transaction: a crash between the sinks and the state (failpoint
/// `after-sink`) leaves no record of the batch there, where a postgres sink
/// on another database has already committed its own. The next run stores
/// each reply once in both.
#[tokio::test]
async fn a_sink_on_the_state_database_commits_with_the_state() {
    let pg = database();
    pg.create_database("elsewhere").unwrap();
    let server = beta_server(2);
    let mut ws = Workspace::new();
    ws.state = format!("{PG_STATE}\nlease_ttl = \"2s\"");
    ws.sinks = "[sinks.joined]\ntype = \"postgres\"\nurl = { env = \"POPLINE_TEST_PG_URL\" }\n\n\
                [sinks.apart]\ntype = \"postgres\"\nurl = { env = \"ELSEWHERE_URL\" }\n"
        .into();
    ws.configure(&[Mailbox::scripted("beta", server.port, BETA, "pw").sinks(&["joined", "apart"])]);
    let once = |failpoint: Option<&str>| {
        let mut cmd = ws.popline(&["once"]);
        cmd.env("POPLINE_TEST_PG_URL", pg.url("fleet"))
            .env("ELSEWHERE_URL", pg.url("elsewhere"));
        if let Some(f) = failpoint {
            cmd.env("POPLINE_FAILPOINT", f);
        }
        crate::support::scenario::run(cmd, LIMIT)
    };
    let count = |db: &str| {
        let url = pg.url(db);
        async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let n: i64 = client
                .query_one("SELECT count(*) FROM feedback", &[])
                .await
                .unwrap()
                .get(0);
            n
        }
    };

    once(Some("after-sink")).assert_failure();
    assert_eq!(
        count("elsewhere").await,
        2,
        "the separate sink committed first"
    );
    assert_eq!(
        count("fleet").await,
        0,
        "the joined sink's records wait for the state's commit"
    );

    // The crashed run could not release its lease: it expires first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = once(None);
    out.assert_success();
    assert!(
        out.line("beta").contains("committed 2 (2 records)"),
        "{out}"
    );
    assert_eq!((count("fleet").await, count("elsewhere").await), (2, 2));
}

/// A `nats` sink on a real `nats-server -js`: every reply is in the stream
/// once, also when the same messages are published again (a replay: the
/// stream drops them by `Nats-Msg-Id`); with the server down the poll fails
/// before any commit, and in delete mode nothing leaves the POP server.
#[tokio::test]
async fn nats_sink_publishes_each_record_once_and_blocks_deletion_without_acks() {
    use popline_testkit::{Nats, NatsOptions};
    let nats = Nats::start(NatsOptions::default()).expect("starting nats-server");
    let server = beta_server(3);
    let mut ws = Workspace::new();
    ws.sinks = format!(
        "[sinks.stream]\ntype = \"nats\"\nurl = \"{}\"\nsubject = \"feedback.records\"\nstream = \"FEEDBACK\"\nack_timeout_secs = 3\n",
        nats.url()
    );
    let mailbox = || Mailbox::scripted("beta", server.port, BETA, "pw").sinks(&["stream"]);
    ws.configure(&[mailbox()]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(
        out.line("beta").contains("committed 3 (3 records)"),
        "{out}"
    );

    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let messages = |js: async_nats::jetstream::Context| async move {
        let mut stream = js.get_stream("FEEDBACK").await.unwrap();
        stream.info().await.unwrap().state.messages
    };
    assert_eq!(messages(js.clone()).await, 3);

    // A replay: the state forgets, the same records are published again.
    std::fs::remove_file(ws.path("state.db")).unwrap();
    let out = ws.once(LIMIT);
    out.assert_success();
    assert_eq!(
        messages(js.clone()).await,
        3,
        "duplicates dropped by Nats-Msg-Id"
    );

    // The stream is down: nothing is committed, so nothing is deleted.
    server.deliver(BETA, replies("late", 1));
    nats.kill();
    ws.configure(&[mailbox().with("retention = \"delete\"")]);
    let out = ws.once(LIMIT);
    out.assert_failure();
    assert!(out.line("beta").contains("NATS:"), "{out}");
    assert_eq!(server.remaining_of(BETA), 4, "{out}");
}

/// Three `popline run` hosts share 60 Dovecot mailboxes of 50 replies each
/// in delete mode, with PostgreSQL state and a postgres sink. One is killed
/// (`SIGKILL`) mid-poll, another stopped (`SIGSTOP`) for longer than the
/// lease TTL and then resumed. Every reply lands in the sink exactly once,
/// none is deleted before its record is stored (all 3,000 are in the sink
/// once the mailboxes are empty), the mailboxes are drained, and the
/// resumed host finds its leases lost and its late writes refused.
#[tokio::test]
async fn a_fleet_survives_a_killed_host_and_a_paused_one_exactly_once() {
    use popline_testkit::{Dovecot, DovecotOptions};
    use std::process::{Child, Stdio};
    const MAILBOXES: usize = 60;
    const PER_MAILBOX: usize = 50;
    let pg = database();
    let user = |i: usize| format!("m{i:02}@fleet.example.com");
    let mut opts = DovecotOptions::default();
    for i in 0..MAILBOXES {
        opts = opts.user(user(i), "fleet-pw");
    }
    let dovecot = Dovecot::start(opts).unwrap();
    for i in 0..MAILBOXES {
        dovecot
            .seed(&user(i), &replies(&format!("m{i:02}"), PER_MAILBOX))
            .unwrap();
    }
    let ws = Workspace::new();
    let users: Vec<String> = (0..MAILBOXES).map(user).collect();
    write_fleet_config(
        &ws,
        &dovecot,
        &users,
        ("fleet-pw", "POPLINE_TEST_PG_URL"),
        "lease_ttl = \"3s\"",
        "poll_interval = \"1s\"\nbatch_size = 10",
    );
    let host = |name: &str| -> Child {
        let log = std::fs::File::create(ws.path(&format!("{name}.log"))).unwrap();
        let mut cmd = ws.popline(&["run"]);
        cmd.env("POPLINE_TEST_PG_URL", pg.url("fleet"))
            .env("POPLINE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        cmd.spawn().unwrap()
    };
    let signal = |child: &Child, sig: libc::c_int| {
        // SAFETY: a plain syscall on our own child.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
    };
    let mut a = host("a");
    let mut b = host("b");
    let mut c = host("c");
    let remaining = || {
        (0..MAILBOXES)
            .map(|i| dovecot.count(&user(i)).unwrap())
            .sum::<usize>()
    };
    let total = MAILBOXES * PER_MAILBOX;
    // Mid-poll: messages are being taken.
    crate::support::scenario::wait_for(LIMIT, "the hosts to start ingesting", || {
        remaining() < total
    });
    signal(&a, libc::SIGKILL);
    signal(&c, libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(5)).await; // past the 3 s TTL
    signal(&c, libc::SIGCONT);

    crate::support::scenario::wait_for(
        Duration::from_secs(180),
        "the surviving hosts to drain every mailbox",
        || remaining() == 0,
    );
    let (client, conn) = tokio_postgres::connect(&pg.url("fleet"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT record->>'source_message_id') FROM feedback",
            &[],
        )
        .await
        .unwrap();
    let (records, messages): (i64, i64) = (row.get(0), row.get(1));
    for child in [&b, &c] {
        signal(child, libc::SIGTERM);
    }
    let _ = a.wait();
    assert!(b.wait().unwrap().success());
    assert!(c.wait().unwrap().success());
    let log_c = std::fs::read_to_string(ws.path("c.log")).unwrap();
    assert_eq!(
        (records, messages),
        (total as i64, total as i64),
        "every reply exactly once\n--- b ---\n{}\n--- c ---\n{log_c}",
        std::fs::read_to_string(ws.path("b.log")).unwrap()
    );
    // Found lost at renewal, at a check mid-batch or before the commit, or
    // refused by the fenced write itself.
    let signs = ["lease was lost", "lease lost", "write refused"];
    eprintln!(
        "paused host: {:?}",
        signs.map(|w| (w, log_c.matches(w).count()))
    );
    assert!(
        signs.iter().any(|w| log_c.contains(w)),
        "the paused host learns it lost its leases:\n{log_c}"
    );
}

/// A database that is down at start is a temporary failure (exit 75, try
/// later), says so without the URL's password, and touches no mailbox.
#[test]
fn a_database_down_at_start_is_temporary_and_touches_nothing() {
    let pg = database();
    let url = pg.url("fleet");
    pg.stop();
    let server = beta_server(2);
    let mut ws = Workspace::new();
    ws.state = PG_STATE.into();
    ws.configure(&[
        Mailbox::scripted("beta", server.port, BETA, "pw").with("retention = \"delete\"")
    ]);
    let out = popline_on(&ws, &url, &["once"]);
    assert_eq!(out.status.code(), Some(75), "{out}");
    assert!(out.stderr.contains("cannot reach PostgreSQL"), "{out}");
    assert!(!out.stderr.contains(pg.password()), "no password: {out}");
    assert_eq!(server.remaining_of(BETA), 2);
    assert!(server.commands_of(BETA).is_empty());
}

/// `popline state migrate --to postgres` copies a single host's SQLite
/// state, so the fleet does not fetch again what was committed: after the
/// switch, the same mailbox yields no new records.
#[tokio::test]
async fn state_migrate_moves_a_single_host_into_the_fleet() {
    let pg = database();
    let server = beta_server(3);
    let mut ws = Workspace::new();
    let mailbox = || Mailbox::scripted("beta", server.port, BETA, "pw");
    ws.configure(&[mailbox()]);
    ws.once(LIMIT).assert_success();
    assert_eq!(ws.jsonl().len(), 3);
    // A notice waiting in the SQLite outbox moves too.
    popline_state::SqliteState::open(&ws.path("state.db"))
        .unwrap()
        .queue_notices(
            "beta",
            &[popline_state::NewNotice {
                message_id: "popline-notice.no-match.k@beta.example.com".into(),
                uid: "1".into(),
                via: "smtp".into(),
                sender: BETA.into(),
                recipient: "tester1@example.org".into(),
                reason: "no-match".into(),
                raw: b"Subject: hi\r\n\r\nhi\r\n".to_vec(),
                per_recipient_per_day: 3,
            }],
        )
        .unwrap();

    ws.state = PG_STATE.into();
    ws.configure(&[mailbox()]);
    let popline = |args: &[&str]| popline_on(&ws, &pg.url("fleet"), args);
    let out = popline(&["state", "migrate", "--to", "postgres"]);
    out.assert_success();
    assert!(
        out.stdout.contains("3 committed messages") && out.stdout.contains("1 notices"),
        "{out}"
    );
    let fleet = PostgresBackend::connect(host(&pg, "reader", LIMIT))
        .await
        .unwrap();
    let moved = fleet.notices(None, None, 10).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (moved[0].recipient.as_str(), moved[0].status),
        ("tester1@example.org", popline_state::NoticeStatus::Pending)
    );
    let again = popline(&["state", "migrate", "--to", "postgres"]);
    assert!(again.stdout.contains("0 committed messages"), "{again}");
    let out = popline(&["once"]);
    out.assert_success();
    assert!(out.line("beta").contains("committed 0"), "{out}");
    assert_eq!(ws.jsonl().len(), 3, "nothing fetched again");
}

/// The database goes away in the middle of a poll (delete mode): the poll
/// fails, nothing is deleted from the server, and once the database is back
/// the next poll stores every reply exactly once.
#[test]
fn the_database_going_away_mid_poll_loses_nothing() {
    let pg = database();
    let user = BETA;
    // A slow message in the middle: the database dies while it comes.
    let (server, ws, child) = slow_message_once(&pg, 10, 5, Duration::from_millis(3), "");
    crate::support::scenario::wait_for(LIMIT, "the slow message to be asked for", || {
        server.commands_of(user).iter().any(|c| c == "RETR 5")
    });
    pg.kill();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("beta: FAILED"), "{said}");
    assert_eq!(server.remaining_of(user), 10, "nothing deleted: {said}");

    pg.restart().unwrap();
    // The failed run could not release its lease: it expires first.
    std::thread::sleep(Duration::from_secs(3));
    server.update_script(|s| s.faults.clear());
    let out = popline_on(&ws, &pg.url("fleet"), &["once"]);
    out.assert_success();
    assert_eq!(server.remaining_of(user), 0, "{out}");
    let mut ids = ws.jsonl_ids();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((n, ids.len()), (10, 10), "every reply once: {out}");
}

/// A host that loses a mailbox's lease in the middle of a batch (here: it
/// is stopped past the TTL while a message arrives, and another host takes
/// the mailbox) stops after the message in hand: nothing of that batch
/// reaches its sink or its state, and nothing is deleted. The batches it
/// committed while it held the lease stay committed.
#[tokio::test]
async fn a_lease_lost_mid_batch_stops_before_the_sink() {
    let pg = database();
    // The second batch arrives slowly: the host is paused meanwhile.
    let (server, ws, child) =
        slow_message_once(&pg, 4, 3, Duration::from_millis(10), "host_id = \"paused\"");
    let (client, conn) = tokio_postgres::connect(&pg.url("fleet"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // The first batch is committed while the second (slow) one arrives.
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let n: i64 = client
            .query_one("SELECT count(*) FROM messages WHERE mailbox = 'beta'", &[])
            .await
            .map(|r| r.get(0))
            .unwrap_or(0);
        if n == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first batch is never committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.commands_of(BETA).iter().any(|c| c == "RETR 3"));
    let signal = |sig: libc::c_int| {
        // SAFETY: a plain syscall on our own child.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
    };
    signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(3)).await; // past the 2 s TTL
    let usurper = PostgresBackend::connect(host(&pg, "usurper", Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(usurper.acquire("beta").await.unwrap(), "the lease expired");
    signal(libc::SIGCONT);
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let logs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{said}\n{logs}");
    assert!(
        said.contains("lost the mailbox's lease mid-poll"),
        "{said}\n{logs}"
    );
    assert_eq!(
        ws.jsonl().len(),
        2,
        "only the batch committed under the lease reached the sink\n{logs}"
    );
    let committed = usurper.seen("beta").await.unwrap();
    assert_eq!(committed.len(), 2, "{committed:?}");
    assert_eq!(server.remaining_of(BETA), 4, "nothing deleted: {logs}");
}

/// `popline once` (spawned, output piped) on a delete-mode mailbox of `n`
/// replies for [`BETA`] in batches of 2, with PostgreSQL state (lease TTL
/// 2 s, `state` lines added) and message `slow` sent one byte per `pause`.
fn slow_message_once(
    pg: &Postgres,
    n: usize,
    slow: usize,
    pause: Duration,
    state: &str,
) -> (ScriptedServer, Workspace, std::process::Child) {
    use crate::support::scripted::{Action, Fault};
    let server = ScriptedServer::spawn(
        Script {
            faults: vec![Fault::on("RETR", Action::Trickle(pause)).arg(slow)],
            ..Script::login(BETA, "pw")
        },
        replies("beta", n),
    );
    let mut ws = Workspace::new();
    ws.state = format!("{PG_STATE}\nlease_ttl = \"2s\"\n{state}");
    ws.configure(&[Mailbox::scripted("beta", server.port, BETA, "pw")
        .with("retention = \"delete\"")
        .with("batch_size = 2")]);
    let mut cmd = ws.popline(&["once"]);
    cmd.env("POPLINE_TEST_PG_URL", pg.url("fleet"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    (server, ws, child)
}
