//! Secrets: passwords, tokens and keys. They are read from where the config
//! file points, carried as [`Secret`] (redacted in `Debug`), and exposed only
//! where they go onto the wire.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// A secret value; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself; call only where it goes onto the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A reference to a secret; secrets are never written inline.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// Read from this environment variable.
    Env(String),
    /// Read from this file (trailing newline trimmed).
    File(PathBuf),
}

/// Why a secret could not be read: what failed (naming the variable or file,
/// never the value) and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{what}; {fix}")]
pub struct SecretError {
    pub what: String,
    pub fix: String,
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(v) => write!(f, "{{ env = {v:?} }}"),
            SecretRef::File(p) => write!(f, "{{ file = {:?} }}", p.display()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Env { env: String },
            File { file: PathBuf },
            Inline(#[allow(dead_code)] String),
            Other(#[allow(dead_code)] serde::de::IgnoredAny),
        }
        match Raw::deserialize(d)? {
            Raw::Env { env } => Ok(SecretRef::Env(env)),
            Raw::File { file } => Ok(SecretRef::File(file)),
            Raw::Inline(_) => Err(serde::de::Error::custom(
                "secrets are not accepted inline; write { env = \"VARIABLE\" } or { file = \"/path/to/secret\" }",
            )),
            Raw::Other(_) => Err(serde::de::Error::custom(
                "expected { env = \"VARIABLE\" } or { file = \"/path/to/secret\" }",
            )),
        }
    }
}

impl schemars::JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A secret, never inline: { env = \"VARIABLE\" } or { file = \"path\" }.",
            "oneOf": [
                { "type": "object", "properties": { "env": { "type": "string", "description": "Read from this environment variable." } }, "required": ["env"], "additionalProperties": false },
                { "type": "object", "properties": { "file": { "type": "string", "description": "Read from this file (relative to the config file; trailing newline trimmed)." } }, "required": ["file"], "additionalProperties": false }
            ]
        })
    }
}

impl SecretRef {
    /// Read the secret (a relative file is taken from `base_dir`). Errors
    /// name the variable or file, never the value.
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, SecretError> {
        let err = |what: String, fix: String| SecretError { what, fix };
        match self {
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                Ok(_) => Err(err(
                    format!("environment variable {var} is empty"),
                    format!("set {var} to the secret"),
                )),
                Err(_) => Err(err(
                    format!("environment variable {var} is not set (or not UTF-8)"),
                    format!("export {var}=... before starting popline"),
                )),
            },
            SecretRef::File(path) => {
                let path = base_dir.join(path);
                let s = std::fs::read_to_string(&path).map_err(|e| {
                    err(
                        format!("cannot read secret file {} ({e})", path.display()),
                        "create it, readable only by popline's user (chmod 600)".into(),
                    )
                })?;
                let s = s.trim_end_matches(['\r', '\n']);
                if s.is_empty() {
                    return Err(err(
                        format!("secret file {} is empty", path.display()),
                        "write the secret into it".into(),
                    ));
                }
                Ok(Secret(s.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        secret: SecretRef,
    }

    fn parse(text: &str) -> Result<SecretRef, String> {
        toml::from_str::<Holder>(text)
            .map(|h| h.secret)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn references_parse_and_inline_values_are_refused() {
        assert_eq!(
            parse("secret = { env = \"X\" }"),
            Ok(SecretRef::Env("X".into()))
        );
        assert_eq!(
            parse("secret = { file = \"a/b\" }"),
            Ok(SecretRef::File("a/b".into()))
        );
        assert!(
            parse("secret = \"hunter2\"")
                .unwrap_err()
                .contains("not accepted inline")
        );
        assert!(parse("secret = 3").unwrap_err().contains("expected { env"));
    }

    #[test]
    fn file_secret_is_trimmed_and_debug_is_redacted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "hunter2\r\n").unwrap();
        let s = SecretRef::File("s".into()).resolve(dir.path()).unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let e = SecretRef::File("missing".into())
            .resolve(dir.path())
            .unwrap_err();
        assert!(e.to_string().contains("cannot read secret file"), "{e}");
    }
}
