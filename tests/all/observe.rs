//! Observing a real popline: `/metrics`, `/healthz` and `/readyz` of `popline
//! run` (readiness following a PostgreSQL state that stops and comes back),
//! `once --metrics-file`, `status --json`, and the Grafana dashboard's
//! queries against what `/metrics` serves.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use popline_testkit::{Postgres, PostgresOptions, beta_replies};
use serde_json::Value;

use crate::daemon::{KillOnDrop, get};
use crate::ingest::{Setup, USER};
use crate::support;

/// `popline run` on `config`, with `[metrics] listen` on a free port put in
/// front of it; the daemon and the port.
fn run_with_metrics(config: &Path, env: &[(&str, &str)]) -> (KillOnDrop, u16) {
    let port = support::free_port();
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n{text}"),
    )
    .unwrap();
    let mut cmd = support::popline();
    cmd.arg("--config").arg(config).arg("run");
    for (k, v) in env {
        cmd.env(k, v);
    }
    (KillOnDrop(cmd.spawn().unwrap()), port)
}

/// `GET path` until `want` is in the answer (or 20 s pass); the last answer.
fn get_until(port: u16, path: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = get(port, path);
        if out.contains(want) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body of an HTTP answer.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Every PromQL expression of the dashboard: its panels' and its variables'.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(support::root().join("docs/grafana-dashboard.json"))
        .expect("docs/grafana-dashboard.json");
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    for var in dash["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            queries.push(q.to_string());
        }
    }
    assert!(queries.len() >= 15, "{queries:?}");
    queries
}

/// Every metric name a PromQL expression of the dashboard uses.
fn dashboard_metrics() -> BTreeSet<String> {
    let name = regex::Regex::new(r"\bpopline_[A-Za-z0-9_]+").unwrap();
    let names: BTreeSet<String> = dashboard_queries()
        .iter()
        .flat_map(|q| name.find_iter(q).map(|m| m.as_str().to_string()))
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    names
}

/// The sample names `/metrics` serves: every sample present, and for each
/// family declared (`# TYPE`) the names its samples have.
fn served_names(metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        if let Some(decl) = line.strip_prefix("# TYPE ") {
            let (name, kind) = decl.split_once(' ').unwrap();
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            } else {
                names.insert(name.to_string());
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap();
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// A daemon with metrics after one poll: every family described, series
/// at zero for what did not happen, exact paths, health and readiness; and
/// every query of the Grafana dashboard names a metric it serves.
#[test]
fn a_running_daemon_serves_metrics_health_readiness_and_the_dashboards_metrics() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()[..2]).unwrap();
    // beta sends notices (none are due: every reply is used); app signs in
    // with OAuth and has no token yet.
    let cfg = s.config(
        s.dovecot.tls_port(),
        "implicit",
        s.dovecot.ca_pem(),
        "poll_interval = \"1h\"\nnotices = { via = \"mail\", on = [\"dead-letter\"] }",
    );
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text += &format!(
        "\n[notices.mail]\nhost = \"127.0.0.1\"\nport = {smtp}\nfrom = \"{USER}\"\npassword = {{ file = \"password\" }}\n\n\
         [mailboxes.app]\nhost = \"127.0.0.1\"\nport = {pop}\nca_file = \"{ca}\"\nuser = \"{USER}\"\n\
         poll_interval = \"1h\"\ndialogue = \"{dialogue}\"\nmapper = {{ plugin = \"{mapper}\" }}\nsinks = [\"jsonl\"]\n\n\
         [mailboxes.app.oauth]\nflow = \"device-code\"\ntenant = \"contoso.onmicrosoft.com\"\n\
         client_id = \"11111111-2222-4333-8444-555555555555\"\n",
        smtp = support::free_port(),
        pop = s.dovecot.tls_port(),
        ca = s.dovecot.ca_pem().display(),
        dialogue = support::plugin("pop3-standard").display(),
        mapper = support::plugin("feedback-default").display(),
    );
    std::fs::write(&cfg, text).unwrap();
    let (daemon, port) = run_with_metrics(&cfg, &[]);
    let want = "popline_messages_total{mailbox=\"beta\",outcome=\"committed\"} 2";
    let answer = get_until(port, "/metrics", want);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("content-type: text/plain; version=0.0.4"),
        "{answer}"
    );
    let metrics = body(&answer);
    assert!(metrics.contains(want), "{metrics}");
    for line in [
        "popline_polls_total{mailbox=\"beta\",result=\"ok\"} 1",
        "popline_polls_total{mailbox=\"beta\",result=\"error\"} 0",
        "popline_poll_errors_total{mailbox=\"beta\",kind=\"auth\"} 0",
        "popline_messages_total{mailbox=\"beta\",outcome=\"dead_lettered\"} 0",
        "popline_fetched_messages_total{mailbox=\"beta\"} 2",
        "popline_records_total{mailbox=\"beta\"} 2",
        "popline_poll_duration_seconds_count{mailbox=\"beta\"} 1",
        "popline_plugin_call_duration_seconds_count{plugin=\"feedback_default\"} 2",
        &format!(
            "popline_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
        "popline_notices_total{mailbox=\"beta\",result=\"sent\"} 0",
        "popline_outbox_failed_notices{mailbox=\"beta\"} 0",
        "popline_oauth_needs_login{mailbox=\"app\"} 1",
        "popline_token_expiry_timestamp_seconds{mailbox=\"app\"} 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    let bytes = metrics
        .lines()
        .find_map(|l| l.strip_prefix("popline_fetched_bytes_total{mailbox=\"beta\"} "))
        .expect("fetched bytes");
    assert!(bytes.parse::<u64>().unwrap() > 1000, "{bytes}");
    for decl in metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = decl.split(' ').next().unwrap();
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }

    let health = get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let ready = get(port, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200 OK"), "{ready}");
    for path in ["/metricsX", "/metrics/", "/healthz/x", "/"] {
        let out = get(port, path);
        assert!(out.starts_with("HTTP/1.1 404 "), "{path}: {out}");
    }

    // A reload that adds a mailbox: its series appear at once, at zero.
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "{text}\n[mailboxes.gamma]\nhost = \"127.0.0.1\"\nport = 1\nuser = \"{USER}\"\n\
             password = {{ file = \"password\" }}\npoll_interval = \"1h\"\ndialogue = \"{dialogue}\"\n\
             mapper = {{ plugin = \"{mapper}\" }}\nsinks = [\"jsonl\"]\n",
            dialogue = support::plugin("pop3-standard").display(),
            mapper = support::plugin("feedback-default").display(),
        ),
    )
    .unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(daemon.0.id() as i32, libc::SIGHUP) }, 0);
    let gamma = "popline_poll_errors_total{mailbox=\"gamma\",kind=\"auth\"} 0";
    let reloaded = get_until(port, "/metrics", gamma);
    assert!(reloaded.contains(gamma), "{reloaded}");

    let served = served_names(metrics);
    let missing: Vec<_> = dashboard_metrics()
        .into_iter()
        .filter(|n| !served.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/grafana-dashboard.json queries metrics /metrics does not serve: {missing:?}\nserved: {served:?}"
    );
}

/// `/readyz` follows the state database: 200 while PostgreSQL answers, 503
/// naming the state while it is stopped, 200 again once it is back; the
/// process stays healthy throughout.
#[test]
fn readyz_is_503_while_the_postgres_state_is_down() {
    let pg = Postgres::start(PostgresOptions::default()).expect("starting PostgreSQL");
    pg.create_database("ready").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "unused\n").unwrap();
    // The mailbox's server is not there: polls fail, readiness does not care.
    let cfg = dir.path().join("popline.toml");
    std::fs::write(
        &cfg,
        format!(
            "[state]\nbackend = \"postgres\"\nurl = {{ env = \"READY_PG_URL\" }}\n\n\
             [sinks.jsonl]\ntype = \"jsonl\"\npath = \"feedback.jsonl\"\n\n\
             [mailboxes.beta]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nallow_plaintext = true\n\
             user = \"u\"\npassword = {{ file = \"pw\" }}\npoll_interval = \"1h\"\n\
             dialogue = \"{dialogue}\"\nmapper = {{ plugin = \"{mapper}\" }}\nsinks = [\"jsonl\"]\n",
            port = support::free_port(),
            dialogue = support::plugin("pop3-standard").display(),
            mapper = support::plugin("feedback-default").display(),
        ),
    )
    .unwrap();
    let url = pg.url("ready");
    let (_daemon, port) = run_with_metrics(&cfg, &[("READY_PG_URL", &url)]);

    let ready = get_until(port, "/readyz", "200 OK");
    assert!(ready.starts_with("HTTP/1.1 200 OK"), "{ready}");
    assert_eq!(body(&ready), "ready\n");

    pg.stop();
    let down = get_until(port, "/readyz", " 503 ");
    assert!(down.starts_with("HTTP/1.1 503 "), "{down}");
    assert!(
        body(&down).starts_with("not ready: state database unreachable"),
        "{down}"
    );
    assert!(
        !down.contains(pg.password()),
        "the URL's password leaked: {down}"
    );
    assert!(get(port, "/healthz").starts_with("HTTP/1.1 200 OK"));
    // The failed poll was counted by kind.
    let metrics = get(port, "/metrics");
    assert!(
        metrics.contains("popline_poll_errors_total{mailbox=\"beta\",kind=\"network\"} 1"),
        "{metrics}"
    );

    pg.restart().unwrap();
    let back = get_until(port, "/readyz", "200 OK");
    assert!(back.starts_with("HTTP/1.1 200 OK"), "{back}");
}

/// `once --metrics-file` writes the textfile format atomically; a later pass
/// that fails keeps the last success from state; `status --json` reports
/// the same mailbox; an unwritable file is exit 74.
#[test]
fn once_writes_the_textfile_and_status_reports_json() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()[..3]).unwrap();
    let cfg = s.config(s.dovecot.tls_port(), "implicit", s.dovecot.ca_pem(), "");
    let prom_dir = s.path("textfile");
    std::fs::create_dir(&prom_dir).unwrap();
    let prom = prom_dir.join("popline.prom");
    let once = |cfg: &Path, file: &Path| {
        support::popline()
            .arg("--config")
            .arg(cfg)
            .args(["once", "--metrics-file"])
            .arg(file)
            .output()
            .unwrap()
    };
    support::expect_ok(&once(&cfg, &prom));
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("# TYPE popline_messages_total counter"),
        "{text}"
    );
    assert!(
        !text.contains("# EOF"),
        "the textfile format, not OpenMetrics: {text}"
    );
    for line in [
        "popline_messages_total{mailbox=\"beta\",outcome=\"committed\"} 3",
        "popline_polls_total{mailbox=\"beta\",result=\"ok\"} 1",
        "popline_polls_total{mailbox=\"beta\",result=\"error\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    let last_success = |text: &str| -> i64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix("popline_last_success_timestamp_seconds{mailbox=\"beta\"} ")
            })
            .expect("last success")
            .parse()
            .unwrap()
    };
    let first = last_success(&text);
    assert!(first > 1_700_000_000, "{text}");
    let files: Vec<_> = std::fs::read_dir(&prom_dir).unwrap().collect();
    assert_eq!(files.len(), 1, "a temporary file was left: {files:?}");

    let status = support::expect_ok(
        &support::popline()
            .arg("--config")
            .arg(&cfg)
            .args(["status", "--json"])
            .output()
            .unwrap(),
    );
    let status: Value = serde_json::from_str(&status).expect("status --json is JSON");
    let beta = &status["mailboxes"][0];
    assert_eq!(beta["name"], "beta", "{status}");
    assert_eq!(beta["last_poll"]["ok"], true, "{status}");
    assert_eq!(beta["last_ok_at"], first, "{status}");
    let messages: i64 = beta["messages"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(messages, 3, "{status}");
    assert_eq!(beta["auth"], "password");
    assert_eq!(status["leases"], Value::Array(Vec::new()));

    // The server gone: the pass fails, the file says so and still knows
    // when the mailbox last succeeded.
    let broken = s.config(support::free_port(), "implicit", s.dovecot.ca_pem(), "");
    let out = once(&broken, &prom);
    assert_eq!(out.status.code(), Some(75), "{}", support::text(&out));
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("popline_polls_total{mailbox=\"beta\",result=\"error\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("popline_poll_errors_total{mailbox=\"beta\",kind=\"network\"} 1"),
        "{text}"
    );
    assert_eq!(last_success(&text), first, "{text}");

    // A folder that does not exist: the pass's own result is kept apart.
    let cfg = s.config(s.dovecot.tls_port(), "implicit", s.dovecot.ca_pem(), "");
    let out = once(&cfg, &s.path("missing/popline.prom"));
    assert_eq!(out.status.code(), Some(74), "{}", support::text(&out));
    assert!(
        support::text(&out).contains("missing/popline.prom"),
        "{}",
        support::text(&out)
    );
}

/// The dashboard's panel queries parse as PromQL: `promtool check rules` on
/// them as recording rules, Grafana's variables replaced by values. Skipped,
/// saying so, where Prometheus' `promtool` is not installed.
#[test]
fn the_dashboards_queries_parse_as_promql() {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "skipped: promtool not found (apt-get install prometheus); PromQL syntax not checked"
        );
        return;
    }
    let rules: Vec<Value> = dashboard_queries()
        .iter()
        .filter(|q| !q.starts_with("label_values("))
        .enumerate()
        .map(|(i, q)| {
            let expr = q
                .replace("$__rate_interval", "5m")
                .replace("$mailbox", ".*");
            serde_json::json!({ "record": format!("dashboard:query{i}"), "expr": expr })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // JSON is YAML.
    let file = dir.path().join("rules.yml");
    std::fs::write(
        &file,
        serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] }).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    let text = support::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("SUCCESS: {} rules found", rules.len())),
        "{text}"
    );
}
