//! The on-disk token cache: one JSON file per account, mode 0600, written
//! atomically (write, fsync, rename, fsync dir), optionally encrypted at rest
//! with ChaCha20-Poly1305 under a key from an environment variable.
//!
//! Format 2 holds one refresh token and an access token per scope set (POP
//! and SMTP submission share one sign-in), and names the app, token
//! endpoint and account the tokens belong to, so a changed `client_id` or
//! tenant never reuses another app's tokens. Format 1 (one access token, no
//! app) is read and converted; the next write stores format 2.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::scopes::ScopeSet;

/// The format [`Cache::store`] writes.
pub const FORMAT: u32 = 2;

/// Whose tokens a cache holds: the app, where it signs in, and the account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The app (client) ID the tokens were issued to.
    pub client_id: String,
    /// The token endpoint (authority and tenant, or a generic provider's URL).
    pub token_url: String,
    /// The account that signed in (delegated flows: `login_hint`, else the
    /// mailbox's `user`); empty for app-only tokens.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
}

impl Owner {
    /// Why tokens owned by `self` must not serve `wanted`, if they must not.
    pub fn differs_from(&self, wanted: &Owner) -> Option<String> {
        if self.client_id != wanted.client_id {
            return Some(format!(
                "the cached tokens were issued to app {} (oauth.client_id is now {})",
                self.client_id, wanted.client_id
            ));
        }
        if self.token_url != wanted.token_url {
            return Some(format!(
                "the cached tokens come from {} (the token endpoint is now {})",
                self.token_url, wanted.token_url
            ));
        }
        if !self.account.is_empty()
            && !wanted.account.is_empty()
            && !self.account.eq_ignore_ascii_case(&wanted.account)
        {
            return Some(format!(
                "the cached tokens are {}'s (the account is now {})",
                self.account, wanted.account
            ));
        }
        None
    }
}

/// One access token.
#[derive(Clone, Serialize, Deserialize)]
pub struct Access {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Scopes granted, space-separated (the token response's `scope`).
    pub scope: String,
}

/// What the cache file holds: one account's grant.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Tokens {
    pub format: u32,
    #[serde(flatten)]
    pub owner: Owner,
    /// The flow that produced these tokens.
    pub flow: String,
    pub refresh_token: Option<String>,
    /// Unix seconds when the current refresh token was issued (rotation resets it).
    pub refresh_issued_at: i64,
    /// What the sign-in asked for, space-separated: every service sharing
    /// the account.
    #[serde(default)]
    pub signed_in_for: String,
    /// Why the grant is dead (the identity platform refused the refresh
    /// token): no request is made until `popline auth login` succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_login: Option<String>,
    /// Access tokens by [`ScopeSet::key`].
    #[serde(default)]
    pub access: BTreeMap<String, Access>,
}

impl Tokens {
    /// A cached access token serving `scopes`: its own, or one granted
    /// scopes covering it (the sign-in's, asked for every service).
    pub fn access_for(&self, scopes: &ScopeSet) -> Option<&Access> {
        self.access
            .get(&scopes.key())
            .or_else(|| self.access.values().find(|a| scopes.covered_by(&a.scope)))
    }

    /// Whether any access token is cached.
    pub fn has_access(&self) -> bool {
        !self.access.is_empty()
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("owner", &self.owner)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field(
                "access",
                &self
                    .access
                    .iter()
                    .map(|(k, a)| (k.as_str(), a.expires_at))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Format 1: one access token, no owner.
#[derive(Deserialize)]
struct TokensV1 {
    access_token: Option<String>,
    access_expires_at: i64,
    refresh_token: Option<String>,
    refresh_issued_at: i64,
    scope: String,
    flow: String,
    #[serde(default)]
    needs_login: Option<String>,
}

impl TokensV1 {
    /// Format 2 with an unknown owner (the manager adopts it as its own:
    /// format 1 had one file per account and named no app). The access
    /// token is kept under its granted scopes, which serve the same
    /// requests as before.
    fn upgrade(self) -> Tokens {
        let mut access = BTreeMap::new();
        if let Some(token) = self.access_token {
            access.insert(
                ScopeSet::new([&self.scope]).key(),
                Access {
                    token,
                    expires_at: self.access_expires_at,
                    scope: self.scope.clone(),
                },
            );
        }
        Tokens {
            format: 1,
            owner: Owner::default(),
            flow: self.flow,
            refresh_token: self.refresh_token,
            refresh_issued_at: self.refresh_issued_at,
            signed_in_for: self.scope,
            needs_login: self.needs_login,
            access,
        }
    }
}

/// Parse a cache file's JSON, either format.
fn parse(json: &str) -> serde_json::Result<Tokens> {
    let value: serde_json::Value = serde_json::from_str(json)?;
    if value.get("format").is_some() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value::<TokensV1>(value).map(TokensV1::upgrade)
    }
}

const ENC_PREFIX: &str = "popline-enc-v1:";

/// A token cache file.
pub struct Cache {
    path: PathBuf,
    key: Option<[u8; 32]>,
}

impl Cache {
    /// `key`: 32 bytes from `cache_key_env` (base64), if configured.
    pub fn new(path: PathBuf, key: Option<[u8; 32]>) -> Cache {
        Cache { path, key }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hold the account against other popline processes (`popline run`
    /// and a `popline notices retry` beside it) until the guard drops: an
    /// exclusive lock on `NAME.lock` beside the cache, taken before a
    /// refresh reads the refresh token and released after the rotated one
    /// is stored, so no process redeems a refresh token another burned.
    pub async fn lock(&self) -> anyhow::Result<File> {
        let path = self.path.with_extension("lock");
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut options = std::fs::OpenOptions::new();
            options.create(true).truncate(false).write(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            file.lock()
                .with_context(|| format!("locking {}", path.display()))?;
            Ok(file)
        })
        .await
        .context("the token cache lock's task")?
    }

    /// Read the cache; a missing file is an empty cache.
    pub fn load(&self) -> anyhow::Result<Tokens> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tokens::default()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading token cache {}", self.path.display()));
            }
        };
        let json = match (text.strip_prefix(ENC_PREFIX), &self.key) {
            (Some(enc), Some(key)) => decrypt(key, enc.trim()).with_context(|| {
                format!(
                    "decrypting token cache {} (wrong key?)",
                    self.path.display()
                )
            })?,
            (Some(_), None) => anyhow::bail!(
                "token cache {} is encrypted but no key is configured; set oauth.cache_key_env",
                self.path.display()
            ),
            (None, _) => text,
        };
        parse(&json).with_context(|| {
            format!(
                "parsing token cache {}; delete it and log in again",
                self.path.display()
            )
        })
    }

    /// Replace the cache durably. The file is created 0600 and never widened.
    pub fn store(&self, tokens: &Tokens) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tokens = Tokens {
            format: FORMAT,
            ..tokens.clone()
        };
        let json = serde_json::to_string_pretty(&tokens)?;
        let body = match &self.key {
            Some(key) => format!("{ENC_PREFIX}{}\n", encrypt(key, json.as_bytes())),
            None => json,
        };
        // A fresh, unpredictable name created with O_EXCL (mode 0600): a
        // file or link planted beside the cache is never followed.
        let mut tmp = tempfile::Builder::new()
            .prefix(".popline-token-")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        tmp.write_all(body.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .with_context(|| format!("writing {}", tmp.path().display()))?;
        tmp.persist(&self.path)
            .with_context(|| format!("replacing {}", self.path.display()))?;
        File::open(dir).and_then(|d| d.sync_all()).ok();
        Ok(())
    }
}

/// Parse a base64 32-byte key.
pub fn parse_key(b64: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = B64.decode(b64.trim()).context(
        "the token cache key is not base64 (generate one with: head -c32 /dev/urandom | base64)",
    )?;
    bytes.try_into().map_err(|_| {
        anyhow::anyhow!("the token cache key must be 32 bytes (head -c32 /dev/urandom | base64)")
    })
}

fn encrypt(key: &[u8; 32], plain: &[u8]) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), plain)
        .expect("ChaCha20-Poly1305 encryption does not fail for in-memory data");
    let mut out = nonce.to_vec();
    out.extend(ct);
    B64.encode(out)
}

fn decrypt(key: &[u8; 32], b64: &str) -> anyhow::Result<String> {
    let raw = B64.decode(b64)?;
    anyhow::ensure!(raw.len() > 12, "ciphertext too short");
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(Nonce::from_slice(&raw[..12]), &raw[12..])
        .map_err(|_| anyhow::anyhow!("authentication failed"))?;
    Ok(String::from_utf8(plain)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tokens {
        let mut access = BTreeMap::new();
        access.insert(
            "s".into(),
            Access {
                token: "AT".into(),
                expires_at: 10,
                scope: "s".into(),
            },
        );
        Tokens {
            format: FORMAT,
            owner: Owner {
                client_id: "app".into(),
                token_url: "https://login.example/t/token".into(),
                account: "beta@contoso.example".into(),
            },
            refresh_token: Some("RT".into()),
            refresh_issued_at: 5,
            signed_in_for: "s".into(),
            flow: "device-code".into(),
            needs_login: None,
            access,
        }
    }

    const POP: &str = "https://outlook.office.com/POP.AccessAsUser.All";
    const SMTP: &str = "https://outlook.office.com/SMTP.Send";

    /// A format 1 file, as earlier versions wrote it, is read as format 2
    /// with an unknown owner; storing it writes format 2.
    #[test]
    fn format_1_is_read_and_rewritten_as_format_2() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("beta.json"), None);
        let v1 = format!(
            r#"{{
  "access_token": "AT1",
  "access_expires_at": 1700000000,
  "refresh_token": "RT1",
  "refresh_issued_at": 1690000000,
  "scope": "{POP} offline_access",
  "flow": "device-code"
}}"#
        );
        std::fs::write(cache.path(), v1).unwrap();
        let t = cache.load().unwrap();
        assert_eq!(t.format, 1);
        assert_eq!(t.owner, Owner::default());
        assert_eq!(t.refresh_token.as_deref(), Some("RT1"));
        assert_eq!(t.refresh_issued_at, 1_690_000_000);
        let pop = ScopeSet::new([POP, "offline_access"]);
        let a = t.access_for(&pop).expect("the POP token is kept");
        assert_eq!((a.token.as_str(), a.expires_at), ("AT1", 1_700_000_000));
        assert!(
            t.access_for(&ScopeSet::new([SMTP, "offline_access"]))
                .is_none()
        );
        cache.store(&t).unwrap();
        let text = std::fs::read_to_string(cache.path()).unwrap();
        assert!(
            text.contains("\"format\": 2") && !text.contains("access_token"),
            "{text}"
        );
        assert_eq!(cache.load().unwrap().format, FORMAT);
        // A dead grant survives the conversion.
        std::fs::write(
            cache.path(),
            r#"{"access_token":null,"access_expires_at":0,"refresh_token":null,"refresh_issued_at":0,"scope":"","flow":"device-code","needs_login":"revoked"}"#,
        )
        .unwrap();
        let t = cache.load().unwrap();
        assert_eq!(t.needs_login.as_deref(), Some("revoked"));
        assert!(!t.has_access());
    }

    #[test]
    fn the_owner_decides_whether_tokens_serve() {
        let owner = sample().owner;
        assert_eq!(owner.differs_from(&owner), None);
        let app = Owner {
            client_id: "other-app".into(),
            ..owner.clone()
        };
        assert!(
            owner
                .differs_from(&app)
                .unwrap()
                .contains("issued to app app")
        );
        let tenant = Owner {
            token_url: "https://login.example/u/token".into(),
            ..owner.clone()
        };
        assert!(owner.differs_from(&tenant).is_some());
        let user = Owner {
            account: "other@contoso.example".into(),
            ..owner.clone()
        };
        assert!(owner.differs_from(&user).is_some());
        let case = Owner {
            account: "Beta@Contoso.Example".into(),
            ..owner.clone()
        };
        assert_eq!(owner.differs_from(&case), None);
        // App-only tokens name no account.
        let app_only = Owner {
            account: String::new(),
            ..owner.clone()
        };
        assert_eq!(owner.differs_from(&app_only), None);
    }

    #[test]
    fn an_access_token_per_scope_set() {
        let mut t = sample();
        t.access.clear();
        let pop = ScopeSet::new([POP, "offline_access"]);
        let smtp = ScopeSet::new([SMTP, "offline_access"]);
        t.access.insert(
            pop.key(),
            Access {
                token: "P".into(),
                expires_at: 1,
                scope: POP.into(),
            },
        );
        assert_eq!(t.access_for(&pop).unwrap().token, "P");
        assert!(t.access_for(&smtp).is_none());
        // The sign-in's token, granted both, serves both until each has its own.
        t.access.clear();
        t.access.insert(
            ScopeSet::union([&pop, &smtp]).key(),
            Access {
                token: "B".into(),
                expires_at: 1,
                scope: format!("{POP} {SMTP}"),
            },
        );
        assert_eq!(t.access_for(&smtp).unwrap().token, "B");
        assert_eq!(t.access_for(&pop).unwrap().token, "B");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_beside_the_cache_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // Where the cache's temporary file used to be (a fixed name).
        std::os::unix::fs::symlink(&victim, dir.path().join("a.tmp")).unwrap();
        let cache = Cache::new(dir.path().join("a.json"), None);
        cache.store(&sample()).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(cache.load().unwrap().refresh_token.as_deref(), Some("RT"));
    }

    #[test]
    fn roundtrip_private_and_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Cache::new(dir.path().join("t/a.json"), None);
        assert!(!plain.load().unwrap().has_access());
        plain.store(&sample()).unwrap();
        assert_eq!(plain.load().unwrap().refresh_token.as_deref(), Some("RT"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(plain.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = [7u8; 32];
        let enc = Cache::new(dir.path().join("b.json"), Some(key));
        enc.store(&sample()).unwrap();
        let on_disk = std::fs::read_to_string(enc.path()).unwrap();
        // The token as a JSON string: quotes never occur in the encoded
        // ciphertext, while a bare "RT" does by chance (this was flaky).
        assert!(
            std::fs::read_to_string(plain.path())
                .unwrap()
                .contains("\"RT\"")
        );
        assert!(on_disk.starts_with(ENC_PREFIX) && !on_disk.contains("\"RT\""));
        assert_eq!(enc.load().unwrap().access["s"].token, "AT");
        let wrong = Cache::new(enc.path().to_path_buf(), Some([8u8; 32]));
        assert!(wrong.load().unwrap_err().to_string().contains("wrong key"));
        let none = Cache::new(enc.path().to_path_buf(), None);
        assert!(
            none.load()
                .unwrap_err()
                .to_string()
                .contains("cache_key_env")
        );
        // Debug never shows tokens.
        assert!(!format!("{:?}", sample()).contains("RT"));
    }

    #[test]
    fn key_parsing() {
        assert!(parse_key(&B64.encode([1u8; 32])).is_ok());
        assert!(parse_key("!!").is_err());
        assert!(
            parse_key(&B64.encode([1u8; 16]))
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
    }
}
