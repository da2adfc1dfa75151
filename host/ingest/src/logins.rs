//! The OAuth sign-ins of a configuration: one token manager per account
//! (per token cache file), shared by every mailbox and notice server that
//! signs in with it, each with its own scope set. Mailboxes are registered
//! first, so an account shared with a notice server is named after its
//! mailbox, and every service is registered before any sign-in, so a
//! sign-in asks for all their scopes at once.

use std::collections::BTreeMap;

use anyhow::Context;

use popline_config::Config;
use popline_oauth::{Accounts, Tokens};

/// Every OAuth sign-in of a configuration.
pub struct Logins {
    /// By mailbox name.
    pub mailboxes: BTreeMap<String, Tokens>,
    /// By `[notices.NAME]` name.
    pub notices: BTreeMap<String, Tokens>,
}

impl Logins {
    /// The managers of `config`'s mailboxes and notice servers that use
    /// OAuth (certificates read, cache keys checked; nothing is requested).
    pub fn new(config: &Config) -> anyhow::Result<Logins> {
        let mut accounts = Accounts::default();
        let mut mailboxes = BTreeMap::new();
        for name in config.mailboxes.keys() {
            let Some(login) = config.mailbox_login(name) else {
                continue;
            };
            let tokens = accounts.get(
                name,
                login.oauth,
                &login.account,
                login.scopes,
                &config.base_dir,
                login.default_cache,
            )?;
            mailboxes.insert(name.clone(), tokens);
        }
        let mut notices = BTreeMap::new();
        for name in config.notices.keys() {
            let Some(login) = config.notice_login(name) else {
                continue;
            };
            let tokens = accounts
                .get(
                    &format!("notices.{name}"),
                    login.oauth,
                    &login.account,
                    login.scopes,
                    &config.base_dir,
                    login.default_cache,
                )
                .with_context(|| format!("[notices.{name}] oauth"))?;
            notices.insert(name.clone(), tokens);
        }
        Ok(Logins { mailboxes, notices })
    }

    /// The tokens of `name`: a mailbox, or `notices.NAME`.
    pub fn get(&self, name: &str) -> Option<&Tokens> {
        match name.strip_prefix("notices.") {
            Some(server) => self.notices.get(server),
            None => self.mailboxes.get(name),
        }
    }
}
