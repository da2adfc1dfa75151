//! `just bench-fleet`: 1,000 mailboxes (a few replies each) in Dovecot,
//! drained by 1, 2 and 3 `popline run` hosts sharing PostgreSQL state and a
//! postgres sink. Prints, per host count: messages/s, lease acquisitions/s,
//! p99 time from a reply's delivery to its record, and peak RSS per host.
//! The point is the shape of the curve, and that one host is not slowed by
//! the lease machinery. Not part of `just test` (ignored).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use popline_testkit::{Dovecot, DovecotOptions, Postgres, PostgresOptions};

use crate::support::scenario::{Workspace, replies};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
#[ignore = "benchmark: just bench-fleet"]
// The hosts are reaped with wait4 (for their peak RSS), which clippy cannot see.
#[allow(clippy::zombie_processes)]
async fn bench_fleet() {
    let mailboxes = env("POPLINE_BENCH_MAILBOXES", 1000);
    let per = env("POPLINE_BENCH_PER_MAILBOX", 3);
    let user = |i: usize| format!("b{i:04}@fleet.example.com");
    let mut opts = DovecotOptions::default();
    for i in 0..mailboxes {
        opts = opts.user(user(i), "bench-pw");
    }
    let dovecot = Dovecot::start(opts).unwrap();
    let pg = Postgres::start(PostgresOptions::default()).unwrap();
    println!(
        "{mailboxes} mailboxes x {per} replies; PostgreSQL state and sink; lease TTL 10 s, poll interval 2 s"
    );
    println!(
        "| hosts | messages/s | lease acquisitions/s | acquisitions per mailbox | p99 delivery → record | peak RSS per host |"
    );
    println!("|---|---|---|---|---|---|");
    let mut reasons = Vec::new();
    for hosts in 1..=3 {
        let db = format!("bench{hosts}");
        pg.create_database(&db).unwrap();
        let ws = Workspace::new();
        let users: Vec<String> = (0..mailboxes).map(user).collect();
        crate::fleet::write_fleet_config(
            &ws,
            &dovecot,
            &users,
            ("bench-pw", "POPLINE_BENCH_PG_URL"),
            "lease_ttl = \"10s\"\npool_size = 16",
            "poll_interval = \"2s\"",
        );
        let delivered = now();
        for i in 0..mailboxes {
            let tag = format!("h{hosts}-b{i:04}");
            dovecot.seed(&user(i), &replies(&tag, per)).unwrap();
        }
        let started = Instant::now();
        let mut children: Vec<Child> = (0..hosts)
            .map(|h| {
                let log = std::fs::File::create(ws.path(&format!("host{h}.log"))).unwrap();
                let mut cmd = ws.popline(&["run"]);
                cmd.env("POPLINE_BENCH_PG_URL", pg.url(&db))
                    .env("POPLINE_LOG", "warn,popline_state=info")
                    .stdout(Stdio::null())
                    .stderr(log);
                cmd.spawn().unwrap()
            })
            .collect();
        let total = mailboxes * per;
        let (client, conn) = tokio_postgres::connect(&pg.url(&db), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let stored = || async {
            client
                .query_one("SELECT count(*) FROM feedback", &[])
                .await
                .map(|r| r.get::<_, i64>(0) as usize)
                .unwrap_or(0)
        };
        let deadline = Instant::now() + Duration::from_secs(1800);
        while stored().await < total {
            assert!(Instant::now() < deadline, "not drained within 30 minutes");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        // Every take attempt draws a token (the INSERT evaluates nextval
        // before it meets the conflict), so the sequence counts attempts;
        // acquisitions are counted from the hosts' logs below.
        let attempts: i64 = client
            .query_one("SELECT last_value FROM lease_tokens", &[])
            .await
            .unwrap()
            .get(0);
        // Delivery → record: the records' received_at (when the host
        // fetched and committed them) against the delivery time.
        let mut lags: Vec<f64> = client
            .query("SELECT record->>'received_at' FROM feedback", &[])
            .await
            .unwrap()
            .iter()
            .filter_map(|r| humantime::parse_rfc3339(r.get::<_, &str>(0)).ok())
            .map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() - delivered)
            .collect();
        lags.sort_by(f64::total_cmp);
        let p99 = lags[(lags.len() * 99 / 100).min(lags.len() - 1)];
        let mut peaks = Vec::new();
        for child in &mut children {
            // SAFETY: a plain syscall on our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let (_, peak_kib) =
                crate::support::scenario::reap(child.id() as libc::pid_t, true).unwrap();
            peaks.push(format!("{} MiB", peak_kib / 1024));
        }
        // Why leases changed hands, from the hosts' logs.
        let mut why = (0, 0, 0);
        for h in 0..hosts {
            let log = std::fs::read_to_string(ws.path(&format!("host{h}.log"))).unwrap();
            why.0 += log.matches("took the mailbox's lease").count();
            why.1 += log.matches("gave the mailbox's lease up").count();
            why.2 += log.matches("lease was lost").count() + log.matches("write refused").count();
        }
        reasons.push(format!(
            "{hosts} host(s): {} leases taken, {} given up over a fair share, {} lost or refused; {attempts} take attempts",
            why.0, why.1, why.2
        ));
        println!(
            "| {hosts} | {:.0} | {:.1} | {:.1} | {p99:.1} s | {} |",
            total as f64 / elapsed,
            why.0 as f64 / elapsed,
            why.0 as f64 / mailboxes as f64,
            peaks.join(", ")
        );
    }
    for r in reasons {
        println!("{r}");
    }
}
