//! The reference feedback mapper plugin: [`feedback_core::map_email`] as the
//! SDK's [`Mapper`], plus one debug line per message. All logic lives in
//! `feedback-core`, which works on the SDK's record types directly.

use feedback_core as fc;
use popline_plugin::{Config, Context, Email, Mapper, Outcome, log};

struct FeedbackDefault;

impl Mapper for FeedbackDefault {
    fn map(email: &Email, ctx: &Context, config: &Config) -> Result<Outcome, String> {
        let config = fc::Config::from_pairs(config.pairs().iter().map(|(k, v)| (k, v)))
            .map_err(|e| e.to_string())?;
        let outcome = fc::map_email(email, ctx, &config)?;
        log::debug!("{}", summary(&outcome));
        Ok(outcome)
    }
}

popline_plugin::export_mapper!(FeedbackDefault);

/// One line saying how the message was matched, or why it was skipped.
fn summary(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Skip(reason) => format!("skipped: {reason}"),
        Outcome::Feedback(items) => {
            let methods: Vec<&str> = items
                .iter()
                .map(|f| f.match_.as_ref().map_or("none", |m| m.method.as_str()))
                .collect();
            format!(
                "feedback: {} record(s), match: {}",
                items.len(),
                methods.join(", ")
            )
        }
    }
}
