//! `popline auth login MAILBOX [--device]` and `popline auth status`; a
//! notices server signs in as `notices.NAME` (the SMTP.Send scope). A
//! sign-in serves every mailbox and notice server sharing the account and
//! asks for all their scopes at once.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use popline_config::Config;
use popline_ingest::logins::Logins;
use popline_oauth::{Flow, Tokens};

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
    let logins = Logins::new(&config)?;
    match cmd {
        AuthCommand::Login {
            mailbox,
            device,
            no_browser,
            wait,
        } => {
            let server = mailbox.strip_prefix("notices.");
            let known = match server {
                Some(s) => config.notices.contains_key(s),
                None => config.mailboxes.contains_key(&mailbox),
            };
            if !known {
                match server {
                    Some(s) => anyhow::bail!(
                        "no [notices.{s}] in the configuration; defined: [{}]",
                        config
                            .notices
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => {
                        let names: Vec<&str> =
                            config.mailboxes.keys().map(String::as_str).collect();
                        anyhow::bail!(
                            "no mailbox named {mailbox:?}; configured: [{}] (a notices server: notices.NAME)",
                            names.join(", ")
                        );
                    }
                }
            }
            let Some(tokens) = logins.get(&mailbox) else {
                anyhow::bail!("{mailbox} uses a password, not OAuth; nothing to log in");
            };
            let m = &tokens.manager;
            let services = m.services();
            let what = if services.len() > 1 {
                format!("{} (one sign-in for {})", mailbox, services.join(" and "))
            } else {
                mailbox.clone()
            };
            match (m.flow(), device) {
                (Flow::ClientCredentials, _) => {
                    tokens.access_token().await?;
                    println!(
                        "{what}: app-only token acquired (client credentials need no sign-in)"
                    );
                }
                (Flow::DeviceCode, _) | (_, true) => {
                    m.login_device().await?;
                    println!(
                        "{what}: signed in for {}; tokens saved to {}",
                        m.sign_in_scopes(),
                        m.cache_path().display()
                    );
                }
                (Flow::AuthorizationCode, false) => {
                    m.login_code(!no_browser, wait).await?;
                    println!(
                        "{what}: signed in for {}; tokens saved to {}",
                        m.sign_in_scopes(),
                        m.cache_path().display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Status => {
            for name in config.mailboxes.keys() {
                println!("{name}:");
                match logins.mailboxes.get(name) {
                    None => println!("  auth                 password"),
                    Some(t) => print_status(name, t),
                }
            }
            for name in config.notices.keys() {
                let Some(t) = logins.notices.get(name) else {
                    continue;
                };
                println!("notices.{name}:");
                print_status(&format!("notices.{name}"), t);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `service`'s account: its own lines, or which service it shares them with.
fn print_status(service: &str, t: &Tokens) {
    let owner = &t.manager.services()[0];
    if owner != service {
        println!("  {:<20} {owner} (see there)", "shares the sign-in of");
        return;
    }
    for (k, v) in t.manager.status() {
        println!("  {k:<20} {v}");
    }
}
