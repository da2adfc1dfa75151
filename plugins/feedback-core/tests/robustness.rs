//! Hostile and malformed input never panics and stays within bounds: a
//! deterministic fuzz over fragments that exercise the parsers' edges
//! (tags, entities, quote marks, headers, multi-byte characters, tokens).

use feedback_core::{
    Address, Config, Context, Email, Header, Outcome, html_to_text, map_email, split_html_reply,
    split_reply, token,
};

const FRAGMENTS: [&str; 40] = [
    "<",
    ">",
    "</",
    "<div",
    "<div class=\"gmail_attr\">",
    "<div id=divRplyFwdMsg>",
    "</div>",
    "<blockquote type=\"cite\">",
    "</blockquote>",
    "<ul><li>",
    "<ol start=x><li>",
    "</li></ol>",
    "<span class=gmail_signature_prefix>",
    "<style>",
    "<!--",
    "-->",
    "&",
    "&#",
    "&#x110000;",
    "&amp",
    ";",
    "\"",
    "'",
    "=",
    "\n",
    "\r\n",
    " ",
    "> ",
    "On Tue, 3 Mar 2026 at 10:02, B <b@x> wrote:",
    "From: B",
    "Sent: x",
    "Subject: y",
    "-- ",
    "-----Original Message-----",
    "Sent from my iPhone",
    "é",
    "写道：",
    "\u{fffd}",
    "@",
    "2026年3月3日",
];

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn text(&mut self, max_fragments: u64) -> String {
        let n = self.next() % max_fragments;
        (0..n)
            .map(|_| FRAGMENTS[(self.next() % FRAGMENTS.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn random_bodies_never_panic_and_lose_nothing() {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    for _ in 0..3_000 {
        let text = rng.text(60);
        let reply = split_reply(&text);
        // Every kept or elided line comes from the input.
        for line in reply
            .body
            .lines()
            .chain(reply.elided.iter().flat_map(|e| e.lines()))
        {
            assert!(text.contains(line.trim_end()), "{line:?} not in {text:?}");
        }
        let _ = html_to_text(&text);
        let reply = split_html_reply(&text);
        assert!(reply.body.len() <= text.len() * 4 + 64, "{text:?}");
    }
}

#[test]
fn random_emails_map_to_feedback_or_a_skip() {
    let mut rng = Rng(0x5eed_cafe_f00d_0002);
    let keys = "0123456789abcdef0123456789abcdef";
    let config = Config::from_pairs([("token-keys", keys)]).unwrap();
    let ctx = Context {
        mailbox: "replies@beta.example.com".into(),
        received_at: "2026-03-10T12:00:00Z".into(),
        ..Context::default()
    };
    for _ in 0..2_000 {
        let email = Email {
            from: vec![Address::new(format!("{}@example.org", rng.text(3)))],
            to: vec![Address::new(format!(
                "replies+{}@beta.example.com",
                rng.text(4)
            ))],
            subject: Some(rng.text(6)),
            in_reply_to: vec![rng.text(5)],
            references: vec![rng.text(5), rng.text(5)],
            headers: vec![Header::new(rng.text(2), rng.text(4))],
            text_body: Some(rng.text(40)).filter(|_| rng.next().is_multiple_of(2)),
            html_body: Some(rng.text(40)),
            ..Email::default()
        };
        match map_email(&email, &ctx, &config).unwrap() {
            Outcome::Feedback(items) => assert_eq!(items.len(), 1),
            Outcome::Skip(reason) => assert!(reason.contains(':'), "{reason}"),
        }
    }
}

#[test]
fn random_tokens_never_verify() {
    let keys = token::TokenKeys::parse("0123456789abcdef0123456789abcdef").unwrap();
    let mut rng = Rng(0x5eed_cafe_f00d_0003);
    for _ in 0..5_000 {
        let candidate = format!(
            "{}.{}.{:024x}",
            rng.next() % 10_000,
            1_780_000_000 + rng.next() % 1_000,
            u128::from(rng.next()) << 32 | u128::from(rng.next() as u32)
        );
        assert!(token::verify(&candidate, "dana@example.org", 1_772_533_062, &keys).is_err());
        let garbage = rng.text(5);
        assert!(token::verify(&garbage, "dana@example.org", 1_772_533_062, &keys).is_err());
    }
}
