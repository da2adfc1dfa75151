//! `popline auth login MAILBOX [--device]` and `popline auth status`; a
//! notices server signs in as `notices.NAME` (the SMTP.Send scope).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use popline_config::Config;
use popline_oauth::{Accounts, Flow};

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in for a mailbox (authorization code with PKCE, or device code).
    Login {
        /// The mailbox name from the configuration, or `notices.NAME` for
        /// a `[notices.NAME]` server's SMTP sign-in.
        mailbox: String,
        /// Use the device code flow (sign in on another device).
        #[arg(long)]
        device: bool,
        /// Do not try to open a browser; only print the URL.
        #[arg(long)]
        no_browser: bool,
        /// How long to wait for the browser's redirect (authorization code).
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        wait: std::time::Duration,
    },
    /// Per mailbox: flow, scopes, token expiry, refresh token age, claims.
    Status,
}

pub async fn run(config_path: &Path, cmd: AuthCommand) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let mut accounts = Accounts::default();
    let mut manager = |name: &str| -> anyhow::Result<Option<_>> {
        let mb = &config.mailboxes[name];
        let Some(o) = &mb.oauth else { return Ok(None) };
        let default_cache = config.default_token_cache(name);
        Ok(Some((
            o.flow,
            accounts.get(name, o, &config.base_dir, default_cache)?,
        )))
    };
    match cmd {
        AuthCommand::Login {
            mailbox,
            device,
            no_browser,
            wait,
        } => {
            let server = mailbox.strip_prefix("notices.");
            let found = match server {
                Some(s) => match popline_ingest::notices::token_manager(&config, s)? {
                    Some(m) => Some((m.flow(), std::sync::Arc::new(m))),
                    None if config.notices.contains_key(s) => None,
                    None => anyhow::bail!(
                        "no [notices.{s}] in the configuration; defined: [{}]",
                        config
                            .notices
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                None if config.mailboxes.contains_key(&mailbox) => manager(&mailbox)?,
                None => {
                    let names: Vec<&str> = config.mailboxes.keys().map(String::as_str).collect();
                    anyhow::bail!(
                        "no mailbox named {mailbox:?}; configured: [{}] (a notices server: notices.NAME)",
                        names.join(", ")
                    );
                }
            };
            let Some((flow, m)) = found else {
                anyhow::bail!("{mailbox} uses a password, not OAuth; nothing to log in");
            };
            match (flow, device) {
                (Flow::ClientCredentials, _) => {
                    m.access_token().await?;
                    println!(
                        "{mailbox}: app-only token acquired (client credentials need no sign-in)"
                    );
                }
                (Flow::DeviceCode, _) | (_, true) => {
                    m.login_device().await?;
                    println!(
                        "{mailbox}: signed in; tokens saved to {}",
                        m.cache_path().display()
                    );
                }
                (Flow::AuthorizationCode, false) => {
                    m.login_code(!no_browser, wait).await?;
                    println!(
                        "{mailbox}: signed in; tokens saved to {}",
                        m.cache_path().display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Status => {
            let names: Vec<String> = config.mailboxes.keys().cloned().collect();
            for name in names {
                println!("{name}:");
                match manager(&name)? {
                    None => println!("  auth                 password"),
                    Some((_, m)) => {
                        for (k, v) in m.status() {
                            println!("  {k:<20} {v}");
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
