//! What ingestion asks for one message: the decision and, when a notice is
//! due, the outbox row to write with the message's outcome.

use popline_state::NewNotice;

use crate::config::{MailboxNotices, NoticeServerConfig};
use crate::message;
use crate::policy::{self, Decision, Outcome, Source};

/// A mailbox's notices, ready for ingestion.
#[derive(Debug, Clone)]
pub struct MailboxPlan {
    /// The mailbox's `notices = { ... }`.
    pub notices: MailboxNotices,
    /// The server's `from`.
    pub from: String,
    /// The server's `max_per_sender_per_day`.
    pub per_sender_per_day: u32,
    /// Addresses never answered: the mailbox's own and the sender's.
    pub own: Vec<String>,
}

impl MailboxPlan {
    /// The plan of a mailbox whose address is `mailbox_address`, sending
    /// through `server`.
    pub fn new(
        notices: MailboxNotices,
        server: &NoticeServerConfig,
        mailbox_address: &str,
    ) -> MailboxPlan {
        MailboxPlan {
            notices,
            from: server.from.clone(),
            per_sender_per_day: server.max_per_sender_per_day,
            own: vec![
                mailbox_address.to_string(),
                crate::address::bare(&server.from).to_string(),
                server.login(),
            ],
        }
    }

    /// The notice about message `uid` (raw SHA-256 `sha256`) of pipeline
    /// `pipeline` with `outcome`, if one is due. Decisions against sending
    /// are logged at debug level.
    pub fn notice_for(
        &self,
        pipeline: &str,
        uid: &str,
        sha256: &str,
        source: &Source,
        outcome: Outcome<'_>,
    ) -> Option<NewNotice> {
        let own: Vec<&str> = self.own.iter().map(String::as_str).collect();
        let (to, reason) = match policy::decide(source, outcome, &self.notices, &own) {
            Decision::Send { to, reason } => (to, reason),
            Decision::NotWanted => return None,
            Decision::Never(why) => {
                tracing::debug!(mailbox = %pipeline, uid = %uid, "no notice: {why}");
                return None;
            }
        };
        match message::build(
            &self.notices,
            &self.from,
            &to,
            reason,
            source,
            pipeline,
            sha256,
        ) {
            Ok(b) => Some(NewNotice {
                message_id: b.message_id,
                uid: uid.to_string(),
                via: self.notices.via.clone(),
                sender: b.sender,
                recipient: b.to,
                reason: reason.as_str().to_string(),
                raw: b.raw,
                per_recipient_per_day: self.per_sender_per_day,
            }),
            Err(e) => {
                tracing::warn!(mailbox = %pipeline, uid = %uid, "no notice: {e}");
                None
            }
        }
    }
}
