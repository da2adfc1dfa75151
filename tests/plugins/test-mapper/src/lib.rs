//! Test-only mapper. Config key `mode` picks its behaviour:
//! `echo` (default: one record whose body is the subject upper-cased),
//! `loop`, `oom`, `panic`, `huge`, `log-flood`, `error`, `empty`,
//! `attachment` (reads attachment 0 through the host and reports its length).

wit_bindgen::generate!({ path: "../../../wit", world: "feedback-mapper" });

use exports::popline::plugin::mapper::Guest;
use popline::plugin::log::{Level, log};
use popline::plugin::mail::{Address, Context, Email, Feedback, FeedbackKind, Outcome};

struct TestMapper;

fn record(email: &Email, body: String) -> Feedback {
    Feedback {
        target: None,
        kind: FeedbackKind::New,
        author: email.from.first().cloned().unwrap_or(Address {
            name: None,
            address: "unknown@invalid".into(),
        }),
        subject: email.subject.clone(),
        body_text: body,
        body_html: None,
        elided_text: None,
        attachments: Vec::new(),
        received_at: None,
        source_message_id: email.message_id.clone(),
        match_: None,
        fields: vec![("mapper".into(), "test-mapper".into())],
    }
}

impl Guest for TestMapper {
    fn handle(
        email: Email,
        _ctx: Context,
        config: Vec<(String, String)>,
    ) -> Result<Outcome, String> {
        let mode = config
            .iter()
            .find(|(k, _)| k == "mode")
            .map(|(_, v)| v.as_str())
            .unwrap_or("echo");
        match mode {
            "echo" => {
                let subject = email.subject.clone().unwrap_or_default();
                Ok(Outcome::Feedback(vec![record(
                    &email,
                    subject.to_uppercase(),
                )]))
            }
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "oom" => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            "panic" => panic!("test-mapper was told to panic"),
            "huge" => Ok(Outcome::Feedback(vec![record(&email, "x".repeat(8 << 20))])),
            "log-flood" => {
                for i in 0..100_000 {
                    log(Level::Info, &format!("flood line {i}"));
                }
                Ok(Outcome::Skip("flooded the log".into()))
            }
            "error" => Err("test-mapper was told to fail".into()),
            "empty" => Ok(Outcome::Feedback(Vec::new())),
            "attachment" => {
                let mut total = 0usize;
                let mut offset = 0u64;
                loop {
                    let chunk = popline::plugin::attachments::read(0, offset, 4096)?;
                    if chunk.is_empty() {
                        break;
                    }
                    total += chunk.len();
                    offset += chunk.len() as u64;
                }
                Ok(Outcome::Feedback(vec![record(
                    &email,
                    format!("attachment 0 has {total} bytes"),
                )]))
            }
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

export!(TestMapper);
