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
use popline_oauth::{Flow, OAuthConfig, cloud};
use popline_state::StateBackend;

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

/// The OAuth settings for SMTP submission: unless `scopes` is set,
/// delegated flows ask for the cloud's `SMTP.Send` (and `offline_access`);
/// client credentials keep `.default`, which carries `SMTP.SendAsApp`.
pub fn smtp_oauth(oauth: &OAuthConfig) -> OAuthConfig {
    let mut o = oauth.clone();
    if o.scopes.is_empty() && o.flow != Flow::ClientCredentials {
        let c = cloud::by_authority(&o.authority).unwrap_or(cloud::global());
        let smtp = c.pop_delegated.replace("POP.AccessAsUser.All", "SMTP.Send");
        o.scopes = vec![smtp, "offline_access".into()];
    }
    o
}

/// The token manager of `[notices.NAME]` when it uses OAuth, named
/// `notices.NAME` (what `popline auth login` takes for it), with the SMTP
/// scopes and its own cache (`tokens/notices-NAME.json` by default).
pub fn token_manager(
    config: &Config,
    name: &str,
) -> anyhow::Result<Option<popline_oauth::TokenManager>> {
    let Some(o) = config.notices.get(name).and_then(|s| s.oauth.as_ref()) else {
        return Ok(None);
    };
    Ok(Some(popline_oauth::TokenManager::new(
        &format!("notices.{name}"),
        &smtp_oauth(o),
        &config.base_dir,
        config.default_notice_token_cache(name),
    )?))
}

/// The deliverer over every `[notices.NAME]` server of `config`. Refuses a
/// state backend without the outbox when any mailbox has notices.
pub fn deliverer(config: &Config, state: Arc<dyn StateBackend>) -> anyhow::Result<Deliverer> {
    let used = config.mailboxes.values().any(|m| m.notices.is_some());
    anyhow::ensure!(
        !used || state.keeps_notices(),
        "mailboxes with notices need state that keeps the notice outbox (SQLite or PostgreSQL)"
    );
    Ok(Deliverer::new(state, submitters(config)?))
}

/// A submitter per `[notices.NAME]` server of `config`, in name order, with
/// its credential read (a password from its source, OAuth through the
/// server's token manager).
pub fn submitters(config: &Config) -> anyhow::Result<Vec<Submitter>> {
    let mut servers = Vec::new();
    for (name, s) in &config.notices {
        let credential = match (&s.password, &s.oauth) {
            (Some(p), _) => Credential::Password(
                p.resolve(&config.base_dir)
                    .with_context(|| format!("[notices.{name}] password"))?,
            ),
            (None, Some(_)) => Credential::OAuth(Arc::new(
                token_manager(config, name)?.context("an oauth table")?,
            )),
            (None, None) => anyhow::bail!("[notices.{name}]: no credential"),
        };
        servers.push(Submitter::new(name, s, &config.base_dir, credential)?);
    }
    Ok(servers)
}
