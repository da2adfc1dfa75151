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
    /// Read from the systemd credential of this name: the file of that name
    /// in `$CREDENTIALS_DIRECTORY` (`LoadCredential=` / `LoadCredentialEncrypted=`).
    Credential(String),
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
            SecretRef::Credential(n) => write!(f, "{{ credential = {n:?} }}"),
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
            Credential { credential: String },
            Inline(#[allow(dead_code)] String),
            Other(#[allow(dead_code)] serde::de::IgnoredAny),
        }
        match Raw::deserialize(d)? {
            Raw::Env { env } => Ok(SecretRef::Env(env)),
            Raw::File { file } => Ok(SecretRef::File(file)),
            Raw::Credential { credential } => {
                if !is_credential_name(&credential) {
                    return Err(serde::de::Error::custom(format!(
                        "credential = {credential:?} is not a credential name; use the NAME of LoadCredential=NAME:path in the systemd unit"
                    )));
                }
                Ok(SecretRef::Credential(credential))
            }
            Raw::Inline(_) => Err(serde::de::Error::custom(
                "secrets are not accepted inline; write { env = \"VARIABLE\" }, { file = \"/path/to/secret\" } or { credential = \"NAME\" } (systemd)",
            )),
            Raw::Other(_) => Err(serde::de::Error::custom(
                "expected { env = \"VARIABLE\" }, { file = \"/path/to/secret\" } or { credential = \"NAME\" }",
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
            "description": "A secret, never inline: { env = \"VARIABLE\" }, { file = \"path\" } or { credential = \"NAME\" } (a systemd credential).",
            "oneOf": [
                { "type": "object", "properties": { "env": { "type": "string", "description": "Read from this environment variable." } }, "required": ["env"], "additionalProperties": false },
                { "type": "object", "properties": { "file": { "type": "string", "description": "Read from this file (relative to the config file; trailing newline trimmed)." } }, "required": ["file"], "additionalProperties": false },
                { "type": "object", "properties": { "credential": { "type": "string", "description": "Read from the systemd credential NAME: $CREDENTIALS_DIRECTORY/NAME (LoadCredential=NAME:path in the unit)." } }, "required": ["credential"], "additionalProperties": false }
            ]
        })
    }
}

impl SecretRef {
    /// Read the secret (a relative file is taken from `base_dir`). Errors
    /// name the variable or file, never the value.
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, SecretError> {
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        self.resolve_in(base_dir, credentials.as_deref())
    }

    /// [`Self::resolve`] with systemd's credentials folder given.
    pub fn resolve_in(
        &self,
        base_dir: &Path,
        credentials: Option<&Path>,
    ) -> Result<Secret, SecretError> {
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
            SecretRef::File(path) => read_secret_file(
                &base_dir.join(path),
                "create it, readable only by popline's user (chmod 600)",
            ),
            SecretRef::Credential(name) if !is_credential_name(name) => Err(err(
                format!("credential {name:?} is not a credential name"),
                "use the NAME of LoadCredential=NAME:path in the systemd unit".into(),
            )),
            SecretRef::Credential(name) => {
                let dir = credentials.ok_or_else(|| {
                    err(
                        format!("credential {name:?}: $CREDENTIALS_DIRECTORY is not set (not started by systemd with credentials)"),
                        format!("add LoadCredential={name}:/path/to/secret to the unit's [Service], or use {{ file = ... }} outside systemd"),
                    )
                })?;
                read_secret_file(
                    &dir.join(name),
                    &format!("add LoadCredential={name}:/path/to/secret to the unit's [Service]"),
                )
            }
        }
    }
}

/// A file name in `$CREDENTIALS_DIRECTORY`, not a path out of it.
fn is_credential_name(name: &str) -> bool {
    !(name.is_empty() || name.contains('/') || name == "." || name == "..")
}

/// A secret file's content, its trailing newline trimmed.
fn read_secret_file(path: &Path, fix: &str) -> Result<Secret, SecretError> {
    let err = |what: String, fix: &str| SecretError {
        what,
        fix: fix.to_string(),
    };
    let s = std::fs::read_to_string(path).map_err(|e| {
        err(
            format!("cannot read secret file {} ({e})", path.display()),
            fix,
        )
    })?;
    let s = s.trim_end_matches(['\r', '\n']);
    if s.is_empty() {
        return Err(err(
            format!("secret file {} is empty", path.display()),
            "write the secret into it",
        ));
    }
    Ok(Secret(s.to_string()))
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

    #[test]
    fn credentials_come_from_the_systemd_folder() {
        assert_eq!(
            parse("secret = { credential = \"beta-pw\" }"),
            Ok(SecretRef::Credential("beta-pw".into()))
        );
        for bad in ["../etc/shadow", "a/b", "..", ""] {
            let e = parse(&format!("secret = {{ credential = {bad:?} }}")).unwrap_err();
            assert!(e.contains("is not a credential name"), "{bad}: {e}");
        }
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join("beta-pw"), "s3cret\n").unwrap();
        let r = SecretRef::Credential("beta-pw".into());
        let base = Path::new("/nonexistent");
        assert_eq!(
            r.resolve_in(base, Some(creds.path())).unwrap().expose(),
            "s3cret"
        );
        let e = r.resolve_in(base, None).unwrap_err().to_string();
        assert!(e.contains("$CREDENTIALS_DIRECTORY is not set"), "{e}");
        assert!(e.contains("LoadCredential=beta-pw:"), "{e}");
        let e = SecretRef::Credential("other".into())
            .resolve_in(base, Some(creds.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read secret file"), "{e}");
        assert!(e.contains("LoadCredential=other:"), "{e}");
    }
}
