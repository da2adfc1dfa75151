//! The on-disk token cache: one JSON file per account, mode 0600, written
//! atomically (write, fsync, rename, fsync dir), optionally encrypted at rest
//! with ChaCha20-Poly1305 under a key from an environment variable.

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

/// What the cache file holds.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: Option<String>,
    /// Unix seconds.
    pub access_expires_at: i64,
    pub refresh_token: Option<String>,
    /// Unix seconds when the current refresh token was issued (rotation resets it).
    pub refresh_issued_at: i64,
    /// Scopes granted, space-separated.
    pub scope: String,
    /// The flow that produced these tokens.
    pub flow: String,
    /// Why the grant is dead (the identity platform refused the refresh
    /// token): no request is made until `popline auth login` succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_login: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_expires_at", &self.access_expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
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
        serde_json::from_str(&json).with_context(|| {
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
        let json = serde_json::to_string_pretty(tokens)?;
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
        Tokens {
            access_token: Some("AT".into()),
            access_expires_at: 10,
            refresh_token: Some("RT".into()),
            refresh_issued_at: 5,
            scope: "s".into(),
            flow: "device-code".into(),
            needs_login: None,
        }
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
        assert!(plain.load().unwrap().access_token.is_none());
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
        assert_eq!(enc.load().unwrap().access_token.as_deref(), Some("AT"));
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
