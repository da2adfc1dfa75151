//! Limits a plugin cannot talk its way around, measured from outside: the
//! output limit bounds what the host allocates for one call *before* any
//! copy (peak RSS of a child `popline`, from `wait4`), and a full instance
//! pool ends the poll without holding the message against the plugin.

use std::time::Duration;

use crate::support::scenario::{Mailbox, Run, Workspace, replies, run};
use crate::support::scripted::{Script, ScriptedServer};
use crate::support::{self};

const LIMIT: Duration = Duration::from_secs(120);
const PASSWORD: &str = "lumen-beta";

/// What a run may add to the peak RSS beyond the configured output limit:
/// allocator and page-cache noise between two runs of the same binary.
const SLACK_KIB: u64 = 8 * 1024;

/// The attack's peak RSS exceeds the baseline's by no more than the output
/// limit plus [`SLACK_KIB`]; both figures are printed.
#[track_caller]
fn assert_peak_within(what: &str, attack: &Run, baseline: &Run, output_kib: u64) {
    let (peak, base) = (attack.peak_rss_kib, baseline.peak_rss_kib);
    eprintln!("{what}, limit {output_kib} KiB: peak RSS {peak} KiB, baseline {base} KiB");
    let grown = peak.saturating_sub(base);
    assert!(
        grown <= output_kib + SLACK_KIB,
        "{what}: peak RSS {peak} KiB vs {base} KiB without, {grown} KiB more, \
         over the {output_kib} KiB limit plus {SLACK_KIB} KiB"
    );
}

/// `popline map` on one reply with the test mapper in `aliased` mode.
fn map_aliased(aliases: u32, mib: u32, output_kib: u64) -> Run {
    let mut cmd = support::popline();
    cmd.arg("map")
        .arg(support::example_mail("gmail-reply.eml"))
        .arg("--mapper")
        .arg(support::plugin("test-mapper"))
        .args(["--set", "mode=aliased"])
        .args(["--set", &format!("aliases={aliases}")])
        .args(["--set", &format!("mib={mib}")])
        .args(["--output-kib", &output_kib.to_string()])
        .args(["--memory-mib", "128"]);
    run(cmd, LIMIT)
}

/// A mapper returning records whose strings all alias one buffer in its
/// memory (thousands of 8 MiB views, or a few 40 MiB ones) is stopped at its
/// output limit, with an error naming the plugin and the limit, and the
/// host's peak RSS exceeds that of a run holding the same buffer but
/// returning one small record by no more than the limit plus a small
/// constant. (wasmtime's default would copy 128 MiB first.)
#[test]
fn aliased_mapper_output_costs_the_host_no_more_than_the_limit() {
    // The compiled plugin is cached first, so compiling is in neither peak.
    map_aliased(0, 1, 1024).assert_success();
    for (aliases, mib, output_kib) in [(4000, 8, 1024), (3, 40, 4096)] {
        let baseline = map_aliased(0, mib, output_kib);
        baseline.assert_success();
        let attack = map_aliased(aliases, mib, output_kib);
        attack.assert_failure();
        let said = format!("plugin test_mapper exceeded its output limit of {output_kib} KiB");
        assert!(attack.stderr.contains(&said), "{said}\n{attack}");
        assert_peak_within(
            &format!("aliased mapper output, {aliases} x {mib} MiB"),
            &attack,
            &baseline,
            output_kib,
        );
    }
}

/// A scripted server with `user` and three replies to `mailbox`.
fn server(user: &str, mailbox: &str) -> ScriptedServer {
    ScriptedServer::spawn(Script::login(user, PASSWORD), replies(mailbox, 3))
}

/// `popline once` on a scripted mailbox whose hostile dialogue runs `mode`,
/// with the dialogue's output limit at `output_kib`.
fn once_with_dialogue(mode: &str, output_kib: u64) -> (Run, Workspace) {
    let user = "tester@beta.example.com";
    let server = server(user, "limits");
    let ws = Workspace::new();
    let mechanism = format!("hostile:{mode}");
    ws.configure(&[Mailbox::scripted("limits", server.port, user, PASSWORD)
        .dialogue(support::plugin("hostile-dialogue"), &[&mechanism])
        .with(&format!(
            "dialogue_limits = {{ output_kib = {output_kib} }}"
        ))]);
    (ws.once(LIMIT), ws)
}

/// The same for a dialogue: a listing of 4,000 entries whose unique ids all
/// alias one 8 MiB buffer is refused at the dialogue's output limit before
/// it is copied; the baseline holds the same buffer and lists honestly.
#[test]
fn aliased_dialogue_listing_costs_the_host_no_more_than_the_limit() {
    let output_kib = 1024;
    // Both plugins compiled and cached first, so compiling is in no peak.
    once_with_dialogue("ballast", output_kib).0.assert_success();
    let (baseline, ws) = once_with_dialogue("ballast", output_kib);
    baseline.assert_success();
    assert!(
        baseline.line("limits").contains("committed 3"),
        "{baseline}"
    );
    assert_eq!(ws.jsonl().len(), 3);

    let (attack, ws) = once_with_dialogue("aliased-list", output_kib);
    attack.assert_failure();
    let said = format!("plugin hostile_dialogue exceeded its output limit of {output_kib} KiB");
    assert!(attack.line("limits").contains(&said), "{said}\n{attack}");
    assert!(ws.jsonl().is_empty(), "nothing listed, nothing ingested");
    assert_peak_within(
        "aliased dialogue listing, 4000 x 8 MiB",
        &attack,
        &baseline,
        output_kib,
    );
}

/// With one instance slot, the dialogue's session takes it and no mapper
/// can start: the poll ends as a temporary failure (exit 75), nothing is
/// dead-lettered or deleted, the breaker is not tripped, and the same
/// messages are ingested once the pool has room.
#[test]
fn a_full_instance_pool_ends_the_poll_without_dead_letters() {
    let user = "tester@beta.example.com";
    let server = server(user, "pool");
    let mut ws = Workspace::new();
    let sinks = ws.sinks.clone();
    ws.sinks = format!("{sinks}\n[plugins]\nmax_instances = 1\n");
    let mailbox = || {
        Mailbox::scripted("pool", server.port, user, PASSWORD)
            .with("retention = \"delete\"")
            .with("breaker_threshold = 2")
    };
    ws.configure(&[mailbox()]);
    let out = ws.once(LIMIT);
    assert_eq!(out.status.code(), Some(75), "{out}");
    assert!(
        out.stderr
            .contains("no instance of plugin feedback_default could be started"),
        "{out}"
    );
    assert!(out.stderr.contains("max_instances"), "{out}");
    assert!(!out.stderr.contains("circuit breaker"), "{out}");
    assert_eq!(server.remaining_of(user), 3, "{out}");
    assert!(ws.jsonl().is_empty(), "{out}");
    let dead = std::fs::read_dir(ws.path("dead-letters")).map_or(0, |d| d.count());
    assert_eq!(dead, 0, "nothing dead-lettered\n{out}");

    ws.sinks = sinks;
    ws.configure(&[mailbox()]);
    let out = ws.once(LIMIT);
    out.assert_success();
    assert!(out.line("pool").contains("committed 3"), "{out}");
    assert_eq!(server.remaining_of(user), 0, "{out}");
}
