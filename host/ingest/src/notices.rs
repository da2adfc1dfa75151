//! Notices to testers, as ingestion sees them: the mailbox's plan from the
//! config, the tester's message as a [`Source`], and the
//! [`Deliverer`] over the `[notices.NAME]` servers. The outbox rows are
//! written with the batch's outcomes ([`crate::commit`]); the deliverer
//! sends them after the commit.

use std::sync::Arc;

use anyhow::Context;

use popline_config::{Config, MailboxConfig};
use popline_mime::ParsedEmail;
use popline_notice::smtp::Credential;
use popline_notice::{Deliverer, MailboxPlan, Source, Submitter, template};
use popline_state::StateBackend;

use crate::logins::Logins;

/// The notices plan of mailbox `mb`, if it has `notices`.
pub fn plan(config: &Config, mb: &MailboxConfig) -> Option<MailboxPlan> {
    let notices = mb.notices.clone()?;
    let server = config.notices.get(&notices.via)?;
    Some(MailboxPlan::new(notices, server, &mb.user))
}

/// What the notices need of a parsed message; `feedback_id` is the item an
/// acknowledged reply was added to.
pub fn source(parsed: &ParsedEmail, feedback_id: Option<String>) -> Source {
    let e = &parsed.email;
    let text = e.text_body.as_deref().unwrap_or_default();
    Source {
        from: e.from.iter().map(|a| a.address.clone()).collect(),
        subject: e.subject.clone(),
        message_id: e.message_id.clone(),
        in_reply_to: e.in_reply_to.clone(),
        references: e.references.clone(),
        headers: e
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
        excerpt: template::excerpt(text),
        feedback_id,
    }
}

/// The deliverer over every `[notices.NAME]` server of `config`, OAuth
/// through `logins` (a server sharing a mailbox's sign-in uses its
/// manager). Refuses a state backend without the outbox when any mailbox
/// has notices.
pub fn deliverer(
    config: &Config,
    state: Arc<dyn StateBackend>,
    logins: &Logins,
) -> anyhow::Result<Deliverer> {
    let used = config.mailboxes.values().any(|m| m.notices.is_some());
    anyhow::ensure!(
        !used || state.keeps_notices(),
        "mailboxes with notices need state that keeps the notice outbox (SQLite or PostgreSQL)"
    );
    Ok(Deliverer::new(state, submitters(config, logins)?))
}

/// A submitter per `[notices.NAME]` server of `config`, in name order, with
/// its credential read (a password from its source, OAuth through its
/// account's token manager in `logins`, with the SMTP scopes).
pub fn submitters(config: &Config, logins: &Logins) -> anyhow::Result<Vec<Submitter>> {
    let mut servers = Vec::new();
    for (name, s) in &config.notices {
        let credential = match (&s.password, &s.oauth) {
            (Some(p), _) => Credential::Password(
                p.resolve(&config.base_dir)
                    .with_context(|| format!("[notices.{name}] password"))?,
            ),
            (None, Some(_)) => Credential::OAuth(
                logins
                    .notices
                    .get(name)
                    .cloned()
                    .with_context(|| format!("[notices.{name}]: no OAuth sign-in"))?,
            ),
            (None, None) => anyhow::bail!("[notices.{name}]: no credential"),
        };
        servers.push(Submitter::new(name, s, &config.base_dir, credential)?);
    }
    Ok(servers)
}
