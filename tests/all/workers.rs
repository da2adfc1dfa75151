//! The worker pool changes where a batch is parsed and mapped, not what
//! comes out: with four workers, a batch holding copies, skips and
//! attachments gives the same records, in the same order, as with one.

use popline_testkit::mixed_corpus;
use serde_json::Value;

use crate::ingest::{Setup, USER};

/// What a record says, without when it was received.
fn comparable(records: Vec<Value>) -> Vec<Value> {
    records
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("received_at");
            r
        })
        .collect()
}

#[test]
fn four_workers_give_the_records_of_one_in_mailbox_order() {
    let s = Setup::new();
    let mut mail = mixed_corpus(40, 7);
    // Copies later in the same batch: duplicates of messages being mapped
    // at the same moment, never mapped themselves.
    mail.push(mail[2].clone());
    mail.push(mail[5].clone());
    s.dovecot.seed(USER, &mail).unwrap();

    let mut outputs = Vec::new();
    for workers in [1, 4] {
        for f in ["state.db", "feedback.jsonl", "feedback.db"] {
            let _ = std::fs::remove_file(s.path(f));
        }
        let cfg = s.config(
            s.dovecot.tls_port(),
            "implicit",
            s.dovecot.ca_pem(),
            "batch_size = 50",
        );
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, format!("workers = {workers}\n{text}")).unwrap();
        let out = s.once(&cfg);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("duplicates 2"), "{stdout}");
        outputs.push((stdout, comparable(s.jsonl())));
    }
    let (one, four) = (&outputs[0], &outputs[1]);
    assert!(!one.1.is_empty());
    assert_eq!(one.0, four.0, "summaries differ");
    assert_eq!(one.1.len(), four.1.len());
    for (a, b) in one.1.iter().zip(&four.1) {
        assert_eq!(a, b);
    }
    // Mailbox order: each record's message comes at or after the one before.
    let seeded: Vec<String> = mail.iter().map(|m| message_id(m)).collect();
    let at: Vec<usize> = four
        .1
        .iter()
        .map(|r| {
            let id = r["source_message_id"].as_str().unwrap();
            seeded.iter().position(|s| s == id).unwrap()
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
}

/// The Message-ID of a seeded message, without angle brackets.
fn message_id(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .expect("every generated message has a Message-ID");
    line[11..].trim().trim_matches(['<', '>']).to_string()
}
