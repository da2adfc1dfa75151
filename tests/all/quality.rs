//! The quality corpus (`corpus/`, written by `corpus/generate.py`): every
//! labelled reply goes through the host's MIME parsing and the built
//! `feedback-default` plugin, as ingestion runs them, and is scored against
//! its label. `just quality` prints the figures.
//!
//! The bar: at least 95% of the replies trimmed to exactly the expected
//! text, and every message matched to the right item by the right signal or
//! skipped for the right reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use popline_mime as mime;
use popline_plugin_runtime::mapper::{MapOutcome, MapperInput, wit};
use popline_plugin_runtime::{Limits, MapperPlugin};
use serde_json::Value;

use crate::support;

/// The corpus must stay big enough for the rates to mean something.
const MIN_CASES: usize = 350;
const MIN_EXACT_BODY_RATE: f64 = 0.95;

/// What a case's `.expected.json` says.
#[derive(Debug)]
enum Expected {
    Feedback {
        target: String,
        method: String,
        /// The matched value, when the label pins it (signed tokens).
        value: Option<String>,
        body: String,
    },
    Skip(String),
}

/// What the mapper made of a case.
enum Actual {
    Feedback {
        target: Option<String>,
        method: Option<String>,
        value: Option<String>,
        body: String,
    },
    /// Category (the reason up to the first colon) and the whole reason.
    Skip(String, String),
    Failed(String),
}

struct Case {
    name: String,
    category: String,
    expected: Expected,
}

fn load_cases(root: &Path) -> Vec<(Case, PathBuf)> {
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("reading corpus/")
        .map(|e| e.expect("reading corpus/").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut emls: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        emls.sort();
        for eml in emls {
            let label = eml.with_extension("expected.json");
            let text = std::fs::read_to_string(&label)
                .unwrap_or_else(|e| panic!("{}: {e}", label.display()));
            let json: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", label.display()));
            let field = |k: &str| json[k].as_str().map(str::to_owned);
            let expected = match field("skip") {
                Some(skip) => Expected::Skip(skip),
                None => Expected::Feedback {
                    target: field("target").expect("label without target or skip"),
                    method: field("method").expect("label without method"),
                    value: field("value"),
                    body: field("body").expect("label without body"),
                },
            };
            let name = format!(
                "{}/{}",
                dir.file_name().unwrap().to_string_lossy(),
                eml.file_stem().unwrap().to_string_lossy()
            );
            let category = field("category").expect("label without category");
            cases.push((
                Case {
                    name,
                    category,
                    expected,
                },
                eml,
            ));
        }
    }
    cases
}

async fn run(
    mapper: &MapperPlugin,
    eml: &Path,
    ctx: &wit::Context,
    config: &[(String, String)],
) -> Actual {
    let raw = std::fs::read(eml).unwrap();
    let parsed = match mime::parse(&raw) {
        Ok(p) => p,
        Err(e) => return Actual::Failed(format!("parse: {e}")),
    };
    let outcome = mapper
        .map(MapperInput {
            email: &parsed.email,
            attachments: parsed.attachments.clone(),
            context: ctx,
            config,
        })
        .await;
    match outcome {
        Ok(MapOutcome::Feedback(mut list)) if list.len() == 1 => {
            let f = list.remove(0);
            Actual::Feedback {
                target: f.target,
                method: f.match_.as_ref().map(|m| m.method.clone()),
                value: f.match_.map(|m| m.value),
                body: f.body_text,
            }
        }
        Ok(MapOutcome::Feedback(list)) => Actual::Failed(format!("{} records", list.len())),
        Ok(MapOutcome::Skip(reason)) => {
            let category = reason.split_once(':').map_or("", |(c, _)| c).to_owned();
            Actual::Skip(category, reason)
        }
        Err(e) => Actual::Failed(e.to_string()),
    }
}

/// One line for the report.
fn describe(actual: &Actual) -> String {
    match actual {
        Actual::Feedback {
            target,
            method,
            value,
            ..
        } => format!("feedback for {target:?} by {method:?} ({value:?})"),
        Actual::Skip(_, reason) => format!("skip: {reason}"),
        Actual::Failed(error) => format!("failure: {error}"),
    }
}

/// Whether the message went to the right item by the right signal, or was
/// skipped for the right reason.
fn matched_correctly(expected: &Expected, actual: &Actual) -> bool {
    match (expected, actual) {
        (
            Expected::Feedback {
                target,
                method,
                value,
                ..
            },
            Actual::Feedback {
                target: t,
                method: m,
                value: v,
                ..
            },
        ) => {
            t.as_ref() == Some(target)
                && m.as_ref() == Some(method)
                && value.as_ref().is_none_or(|value| v.as_ref() == Some(value))
        }
        (Expected::Skip(want), Actual::Skip(got, _)) => want == got,
        _ => false,
    }
}

fn body_exact(expected: &Expected, actual: &Actual) -> Option<bool> {
    match expected {
        Expected::Feedback { body, .. } => {
            Some(matches!(actual, Actual::Feedback { body: b, .. } if b == body))
        }
        Expected::Skip(_) => None,
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    matched: usize,
    bodies: usize,
    exact: usize,
}

fn percent(n: usize, of: usize) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

#[tokio::test]
async fn the_corpus_is_trimmed_and_matched_as_labelled() {
    let root = support::root().join("corpus");
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("config.json")).unwrap()).unwrap();
    let config: Vec<(String, String)> = settings["config"]
        .as_object()
        .expect("config.json: `config` object")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("string config values").to_owned(),
            )
        })
        .collect();
    let ctx = wit::Context {
        pipeline: "quality".into(),
        mailbox: settings["mailbox"].as_str().unwrap().into(),
        uid: String::new(),
        received_at: settings["received_at"].as_str().unwrap().into(),
    };
    // `POPLINE_QUALITY_MAPPER=FILE.wasm` scores another mapper component
    // (e.g. an earlier build, for a before/after figure).
    let wasm = std::env::var_os("POPLINE_QUALITY_MAPPER")
        .map_or_else(|| support::plugin("feedback-default"), PathBuf::from);
    let mapper = MapperPlugin::load(support::engine(), &wasm, Limits::default()).unwrap();

    let cases = load_cases(&root);
    assert!(
        cases.len() >= MIN_CASES,
        "the corpus has {} cases, fewer than {MIN_CASES}",
        cases.len()
    );

    let mut by_category: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    // Per skip category: (expected, predicted, both).
    let mut skips: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut mismatches = String::new();
    let mut body_diffs = String::new();

    for (case, eml) in &cases {
        let actual = run(&mapper, eml, &ctx, &config).await;
        let matched = matched_correctly(&case.expected, &actual);
        let exact = body_exact(&case.expected, &actual);
        for tally in [
            by_category.entry(case.category.clone()).or_default(),
            &mut total,
        ] {
            tally.cases += 1;
            tally.matched += usize::from(matched);
            if let Some(exact) = exact {
                tally.bodies += 1;
                tally.exact += usize::from(exact);
            }
        }
        let expected_skip = match &case.expected {
            Expected::Skip(c) => Some(c.clone()),
            Expected::Feedback { .. } => None,
        };
        let actual_skip = match &actual {
            Actual::Skip(c, _) => Some(c.clone()),
            _ => None,
        };
        if let Some(c) = &expected_skip {
            skips.entry(c.clone()).or_default().0 += 1;
        }
        if let Some(c) = &actual_skip {
            skips.entry(c.clone()).or_default().1 += 1;
        }
        if let (Some(e), Some(a)) = (&expected_skip, &actual_skip)
            && e == a
        {
            skips.get_mut(e).unwrap().2 += 1;
        }
        if !matched {
            writeln!(
                mismatches,
                "  {}: expected {:?}\n    got {}",
                case.name,
                case.expected,
                describe(&actual)
            )
            .unwrap();
        }
        if exact == Some(false)
            && let (Expected::Feedback { body, .. }, Actual::Feedback { body: got, .. }) =
                (&case.expected, &actual)
        {
            writeln!(
                body_diffs,
                "  {}:\n    expected: {body:?}\n    got:      {got:?}",
                case.name
            )
            .unwrap();
        }
    }

    println!("\nquality corpus: {} messages\n", total.cases);
    println!(
        "{:<18} {:>6} {:>10} {:>14}",
        "category", "cases", "matched", "exact body"
    );
    for (category, t) in &by_category {
        println!(
            "{category:<18} {:>6} {:>10} {:>14}",
            t.cases,
            percent(t.matched, t.cases),
            if t.bodies == 0 {
                "-".to_owned()
            } else {
                format!("{}/{} {}", t.exact, t.bodies, percent(t.exact, t.bodies))
            }
        );
    }
    println!(
        "{:<18} {:>6} {:>10} {:>14}",
        "all",
        total.cases,
        percent(total.matched, total.cases),
        format!(
            "{}/{} {}",
            total.exact,
            total.bodies,
            percent(total.exact, total.bodies)
        )
    );
    println!("\nskips by reason category:");
    println!(
        "{:<12} {:>9} {:>10} {:>10} {:>8}",
        "category", "expected", "predicted", "precision", "recall"
    );
    for (category, (expected, predicted, both)) in &skips {
        println!(
            "{category:<12} {expected:>9} {predicted:>10} {:>10} {:>8}",
            percent(*both, *predicted),
            percent(*both, *expected)
        );
    }
    if !body_diffs.is_empty() {
        println!("\nbodies not trimmed exactly:\n{body_diffs}");
    }
    if !mismatches.is_empty() {
        println!("\nwrong match or skip:\n{mismatches}");
    }

    let exact_rate = total.exact as f64 / total.bodies as f64;
    assert!(
        exact_rate >= MIN_EXACT_BODY_RATE,
        "exact trimmed text {}, below {:.0}%:\n{body_diffs}",
        percent(total.exact, total.bodies),
        MIN_EXACT_BODY_RATE * 100.0
    );
    assert_eq!(
        total.matched, total.cases,
        "every message must be matched or skipped as labelled:\n{mismatches}"
    );
}
