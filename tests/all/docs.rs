//! Documentation that must not drift from the code.

use crate::support;

fn read(path: &str) -> String {
    std::fs::read_to_string(support::root().join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Every AADSTS code the host explains (`oauth::endpoint::explain`), every
/// POP3 error class label, and every plugin limit appear in the
/// troubleshooting page.
#[test]
fn troubleshooting_page_covers_every_error_the_host_names() {
    let page = read("docs/troubleshooting.md");

    let endpoint = read("host/oauth/src/endpoint.rs");
    let table = endpoint
        .split("const CAUSES: &[Cause] = &[")
        .nth(1)
        .and_then(|s| s.split("\n];").next())
        .expect("oauth/endpoint.rs has the CAUSES table");
    let codes: Vec<String> = table
        .split("code: ")
        .skip(1)
        .map(|part| part.chars().take_while(char::is_ascii_digit).collect())
        .collect();
    assert!(codes.len() >= 19, "found only {codes:?} in CAUSES");
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !page.contains(&format!("AADSTS{c}")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md does not mention AADSTS codes {missing:?}"
    );

    let dialogue = read("host/plugin-runtime/src/dialogue.rs");
    let labels = dialogue
        .split("fn kind_label(")
        .nth(1)
        .expect("plugin/dialogue.rs has fn kind_label");
    let labels = &labels[..labels.find("\n}\n").unwrap()];
    let mut found = 0;
    for label in labels.split("=> \"").skip(1) {
        let label = &label[..label.find('"').unwrap()];
        found += 1;
        assert!(
            page.contains(label),
            "docs/troubleshooting.md does not show the error class {label:?}"
        );
    }
    assert_eq!(found, 8, "the POP3 error classes changed: {labels}");

    for text in [
        "memory limit of",
        "CPU limit of",
        "output limit of",
        "wall-clock limit of",
        "circuit breaker open",
        "is not trusted",
        "not valid for the name",
        "not a feedback record",
        "refused record",
        "did not accept record",
    ] {
        assert!(
            page.contains(text),
            "docs/troubleshooting.md lacks {text:?}"
        );
    }
}
