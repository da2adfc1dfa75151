//! Scope sets: what one access token is asked for. An account's refresh
//! token serves several (POP and SMTP submission on one sign-in); the
//! identity platform issues an access token for one resource per request,
//! so each service gets its own, cached under its set's [`ScopeSet::key`].

use crate::cloud;
use crate::config::{Flow, OAuthConfig};

/// Scopes that shape the grant, not the access token: they never decide
/// whether a cached token serves a request.
const GRANT_ONLY: &[&str] = &["offline_access", "openid", "profile", "email"];

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// POP3 login (a mailbox).
    Pop,
    /// SMTP submission (a `[notices.NAME]` server).
    Smtp,
}

/// The scopes of one token request, in request order, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    pub fn new<S: AsRef<str>>(scopes: impl IntoIterator<Item = S>) -> ScopeSet {
        let mut out: Vec<String> = Vec::new();
        for s in scopes {
            for s in s.as_ref().split_whitespace() {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
                    out.push(s.to_string());
                }
            }
        }
        ScopeSet(out)
    }

    /// The scopes `cfg` asks for `service`: `scopes` when set; else, for the
    /// authority's cloud, `POP.AccessAsUser.All` or `SMTP.Send` with
    /// `offline_access` (delegated flows), or the app-only `.default`, which
    /// carries every application permission consented (`POP.AccessAsApp`,
    /// `SMTP.SendAsApp`) and so serves both.
    pub fn for_service(cfg: &OAuthConfig, service: Service) -> ScopeSet {
        if !cfg.scopes.is_empty() {
            return ScopeSet::new(&cfg.scopes);
        }
        let cloud = cloud::by_authority(&cfg.authority).unwrap_or(cloud::global());
        match (cfg.flow, service) {
            (Flow::ClientCredentials, _) => ScopeSet::new([cloud.app]),
            (_, Service::Pop) => ScopeSet::new([cloud.pop_delegated, "offline_access"]),
            (_, Service::Smtp) => ScopeSet::new([
                cloud
                    .pop_delegated
                    .replace("POP.AccessAsUser.All", "SMTP.Send")
                    .as_str(),
                "offline_access",
            ]),
        }
    }

    /// Every scope of `sets`, in order: what a sign-in asks for so that one
    /// consent covers every service sharing the account.
    pub fn union<'a>(sets: impl IntoIterator<Item = &'a ScopeSet>) -> ScopeSet {
        ScopeSet::new(sets.into_iter().flat_map(|s| s.0.iter()))
    }

    /// The `scope` parameter.
    pub fn request(&self) -> String {
        self.0.join(" ")
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Where the set's access token is cached: the scopes, lower-case,
    /// sorted, space-separated (request order does not matter).
    pub fn key(&self) -> String {
        let mut v: Vec<String> = self.0.iter().map(|s| s.to_ascii_lowercase()).collect();
        v.sort();
        v.join(" ")
    }

    /// Whether a token granted `granted` (space-separated, as the token
    /// response's `scope` says) serves this set: every scope of the set but
    /// the grant-only ones is among them.
    pub fn covered_by(&self, granted: &str) -> bool {
        let granted: Vec<&str> = granted.split_whitespace().collect();
        self.0
            .iter()
            .filter(|s| !GRANT_ONLY.iter().any(|g| g.eq_ignore_ascii_case(s)))
            .all(|s| granted.iter().any(|g| g.eq_ignore_ascii_case(s)))
    }

    /// Whether the set asks for a refresh token.
    pub fn offline(&self) -> bool {
        self.0
            .iter()
            .any(|s| s.eq_ignore_ascii_case("offline_access"))
    }
}

impl std::fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.request())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POP: &str = "https://outlook.office.com/POP.AccessAsUser.All";
    const SMTP: &str = "https://outlook.office.com/SMTP.Send";

    fn cfg(text: &str) -> OAuthConfig {
        toml::from_str(&format!("client_id = \"c\"\ntenant = \"t\"\n{text}")).unwrap()
    }

    #[test]
    fn services_get_their_scopes_per_cloud_and_flow() {
        let device = cfg("flow = \"device-code\"");
        assert_eq!(
            ScopeSet::for_service(&device, Service::Pop).request(),
            format!("{POP} offline_access")
        );
        assert_eq!(
            ScopeSet::for_service(&device, Service::Smtp).request(),
            format!("{SMTP} offline_access")
        );
        let us =
            cfg("flow = \"authorization-code\"\nauthority = \"https://login.microsoftonline.us\"");
        assert_eq!(
            ScopeSet::for_service(&us, Service::Smtp).request(),
            "https://outlook.office365.us/SMTP.Send offline_access"
        );
        let app = cfg("flow = \"client-credentials\"");
        assert_eq!(
            ScopeSet::for_service(&app, Service::Pop),
            ScopeSet::for_service(&app, Service::Smtp)
        );
        assert_eq!(
            ScopeSet::for_service(&app, Service::Smtp).request(),
            "https://outlook.office365.com/.default"
        );
        let own = cfg("flow = \"device-code\"\nscopes = [\"a\", \"b\"]");
        assert_eq!(ScopeSet::for_service(&own, Service::Smtp).request(), "a b");
    }

    #[test]
    fn union_keys_and_cover() {
        let pop = ScopeSet::new([POP, "offline_access"]);
        let smtp = ScopeSet::new([SMTP, "offline_access"]);
        let both = ScopeSet::union([&pop, &smtp]);
        assert_eq!(both.request(), format!("{POP} offline_access {SMTP}"));
        assert!(both.offline());
        // Order and case do not change the key.
        assert_eq!(
            ScopeSet::new(["offline_access", &POP.to_uppercase()]).key(),
            pop.key()
        );
        assert_ne!(pop.key(), smtp.key());
        // A token for both serves each; one for POP does not serve SMTP.
        assert!(pop.covered_by(&format!("{POP} {SMTP}")));
        assert!(smtp.covered_by(&format!("{POP} {SMTP}")));
        assert!(pop.covered_by(POP));
        assert!(!smtp.covered_by(POP));
        assert!(!smtp.covered_by(""));
        // Repeats and extra whitespace collapse.
        assert_eq!(ScopeSet::new([" a  b", "a"]).request(), "a b");
    }
}
