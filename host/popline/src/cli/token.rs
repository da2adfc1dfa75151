//! `popline token mint|verify`: signed reply tokens for the system that
//! sends notifications. The token logic is the `popline-reply-token` crate,
//! the same code the reference mapper verifies with.
//!
//! ```text
//! export POPLINE_TOKEN_KEYS="$(cat /etc/popline/token-keys)"
//! popline token mint --id 1042 --recipient dana@example.org --address replies@beta.example.com
//! replies+1042.1780272000.83468f9cd8569ba32ef72af1@beta.example.com
//! popline token verify replies+1042.1780272000.83468f9cd8569ba32ef72af1@beta.example.com \
//!     --recipient dana@example.org
//! valid: feedback item 1042, expires 2026-06-01T00:00:00Z
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use popline_core::clock::unix_now;
use popline_reply_token::{self as token, TokenKeys, format_rfc3339, parse_rfc3339};

/// `popline token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a reply token for one feedback item and the address the
    /// notification goes to; prints the token, or the whole reply address.
    Mint(MintArgs),
    /// Check a token, or a reply address holding one, for a recipient.
    /// Exits 1 if it is forged, altered, minted for someone else or expired.
    Verify(VerifyArgs),
}

/// Where the signing keys come from: the same list as the mapper's
/// `token-keys` (comma, space or newline separated; the first one mints).
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Read the keys from this file.
    #[arg(long, value_name = "PATH")]
    pub keys_file: Option<PathBuf>,
    /// The keys themselves. Prefer the environment variable or a file:
    /// command-line arguments show in process lists.
    #[arg(
        long,
        env = "POPLINE_TOKEN_KEYS",
        hide_env_values = true,
        value_name = "KEYS"
    )]
    pub keys: Option<String>,
}

/// `popline token mint`
#[derive(Debug, Args)]
pub struct MintArgs {
    /// The feedback item id (ASCII letters, digits, `-`, `_`).
    #[arg(long)]
    pub id: String,
    /// The address the notification is sent to: only replies from it match.
    #[arg(long)]
    pub recipient: String,
    /// How long the token stays valid, e.g. `90d`, `12weeks`.
    #[arg(long, default_value = "90d", conflicts_with = "expires_at")]
    pub expires_in: String,
    /// Exact expiry instead, RFC 3339 (e.g. `2026-06-01T00:00:00Z`).
    #[arg(long)]
    pub expires_at: Option<String>,
    /// The plain reply address (e.g. `replies@beta.example.com`): print
    /// `replies+TOKEN@beta.example.com` instead of the bare token.
    #[arg(long)]
    pub address: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `popline token verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token, or a reply address `local+TOKEN@domain`.
    pub token: String,
    /// The address the reply comes from.
    #[arg(long)]
    pub recipient: String,
    /// Judge expiry at this time (RFC 3339) instead of now, e.g. the time a
    /// reply was received.
    #[arg(long)]
    pub at: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// Runs a `popline token` command.
pub fn run(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let now = unix_now();
    match cmd {
        TokenCommand::Mint(args) => {
            println!("{}", mint(&args, &load_keys(&args.keys)?, now)?);
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Verify(args) => match verify(&args, &load_keys(&args.keys)?, now)? {
            Ok(valid) => {
                println!("{valid}");
                Ok(ExitCode::SUCCESS)
            }
            Err(invalid) => {
                eprintln!("{invalid}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

fn load_keys(args: &KeyArgs) -> anyhow::Result<TokenKeys> {
    let (list, source) = match (&args.keys_file, &args.keys) {
        (Some(path), _) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("reading keys from {}", path.display()))?,
            format!("{}", path.display()),
        ),
        (None, Some(keys)) => (keys.clone(), "--keys / POPLINE_TOKEN_KEYS".to_owned()),
        (None, None) => {
            bail!(
                "no signing keys: set POPLINE_TOKEN_KEYS or pass --keys-file (the mapper's `token-keys`)"
            )
        }
    };
    // Never echo the keys themselves.
    TokenKeys::parse(&list).map_err(|e| anyhow::anyhow!("keys from {source}: {e}"))
}

/// The token (or reply address) `popline token mint` prints.
fn mint(args: &MintArgs, keys: &TokenKeys, now: i64) -> anyhow::Result<String> {
    let expires_at = match &args.expires_at {
        Some(at) => parse_rfc3339(at).with_context(|| {
            format!("--expires-at {at:?}: expected RFC 3339, e.g. 2026-06-01T00:00:00Z")
        })?,
        None => {
            let ttl = humantime::parse_duration(&args.expires_in).with_context(|| {
                format!(
                    "--expires-in {:?}: expected a duration such as 90d",
                    args.expires_in
                )
            })?;
            now.saturating_add(i64::try_from(ttl.as_secs())?)
        }
    };
    if expires_at <= now {
        bail!(
            "the token would already be expired ({})",
            format_rfc3339(expires_at)
        );
    }
    let minted = token::mint(&args.id, &args.recipient, expires_at, keys.primary())?;
    Ok(match &args.address {
        None => minted,
        Some(address) => {
            let (local, domain) = address
                .trim()
                .rsplit_once('@')
                .filter(|(l, d)| !l.is_empty() && !d.is_empty() && !l.contains('+'))
                .with_context(|| format!("--address {address:?}: expected a plain address such as replies@beta.example.com"))?;
            format!("{local}+{minted}@{domain}")
        }
    })
}

/// `Ok(Ok(line))` for a valid token, `Ok(Err(line))` for an invalid one.
fn verify(args: &VerifyArgs, keys: &TokenKeys, now: i64) -> anyhow::Result<Result<String, String>> {
    let at = match &args.at {
        Some(at) => parse_rfc3339(at).with_context(|| {
            format!("--at {at:?}: expected RFC 3339, e.g. 2026-03-10T12:00:00Z")
        })?,
        None => now,
    };
    let token = token_of(&args.token);
    Ok(match token::verify(token, &args.recipient, at, keys) {
        Ok(valid) => Ok(format!(
            "valid: feedback item {}, expires {}",
            valid.id,
            format_rfc3339(valid.expires_at)
        )),
        Err(e) => Err(format!("invalid: {e}")),
    })
}

/// The token in `local+TOKEN@domain`, or the argument itself.
fn token_of(arg: &str) -> &str {
    let arg = arg.trim().trim_start_matches('<').trim_end_matches('>');
    match arg.rsplit_once('@') {
        Some((local, _)) => local.split_once('+').map_or(local, |(_, token)| token),
        None => arg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_772_533_062; // 2026-03-03T10:17:42Z
    const KEYS: &str = "new-key-0123456789abcdef, old-key-0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::parse(KEYS).unwrap()
    }

    fn no_keys() -> KeyArgs {
        KeyArgs {
            keys_file: None,
            keys: None,
        }
    }

    fn mint_args(expires_in: &str, address: Option<&str>) -> MintArgs {
        MintArgs {
            id: "1042".into(),
            recipient: "dana@example.org".into(),
            expires_in: expires_in.into(),
            expires_at: None,
            address: address.map(Into::into),
            keys: no_keys(),
        }
    }

    fn verify_args(token: &str, recipient: &str, at: Option<&str>) -> VerifyArgs {
        VerifyArgs {
            token: token.into(),
            recipient: recipient.into(),
            at: at.map(Into::into),
            keys: no_keys(),
        }
    }

    #[test]
    fn mint_then_verify_a_reply_address() {
        let address = mint(
            &mint_args("30d", Some("replies@beta.example.com")),
            &keys(),
            NOW,
        )
        .unwrap();
        let expires = NOW + 30 * 86_400;
        assert!(
            address.starts_with(&format!("replies+1042.{expires}.")),
            "{address}"
        );
        assert!(address.ends_with("@beta.example.com"), "{address}");
        assert_eq!(
            verify(
                &verify_args(&address, "dana@example.org", None),
                &keys(),
                NOW
            )
            .unwrap(),
            Ok("valid: feedback item 1042, expires 2026-04-02T10:17:42Z".into())
        );
        let bare = token_of(&address).to_owned();
        assert!(
            verify(&verify_args(&bare, "Dana@Example.org", None), &keys(), NOW)
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn verify_reports_why_a_token_is_refused() {
        let minted = mint(&mint_args("1d", None), &keys(), NOW).unwrap();
        let refused = |recipient: &str, at: Option<&str>| {
            verify(&verify_args(&minted, recipient, at), &keys(), NOW)
                .unwrap()
                .unwrap_err()
        };
        assert!(
            refused("eve@example.org", None).starts_with("invalid: signature does not verify"),
            "{}",
            refused("eve@example.org", None)
        );
        assert_eq!(
            refused("dana@example.org", Some("2026-03-04T10:17:42Z")),
            "invalid: expired at 2026-03-04T10:17:42Z"
        );
        let other_keys = TokenKeys::parse("someone-elses-key-123456").unwrap();
        assert!(
            verify(
                &verify_args(&minted, "dana@example.org", None),
                &other_keys,
                NOW
            )
            .unwrap()
            .is_err()
        );
    }

    #[test]
    fn mint_checks_its_arguments() {
        let mut args = mint_args("90d", None);
        args.expires_at = Some("2026-03-01T00:00:00Z".into());
        let err = mint(&args, &keys(), NOW).unwrap_err().to_string();
        assert!(err.contains("already be expired"), "{err}");
        args.expires_at = Some("next week".into());
        assert!(mint(&args, &keys(), NOW).is_err());
        assert!(mint(&mint_args("soon", None), &keys(), NOW).is_err());
        let err = mint(
            &mint_args("1d", Some("replies+x@beta.example.com")),
            &keys(),
            NOW,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("plain address"), "{err}");
        let mut args = mint_args("1d", None);
        args.id = "FB 1042".into();
        assert!(mint(&args, &keys(), NOW).is_err());
        args.expires_at = Some("2026-06-01T00:00:00Z".into());
        args.id = "1042".into();
        assert!(
            mint(&args, &keys(), NOW)
                .unwrap()
                .starts_with("1042.1780272000.")
        );
    }

    #[test]
    fn keys_come_from_a_file_or_the_environment_and_are_never_echoed() {
        let dir = std::env::temp_dir().join(format!("popline-token-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keys");
        std::fs::write(
            &file,
            "new-key-0123456789abcdef\nold-key-0123456789abcdef\n",
        )
        .unwrap();
        let from_file = load_keys(&KeyArgs {
            keys_file: Some(file.clone()),
            keys: Some("ignored-when-a-file-is-given".into()),
        })
        .unwrap();
        assert_eq!(from_file, keys());
        let err = load_keys(&KeyArgs {
            keys_file: None,
            keys: Some("short-secret".into()),
        })
        .unwrap_err()
        .to_string();
        assert!(!err.contains("short-secret"), "{err}");
        assert!(load_keys(&no_keys()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn token_of_addresses_and_bare_tokens() {
        assert_eq!(token_of("replies+1.2.3@b.example"), "1.2.3");
        assert_eq!(token_of("<replies+1.2.3@b.example>"), "1.2.3");
        assert_eq!(token_of("1.2.3"), "1.2.3");
    }
}
