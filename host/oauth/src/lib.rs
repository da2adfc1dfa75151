//! OAuth 2.0 for POP: token acquisition, refresh and caching, owned by the
//! host. Flows: authorization code with PKCE (loopback redirect), device
//! code, client credentials, and refresh. Credentials: client secret or
//! certificate (signed client assertion). The token never enters a plugin,
//! a log line or an error message.
//!
//! | module | what |
//! |---|---|
//! | `config` | `[mailboxes.NAME.oauth]`, and the checks that need no request |
//! | `cloud` | Microsoft's clouds: sign-in host, scopes, POP hosts |
//! | `manager` | [`TokenManager`]: cache, refresh, single flight, the grants through the `oauth2` crate |
//! | `http` | the HTTP function oauth2 calls: retries with `Retry-After`, Microsoft's error bodies, per-request assertions |
//! | `endpoint` | AADSTS codes to causes and fixes |
//! | `assertion` | certificate credentials (PEM, DER, PFX, encrypted keys), client assertions signed with ring |
//! | `redirect` | the loopback listener of the code flow |
//! | `cache` | the token file: 0600, atomic, optionally encrypted |

mod assertion;
mod cache;
pub mod cloud;
mod config;
mod endpoint;
mod http;
mod manager;
mod redirect;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use assertion::Algorithm;
pub use config::{CertificateConfig, Flow, OAuthConfig, Provider};
pub use manager::TokenManager;

/// Authentication failures as an operator sees them. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A human has to sign in again; other mailboxes carry on.
    #[error("needs-login: {0}")]
    NeedsLogin(String),
    /// The identity platform refused (configuration or consent problem).
    #[error("{0}")]
    Refused(String),
    /// Network trouble, 429 or 5xx after retries.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    #[error("{0:#}")]
    Local(anyhow::Error),
}

/// Registry so mailboxes naming the same cache file share one manager
/// (one refresh for all of them).
#[derive(Default)]
pub struct Accounts {
    by_cache: Vec<Arc<TokenManager>>,
}

impl Accounts {
    /// The manager for this mailbox, shared when the cache file is the same.
    pub fn get(
        &mut self,
        mailbox: &str,
        cfg: &OAuthConfig,
        base_dir: &Path,
        default_cache: PathBuf,
    ) -> anyhow::Result<Arc<TokenManager>> {
        let path = cfg
            .token_cache
            .as_ref()
            .map(|p| base_dir.join(p))
            .unwrap_or(default_cache.clone());
        if let Some(m) = self.by_cache.iter().find(|m| m.cache_path() == path) {
            return Ok(m.clone());
        }
        let m = Arc::new(TokenManager::new(mailbox, cfg, base_dir, default_cache)?);
        self.by_cache.push(m.clone());
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(oauth: &str) -> anyhow::Result<TokenManager> {
        let cfg: OAuthConfig = toml::from_str(oauth).unwrap();
        let dir = tempfile::tempdir().unwrap();
        TokenManager::new("beta", &cfg, dir.path(), dir.path().join("t.json"))
    }

    /// Tenant, flow, account kind and cloud against the POP host.
    #[test]
    fn tenant_and_cloud_fit_the_mailbox() {
        let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
            // (flow, tenant, authority, pop host, error containing)
            (
                "device-code",
                "",
                "",
                "outlook.office365.com",
                Some("oauth.tenant is required"),
            ),
            (
                "device-code",
                "5c1a7e42-93d8-4b6f-a0e1-2f7d9c3b8a64",
                "",
                "outlook.office365.com",
                None,
            ),
            (
                "device-code",
                "organizations",
                "",
                "outlook.office365.com",
                None,
            ),
            (
                "client-credentials",
                "organizations",
                "",
                "outlook.office365.com",
                Some("Directory (tenant) ID"),
            ),
            (
                "client-credentials",
                "consumers",
                "",
                "pop-mail.outlook.com",
                Some("no app-only access"),
            ),
            (
                "client-credentials",
                "contoso.com",
                "",
                "outlook.office365.com",
                None,
            ),
            ("device-code", "consumers", "", "pop-mail.outlook.com", None),
            (
                "authorization-code",
                "common",
                "",
                "pop-mail.outlook.com",
                None,
            ),
            (
                "device-code",
                "contoso.com",
                "",
                "pop-mail.outlook.com",
                Some("tenant = \"consumers\""),
            ),
            (
                "device-code",
                "contoso.us",
                "https://login.microsoftonline.us",
                "outlook.office365.us",
                None,
            ),
            (
                "device-code",
                "contoso.us",
                "",
                "outlook.office365.us",
                Some("US Government"),
            ),
            (
                "device-code",
                "contoso.cn",
                "https://login.microsoftonline.us",
                "partner.outlook.cn",
                Some("China"),
            ),
            (
                "device-code",
                "contoso.cn",
                "https://login.chinacloudapi.cn",
                "partner.outlook.cn",
                None,
            ),
            (
                "device-code",
                "contoso.com",
                "http://127.0.0.1:4000",
                "127.0.0.1",
                None,
            ),
        ];
        for &(flow, tenant, authority, host, err) in cases {
            let mut text = format!("flow = \"{flow}\"\nclient_id = \"c\"\n");
            if !tenant.is_empty() {
                text.push_str(&format!("tenant = \"{tenant}\"\n"));
            }
            if !authority.is_empty() {
                text.push_str(&format!("authority = \"{authority}\"\n"));
            }
            let cfg: OAuthConfig = toml::from_str(&text).unwrap();
            let got = cfg.validate("[mailboxes.beta.oauth]", host);
            match (err, got) {
                (None, Ok(())) => {}
                (Some(want), Err(e)) => assert!(e.contains(want), "{flow} {tenant} {host}: {e}"),
                (want, got) => {
                    panic!("{flow} {tenant} {authority} {host}: want {want:?}, got {got:?}")
                }
            }
        }
    }

    #[test]
    fn scopes_follow_the_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let scopes = |flow: &str, authority: &str| {
            let cfg: OAuthConfig = toml::from_str(&format!(
                "flow = \"{flow}\"\nclient_id = \"c\"\ntenant = \"t\"\nclient_secret = {{ env = \"X\" }}\nauthority = \"{authority}\"\n"
            ))
            .unwrap();
            TokenManager::new("beta", &cfg, dir.path(), dir.path().join("t.json"))
                .unwrap()
                .scopes()
        };
        assert_eq!(
            scopes("device-code", "https://login.microsoftonline.com"),
            "https://outlook.office.com/POP.AccessAsUser.All offline_access"
        );
        assert_eq!(
            scopes("client-credentials", "https://login.microsoftonline.us"),
            "https://outlook.office365.us/.default"
        );
        assert_eq!(
            scopes("device-code", "https://login.chinacloudapi.cn"),
            "https://partner.outlook.cn/POP.AccessAsUser.All offline_access"
        );
    }

    #[test]
    fn token_endpoints_must_be_https_or_loopback() {
        let generic = |url: &str| {
            format!(
                "provider = \"generic\"\nflow = \"device-code\"\nclient_id = \"c\"\ntoken_url = \"{url}\"\n"
            )
        };
        let err = manager(&generic("http://idp.example.com/token"))
            .err()
            .expect("plain http to a remote host is refused")
            .to_string();
        assert!(err.contains("not https://"), "{err}");
        assert!(manager(&generic("https://idp.example.com/token")).is_ok());
        assert!(manager(&generic("http://127.0.0.1:8080/token")).is_ok());

        let national = "flow = \"device-code\"\nclient_id = \"c\"\ntenant = \"t\"\nauthority = \"http://login.example.cn\"\n";
        let err = manager(national)
            .err()
            .expect("an http authority is refused");
        assert!(err.to_string().contains("token endpoint"), "{err}");
    }
}
