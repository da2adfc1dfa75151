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
//! | `manager` | [`TokenManager`]: one per account; cache, refresh, single flight, the grants through the `oauth2` crate |
//! | `scopes` | [`ScopeSet`]: what one access token is for (POP, SMTP submission), per cloud and flow |
//! | `http` | the HTTP function oauth2 calls: retries with `Retry-After`, Microsoft's error bodies, per-request assertions |
//! | `endpoint` | AADSTS codes to causes and fixes |
//! | `assertion` | certificate credentials (PEM, DER, PFX, encrypted keys), client assertions signed with ring |
//! | `redirect` | the loopback listener of the code flow |
//! | `cache` | the token file: 0600, atomic, optionally encrypted; one refresh token, an access token per scope set, the owning app and account; format 1 read and converted |

mod assertion;
mod cache;
pub mod cloud;
mod config;
mod endpoint;
mod http;
mod manager;
mod redirect;
mod scopes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use assertion::Algorithm;
pub use cache::Owner;
pub use config::{CertificateConfig, Flow, OAuthConfig, Provider};
pub use manager::TokenManager;
pub use scopes::{ScopeSet, Service};

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

/// One manager per token cache file, so every service naming the file (a
/// mailbox, mailboxes sharing a login, a notice server sharing a
/// mailbox's) shares one refresh token and one lock.
#[derive(Default)]
pub struct Accounts {
    by_cache: Vec<Arc<TokenManager>>,
}

/// A service's way to its tokens: the account's manager and the service's
/// scope set.
#[derive(Clone)]
pub struct Tokens {
    pub manager: Arc<TokenManager>,
    pub scopes: ScopeSet,
}

impl Tokens {
    /// See [`TokenManager::access_token`].
    pub async fn access_token(&self) -> Result<popline_core::Secret, AuthError> {
        self.manager.access_token(&self.scopes).await
    }

    /// See [`TokenManager::renew_access_token`].
    pub async fn renew_access_token(&self) -> Result<popline_core::Secret, AuthError> {
        self.manager.renew_access_token(&self.scopes).await
    }

    pub fn flow(&self) -> Flow {
        self.manager.flow()
    }
}

impl Accounts {
    /// The tokens of service `name` (a mailbox, or `notices.NAME`) with
    /// `cfg`, signing in as `account`, for `scopes`. Services whose cache
    /// file is the same share its manager; they must then name the same
    /// app, tenant and flow (one file holds one account's tokens).
    pub fn get(
        &mut self,
        name: &str,
        cfg: &OAuthConfig,
        account: &str,
        scopes: ScopeSet,
        base_dir: &Path,
        default_cache: PathBuf,
    ) -> anyhow::Result<Tokens> {
        let path = cfg
            .token_cache
            .as_ref()
            .map(|p| base_dir.join(p))
            .unwrap_or(default_cache.clone());
        if let Some(m) = self.by_cache.iter().find(|m| m.cache_path() == path) {
            let first = m.config();
            let differs = first
                .sign_in_difference(cfg)
                .or_else(|| (first.cache_key_env != cfg.cache_key_env).then_some("cache_key_env"));
            if let Some(what) = differs {
                anyhow::bail!(
                    "{name} and {} use the token cache {} with a different oauth {what}; one \
                     file holds the tokens of one app's sign-in: give {name} its own token_cache",
                    m.services()[0],
                    path.display()
                );
            }
            m.add_service(name, scopes.clone());
            return Ok(Tokens {
                manager: m.clone(),
                scopes,
            });
        }
        let m = Arc::new(TokenManager::new(
            name,
            cfg,
            account,
            scopes.clone(),
            base_dir,
            default_cache,
        )?);
        self.by_cache.push(m.clone());
        Ok(Tokens { manager: m, scopes })
    }

    /// Every manager, in the order they were made.
    pub fn managers(&self) -> &[Arc<TokenManager>] {
        &self.by_cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(oauth: &str) -> anyhow::Result<TokenManager> {
        let cfg: OAuthConfig = toml::from_str(oauth).unwrap();
        let dir = tempfile::tempdir().unwrap();
        TokenManager::new(
            "beta",
            &cfg,
            "beta@contoso.example",
            ScopeSet::for_service(&cfg, Service::Pop),
            dir.path(),
            dir.path().join("t.json"),
        )
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
        let scopes = |flow: &str, authority: &str| {
            let cfg: OAuthConfig = toml::from_str(&format!(
                "flow = \"{flow}\"\nclient_id = \"c\"\ntenant = \"t\"\nclient_secret = {{ env = \"X\" }}\nauthority = \"{authority}\"\n"
            ))
            .unwrap();
            ScopeSet::for_service(&cfg, Service::Pop).request()
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

    /// Services naming one cache file share one manager, whose sign-in asks
    /// for every service's scopes; another app on the same file is refused.
    #[test]
    fn one_manager_per_cache_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = |client: &str| -> OAuthConfig {
            toml::from_str(&format!(
                "flow = \"device-code\"\nclient_id = \"{client}\"\ntenant = \"t\"\ntoken_cache = \"tokens/beta.json\"\n"
            ))
            .unwrap()
        };
        let mut accounts = Accounts::default();
        let pop_cfg = cfg("app");
        let pop = accounts
            .get(
                "beta",
                &pop_cfg,
                "Beta@Contoso.example",
                ScopeSet::for_service(&pop_cfg, Service::Pop),
                dir.path(),
                dir.path().join("default.json"),
            )
            .unwrap();
        let smtp = accounts
            .get(
                "notices.smtp",
                &pop_cfg,
                "beta@contoso.example",
                ScopeSet::for_service(&pop_cfg, Service::Smtp),
                dir.path(),
                dir.path().join("other.json"),
            )
            .unwrap();
        assert!(Arc::ptr_eq(&pop.manager, &smtp.manager));
        assert_eq!(accounts.managers().len(), 1);
        assert_ne!(pop.scopes, smtp.scopes);
        assert_eq!(
            pop.manager.sign_in_scopes().request(),
            "https://outlook.office.com/POP.AccessAsUser.All offline_access https://outlook.office.com/SMTP.Send"
        );
        assert_eq!(pop.manager.services(), ["beta", "notices.smtp"]);
        assert_eq!(pop.manager.owner().account, "beta@contoso.example");
        assert_eq!(pop.manager.owner().client_id, "app");
        let other_cfg = cfg("other-app");
        let err = accounts
            .get(
                "notices.other",
                &other_cfg,
                "beta@contoso.example",
                ScopeSet::for_service(&other_cfg, Service::Smtp),
                dir.path(),
                dir.path().join("x.json"),
            )
            .err()
            .expect("another app on the same file is refused")
            .to_string();
        assert!(err.contains("different oauth client_id"), "{err}");
    }

    /// Tokens the cache holds for another app are never used (nothing is
    /// asked of the identity platform with them): the account needs a
    /// sign-in, saying why; the same app's are served from the cache for
    /// each scope set they cover.
    #[tokio::test]
    async fn another_apps_cached_tokens_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cfg: OAuthConfig = toml::from_str(
            "flow = \"device-code\"\nclient_id = \"app\"\ntenant = \"t\"\nauthority = \"http://127.0.0.1:9\"\n",
        )
        .unwrap();
        let pop = ScopeSet::for_service(&cfg, Service::Pop);
        let smtp = ScopeSet::for_service(&cfg, Service::Smtp);
        let m = TokenManager::new(
            "beta",
            &cfg,
            "beta@contoso.example",
            pop.clone(),
            dir.path(),
            dir.path().join("beta.json"),
        )
        .unwrap();
        m.add_service("notices.smtp", smtp.clone());
        let cache = |client_id: &str| {
            serde_json::json!({
                "format": 2,
                "client_id": client_id,
                "token_url": "http://127.0.0.1:9/t/oauth2/v2.0/token",
                "account": "beta@contoso.example",
                "flow": "device-code",
                "refresh_token": "RT-SECRET",
                "refresh_issued_at": popline_core::clock::unix_now(),
                "access": {
                    pop.key(): {
                        "token": "AT-POP",
                        "expires_at": popline_core::clock::unix_now() + 3600,
                        "scope": "https://outlook.office.com/POP.AccessAsUser.All",
                    },
                },
            })
            .to_string()
        };
        std::fs::write(dir.path().join("beta.json"), cache("old-app")).unwrap();
        let err = m.access_token(&pop).await.unwrap_err().to_string();
        assert!(
            err.starts_with("needs-login: the cached tokens were issued to app old-app")
                && err.contains("popline auth login beta --device")
                && !err.contains("SECRET"),
            "{err}"
        );
        let status = m.status();
        assert!(
            status
                .iter()
                .any(|(k, v)| k == "state" && v.contains("issued to app old-app")),
            "{status:?}"
        );
        assert!(
            status
                .iter()
                .any(|(k, v)| k == "shared with" && v == "notices.smtp")
        );

        std::fs::write(dir.path().join("beta.json"), cache("app")).unwrap();
        assert_eq!(m.access_token(&pop).await.unwrap().expose(), "AT-POP");
        // SMTP has no token of its own yet: it would refresh (and here the
        // endpoint is unreachable), never take POP's.
        let err = m.access_token(&smtp).await.unwrap_err();
        assert!(matches!(err, AuthError::Unavailable(_)), "{err}");
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
