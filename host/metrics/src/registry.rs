//! The metric families popline exports, on `prometheus-client`, and the
//! process-wide instance the recording functions write to.
//!
//! Names follow Prometheus' conventions: a unit before `_total`
//! (`popline_fetched_bytes_total`), outcomes and results as labels, every
//! family with `# HELP` and `# TYPE`. A configured mailbox's series exist
//! from start, at zero ([`Metrics::register_mailbox`]), so `rate()` and
//! `increase()` see the first event and an absent series means a typo.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// What became of a message a poll looked at: the `outcome` label of
/// `popline_messages_total`. Each message has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its feedback records were committed.
    Committed,
    /// The mapper skipped it (auto-reply, no match...).
    Skipped,
    /// Already committed under another uid.
    Duplicate,
    /// The mapper could not handle it; kept as a dead letter.
    DeadLettered,
    /// Could not be processed; left on the server.
    Failed,
    /// Left on the server for its size.
    Oversized,
}

impl Outcome {
    /// Every outcome, for the series present from start.
    pub const ALL: [Outcome; 6] = [
        Outcome::Committed,
        Outcome::Skipped,
        Outcome::Duplicate,
        Outcome::DeadLettered,
        Outcome::Failed,
        Outcome::Oversized,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Skipped => "skipped",
            Outcome::Duplicate => "duplicate",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::Failed => "failed",
            Outcome::Oversized => "oversized",
        }
    }
}

/// The `result` label of `popline_polls_total`.
pub const POLL_RESULTS: [&str; 2] = ["ok", "error"];

/// The `result` label of `popline_notices_total`: sent, put off for a
/// retry, or failed for good. (Notices the per-sender limit suppresses are
/// decided inside the outbox's insert and counted by `popline status`.)
pub const NOTICE_RESULTS: [&str; 3] = ["sent", "retried", "failed"];

/// One successful poll's counts ([`record_poll`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollCounts {
    /// Messages by what became of them.
    pub messages: Vec<(Outcome, u64)>,
    /// Messages retrieved.
    pub fetched_messages: u64,
    /// Bytes read from the server.
    pub fetched_bytes: u64,
    /// Messages deleted from the server.
    pub deleted_messages: u64,
    /// Feedback records written.
    pub records: u64,
}

/// Upper bounds (seconds) of the plugin call duration histogram.
const CALL_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Upper bounds (seconds) of the poll duration histogram: an idle mailbox
/// answers in well under a second, a backlog takes minutes.
const POLL_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailboxLabel {
    mailbox: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    mailbox: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    mailbox: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    mailbox: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabel {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every family popline exports, registered in one `prometheus-client`
/// [`Registry`]. The process uses one ([`global`]); tests make their own.
pub struct Metrics {
    registry: Registry,
    build_info: Family<VersionLabel, Gauge>,
    polls: Family<ResultLabels, Counter>,
    poll_errors: Family<KindLabels, Counter>,
    poll_duration: Histograms<MailboxLabel>,
    messages: Family<OutcomeLabels, Counter>,
    fetched_messages: Family<MailboxLabel, Counter>,
    fetched_bytes: Family<MailboxLabel, Counter>,
    deleted_messages: Family<MailboxLabel, Counter>,
    records: Family<MailboxLabel, Counter>,
    last_success: Family<MailboxLabel, Gauge>,
    token_expiry: Family<MailboxLabel, Gauge>,
    needs_login: Family<MailboxLabel, Gauge>,
    notices: Family<ResultLabels, Counter>,
    outbox_failed: Family<MailboxLabel, Gauge>,
    plugin_calls: Histograms<PluginLabel>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every family, registered and empty.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            build_info: Family::default(),
            polls: Family::default(),
            poll_errors: Family::default(),
            poll_duration: Family::new_with_constructor(|| Histogram::new(POLL_BUCKETS)),
            messages: Family::default(),
            fetched_messages: Family::default(),
            fetched_bytes: Family::default(),
            deleted_messages: Family::default(),
            records: Family::default(),
            last_success: Family::default(),
            token_expiry: Family::default(),
            needs_login: Family::default(),
            notices: Family::default(),
            outbox_failed: Family::default(),
            plugin_calls: Family::new_with_constructor(|| Histogram::new(CALL_BUCKETS)),
            registry: Registry::default(),
        };
        // Help texts get a final period from prometheus-client; counters
        // get `_total`, and a unit goes before it.
        let r = &mut registry;
        r.register(
            "popline_build_info",
            "The running popline's version (always 1)",
            m.build_info.clone(),
        );
        r.register(
            "popline_polls",
            "Polls of a mailbox by result (ok, error)",
            m.polls.clone(),
        );
        r.register(
            "popline_poll_errors",
            "Failed polls of a mailbox by error kind (auth, tls, network, plugin, state...)",
            m.poll_errors.clone(),
        );
        r.register_with_unit(
            "popline_poll_duration",
            "How long a poll of a mailbox took, from connecting to its last commit",
            Unit::Seconds,
            m.poll_duration.clone(),
        );
        r.register(
            "popline_messages",
            "Messages a poll looked at, by outcome (committed, skipped, duplicate, dead_lettered, failed, oversized)",
            m.messages.clone(),
        );
        r.register(
            "popline_fetched_messages",
            "Messages retrieved from the server",
            m.fetched_messages.clone(),
        );
        r.register_with_unit(
            "popline_fetched",
            "Bytes read from the server",
            Unit::Bytes,
            m.fetched_bytes.clone(),
        );
        r.register(
            "popline_deleted_messages",
            "Messages deleted from the server",
            m.deleted_messages.clone(),
        );
        r.register(
            "popline_records",
            "Feedback records written to the sinks",
            m.records.clone(),
        );
        r.register_with_unit(
            "popline_last_success_timestamp",
            "When the mailbox was last polled successfully, Unix time (0: never)",
            Unit::Seconds,
            m.last_success.clone(),
        );
        r.register_with_unit(
            "popline_token_expiry_timestamp",
            "When the mailbox's current OAuth access token expires, Unix time (0: no token)",
            Unit::Seconds,
            m.token_expiry.clone(),
        );
        r.register(
            "popline_oauth_needs_login",
            "1 while the mailbox waits for `popline auth login` (its grant is dead), else 0",
            m.needs_login.clone(),
        );
        r.register(
            "popline_notices",
            "Notices to testers by result (sent, retried, failed)",
            m.notices.clone(),
        );
        r.register(
            "popline_outbox_failed_notices",
            "Notices that failed for good and wait for `popline notices retry`",
            m.outbox_failed.clone(),
        );
        r.register_with_unit(
            "popline_plugin_call_duration",
            "How long one mapper plugin call took",
            Unit::Seconds,
            m.plugin_calls.clone(),
        );
        Metrics { registry, ..m }
    }

    /// `popline_build_info{version}` = 1.
    pub fn set_build_info(&self, version: &str) {
        let version = version.to_string();
        self.build_info
            .get_or_create(&VersionLabel { version })
            .set(1);
    }

    /// Create `mailbox`'s series at zero: polls by result, errors for each
    /// of `error_kinds`, messages by outcome, the other counters, the poll
    /// duration histogram and the last success (0: never); with `notices`,
    /// notices by result and the failed ones waiting.
    pub fn register_mailbox(&self, mailbox: &str, error_kinds: &[&str], notices: bool) {
        let mb = || MailboxLabel {
            mailbox: mailbox.to_string(),
        };
        for result in POLL_RESULTS {
            create(&self.polls, &result_labels(mailbox, result));
        }
        for kind in error_kinds {
            create(&self.poll_errors, &kind_labels(mailbox, kind));
        }
        for outcome in Outcome::ALL {
            create(&self.messages, &outcome_labels(mailbox, outcome));
        }
        for family in [
            &self.fetched_messages,
            &self.fetched_bytes,
            &self.deleted_messages,
            &self.records,
        ] {
            create(family, &mb());
        }
        create(&self.poll_duration, &mb());
        create(&self.last_success, &mb());
        if notices {
            for result in NOTICE_RESULTS {
                create(&self.notices, &result_labels(mailbox, result));
            }
            create(&self.outbox_failed, &mb());
        }
    }

    /// Create `plugin`'s call duration histogram, empty.
    pub fn register_plugin(&self, plugin: &str) {
        let plugin = plugin.to_string();
        create(&self.plugin_calls, &PluginLabel { plugin });
    }

    /// A successful poll of `mailbox` that took `took` and ended at `at`
    /// (Unix seconds).
    pub fn record_poll(&self, mailbox: &str, counts: &PollCounts, took: Duration, at: i64) {
        let mb = MailboxLabel {
            mailbox: mailbox.to_string(),
        };
        self.polls
            .get_or_create(&result_labels(mailbox, "ok"))
            .inc();
        for &(outcome, n) in &counts.messages {
            self.messages
                .get_or_create(&outcome_labels(mailbox, outcome))
                .inc_by(n);
        }
        for (family, n) in [
            (&self.fetched_messages, counts.fetched_messages),
            (&self.fetched_bytes, counts.fetched_bytes),
            (&self.deleted_messages, counts.deleted_messages),
            (&self.records, counts.records),
        ] {
            family.get_or_create(&mb).inc_by(n);
        }
        self.poll_duration
            .get_or_create(&mb)
            .observe(took.as_secs_f64());
        self.last_success.get_or_create(&mb).set(at);
    }

    /// A failed poll of `mailbox`, by kind (`auth`, `tls`, `network`...).
    pub fn record_poll_failed(&self, mailbox: &str, kind: &str, took: Duration) {
        self.polls
            .get_or_create(&result_labels(mailbox, "error"))
            .inc();
        self.poll_errors
            .get_or_create(&kind_labels(mailbox, kind))
            .inc();
        self.poll_duration
            .get_or_create(&MailboxLabel {
                mailbox: mailbox.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// When `mailbox` last polled successfully, Unix seconds: known from
    /// state at start, so the gauge survives restarts and cron runs.
    pub fn set_last_success(&self, mailbox: &str, at: i64) {
        self.last_success
            .get_or_create(&MailboxLabel {
                mailbox: mailbox.to_string(),
            })
            .set(at);
    }

    fn set_gauge(family: &Family<MailboxLabel, Gauge>, mailbox: &str, v: i64) {
        family
            .get_or_create(&MailboxLabel {
                mailbox: mailbox.to_string(),
            })
            .set(v);
    }

    /// See [`record_token_expiry`].
    pub fn record_token_expiry(&self, mailbox: &str, at: i64) {
        Self::set_gauge(&self.token_expiry, mailbox, at);
    }

    /// See [`record_needs_login`].
    pub fn record_needs_login(&self, mailbox: &str, waiting: bool) {
        Self::set_gauge(&self.needs_login, mailbox, i64::from(waiting));
    }

    /// See [`record_notice`].
    pub fn record_notice(&self, mailbox: &str, result: &str) {
        self.notices
            .get_or_create(&result_labels(mailbox, result))
            .inc();
    }

    /// See [`record_notices_failed`].
    pub fn record_notices_failed(&self, mailbox: &str, waiting: i64) {
        Self::set_gauge(&self.outbox_failed, mailbox, waiting);
    }

    /// See [`record_call`].
    pub fn record_call(&self, plugin: &str, d: Duration) {
        self.plugin_calls
            .get_or_create(&PluginLabel {
                plugin: plugin.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    /// The Prometheus text format (version 0.0.4): what `/metrics` serves
    /// by default and what the node exporter's textfile collector reads.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// The OpenMetrics text format, for a scraper that asks for it.
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Create a series at zero, if missing.
fn create<S, M, C>(family: &Family<S, M, C>, labels: &S)
where
    S: Clone + std::hash::Hash + Eq,
    C: MetricConstructor<M>,
{
    drop(family.get_or_create(labels));
}

fn result_labels(mailbox: &str, result: &str) -> ResultLabels {
    ResultLabels {
        mailbox: mailbox.to_string(),
        result: result.to_string(),
    }
}

fn kind_labels(mailbox: &str, kind: &str) -> KindLabels {
    KindLabels {
        mailbox: mailbox.to_string(),
        kind: kind.to_string(),
    }
}

fn outcome_labels(mailbox: &str, outcome: Outcome) -> OutcomeLabels {
    OutcomeLabels {
        mailbox: mailbox.to_string(),
        outcome: outcome.as_str(),
    }
}

/// The process-wide metrics that the recording functions write to and
/// `/metrics` serves.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

/// A successful poll of `mailbox` (see [`Metrics::record_poll`]).
pub fn record_poll(mailbox: &str, counts: &PollCounts, took: Duration, at: i64) {
    global().record_poll(mailbox, counts, took, at);
}

/// A failed poll of `mailbox`, by kind (`auth`, `tls`, `network`, `plugin`...).
pub fn record_poll_failed(mailbox: &str, kind: &str, took: Duration) {
    global().record_poll_failed(mailbox, kind, took);
}

/// When the mailbox's current access token expires (Unix seconds).
pub fn record_token_expiry(mailbox: &str, at: i64) {
    global().record_token_expiry(mailbox, at);
}

/// Whether the mailbox waits for a person to run `popline auth login`
/// (1) because its grant is dead, or has a working grant (0).
pub fn record_needs_login(mailbox: &str, waiting: bool) {
    global().record_needs_login(mailbox, waiting);
}

/// One notice of `mailbox` sent (`sent`), put off for a retry (`retried`)
/// or failed for good (`failed`): `popline_notices_total{mailbox,result}`.
pub fn record_notice(mailbox: &str, result: &str) {
    global().record_notice(mailbox, result);
}

/// Notices of `mailbox` that failed for good and wait for `popline notices
/// retry` (a gauge, from the outbox).
pub fn record_notices_failed(mailbox: &str, waiting: i64) {
    global().record_notices_failed(mailbox, waiting);
}

/// One plugin call's duration.
pub fn record_call(plugin: &str, d: Duration) {
    global().record_call(plugin, d);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name{labels} value` lines of `text`, comments left out.
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn a_registered_mailbox_has_every_series_at_zero() {
        let m = Metrics::new();
        m.register_mailbox("beta", &["auth", "network"], false);
        let text = m.render_text();
        for want in [
            r#"popline_polls_total{mailbox="beta",result="ok"} 0"#,
            r#"popline_polls_total{mailbox="beta",result="error"} 0"#,
            r#"popline_poll_errors_total{mailbox="beta",kind="auth"} 0"#,
            r#"popline_poll_errors_total{mailbox="beta",kind="network"} 0"#,
            r#"popline_messages_total{mailbox="beta",outcome="committed"} 0"#,
            r#"popline_messages_total{mailbox="beta",outcome="dead_lettered"} 0"#,
            r#"popline_messages_total{mailbox="beta",outcome="oversized"} 0"#,
            r#"popline_fetched_messages_total{mailbox="beta"} 0"#,
            r#"popline_fetched_bytes_total{mailbox="beta"} 0"#,
            r#"popline_deleted_messages_total{mailbox="beta"} 0"#,
            r#"popline_records_total{mailbox="beta"} 0"#,
            r#"popline_poll_duration_seconds_count{mailbox="beta"} 0"#,
            r#"popline_poll_duration_seconds_bucket{mailbox="beta",le="+Inf"} 0"#,
            r#"popline_last_success_timestamp_seconds{mailbox="beta"} 0"#,
        ] {
            assert!(samples(&text).contains(&want), "missing {want} in\n{text}");
        }
        // Notices only for a mailbox that sends them.
        assert!(!text.contains("popline_notices_total{"), "{text}");
        m.register_mailbox("gamma", &[], true);
        let text = m.render_text();
        for result in NOTICE_RESULTS {
            let want = format!(r#"popline_notices_total{{mailbox="gamma",result="{result}"}} 0"#);
            assert!(samples(&text).contains(&want.as_str()), "{want}\n{text}");
        }
        assert!(text.contains(r#"popline_outbox_failed_notices{mailbox="gamma"} 0"#));
    }

    #[test]
    fn polls_count_by_result_outcome_and_kind() {
        let m = Metrics::new();
        let counts = PollCounts {
            messages: vec![(Outcome::Committed, 2), (Outcome::Skipped, 1)],
            fetched_messages: 3,
            fetched_bytes: 100,
            deleted_messages: 2,
            records: 2,
        };
        m.record_poll("beta", &counts, Duration::from_millis(300), 42);
        m.record_poll("beta", &counts, Duration::from_millis(300), 43);
        m.record_poll_failed("beta", "auth", Duration::from_secs(2));
        m.record_call("feedback_default", Duration::from_millis(3));
        let text = m.render_text();
        let samples = samples(&text);
        for want in [
            r#"popline_polls_total{mailbox="beta",result="ok"} 2"#,
            r#"popline_polls_total{mailbox="beta",result="error"} 1"#,
            r#"popline_poll_errors_total{mailbox="beta",kind="auth"} 1"#,
            r#"popline_messages_total{mailbox="beta",outcome="committed"} 4"#,
            r#"popline_messages_total{mailbox="beta",outcome="skipped"} 2"#,
            r#"popline_fetched_messages_total{mailbox="beta"} 6"#,
            r#"popline_fetched_bytes_total{mailbox="beta"} 200"#,
            r#"popline_deleted_messages_total{mailbox="beta"} 4"#,
            r#"popline_records_total{mailbox="beta"} 4"#,
            r#"popline_last_success_timestamp_seconds{mailbox="beta"} 43"#,
            r#"popline_poll_duration_seconds_count{mailbox="beta"} 3"#,
            r#"popline_poll_duration_seconds_bucket{mailbox="beta",le="0.25"} 0"#,
            r#"popline_poll_duration_seconds_bucket{mailbox="beta",le="0.5"} 2"#,
            r#"popline_poll_duration_seconds_bucket{mailbox="beta",le="2.5"} 3"#,
            r#"popline_plugin_call_duration_seconds_bucket{plugin="feedback_default",le="0.0025"} 0"#,
            r#"popline_plugin_call_duration_seconds_bucket{plugin="feedback_default",le="0.005"} 1"#,
            r#"popline_plugin_call_duration_seconds_count{plugin="feedback_default"} 1"#,
        ] {
            assert!(samples.contains(&want), "missing {want} in\n{text}");
        }
    }

    /// Every family has `# HELP` and `# TYPE`; counters end in `_total`,
    /// with the unit before it; names are popline's.
    #[test]
    fn every_family_is_described_and_named_by_convention() {
        let m = Metrics::new();
        m.set_build_info("9.9.9");
        m.register_mailbox("beta", &["auth"], true);
        m.register_plugin("feedback_default");
        m.record_token_expiry("beta", 1);
        m.record_needs_login("beta", false);
        let text = m.render_text();
        let mut families = 0;
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            families += 1;
            let mut words = line["# TYPE ".len()..].split(' ');
            let (name, kind) = (words.next().unwrap(), words.next().unwrap());
            assert!(name.starts_with("popline_"), "{line}");
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}"
            );
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            assert!(!name.contains("_total_"), "{line}");
            assert!(
                text.lines()
                    .any(|l| !l.starts_with('#') && l.starts_with(name)),
                "{name} has no sample"
            );
        }
        assert_eq!(families, 15, "{text}");
        assert!(text.contains("# TYPE popline_fetched_bytes_total counter"));
        assert!(text.contains("# TYPE popline_poll_duration_seconds histogram"));
        assert!(text.contains(r#"popline_build_info{version="9.9.9"} 1"#));
        // OpenMetrics names the same families, and ends with `# EOF`.
        let om = m.render_openmetrics();
        assert!(om.contains("# TYPE popline_fetched_bytes counter"), "{om}");
        assert!(om.contains("# UNIT popline_fetched_bytes bytes"), "{om}");
        assert!(om.contains(r#"popline_fetched_bytes_total{mailbox="beta"} 0"#));
        assert!(om.ends_with("# EOF\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.register_mailbox("a\"b\\c\nd", &[], false);
        let text = m.render_text();
        assert!(
            text.contains(r#"popline_records_total{mailbox="a\"b\\c\nd"} 0"#),
            "{text}"
        );
    }
}
