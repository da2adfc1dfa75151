//! The client's side of certificate credentials, for tests that act as the
//! client: a certificate to register with [`super::App::certificate`] and
//! the client assertions signed with its key.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

use super::state::{guid, unix_now};

/// Signature algorithm of a client assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AssertionAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[default]
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

/// Which certificate thumbprint header a client assertion carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Thumbprint {
    /// `x5t#S256`: base64url SHA-256 of the DER certificate.
    #[default]
    Sha256,
    /// `x5t`: base64url SHA-1 (the older form).
    Sha1,
    /// Neither (Microsoft refuses this).
    None,
}

/// How [`ClientCertificate::client_assertion_with`] builds an assertion;
/// the default is a valid one.
#[derive(Clone, Debug)]
pub struct AssertionOptions {
    /// RS256 (default) or PS256.
    pub alg: AssertionAlg,
    /// Which thumbprint header (default `x5t#S256`).
    pub thumbprint: Thumbprint,
    /// `nbf` relative to now, in seconds (default 0).
    pub not_before_offset: i64,
    /// `exp - nbf` in seconds (default 300; Microsoft allows at most 600).
    pub lifetime: i64,
    /// The `jti`; default a fresh random one.
    pub jti: Option<String>,
}

impl Default for AssertionOptions {
    fn default() -> Self {
        AssertionOptions {
            alg: AssertionAlg::Rs256,
            thumbprint: Thumbprint::Sha256,
            not_before_offset: 0,
            lifetime: 300,
            jti: None,
        }
    }
}

/// A self-signed RSA-2048 certificate and its key, as an app registration's
/// certificate credential.
///
/// `ring` cannot generate RSA keys, so the key comes from the `openssl` tool,
/// which also writes the other forms a portal or Windows hands out (DER,
/// PKCS#1, encrypted PKCS#8, PFX); signing uses ring.
#[derive(Clone)]
pub struct ClientCertificate {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
    key_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Generates a 2048-bit RSA key and a self-signed certificate (CN =
    /// `common_name`) valid from now for a year.
    pub fn generate(common_name: &str) -> Result<ClientCertificate> {
        Self::generate_valid(common_name, None)
    }

    /// Like [`Self::generate`], valid only between `(not_before,
    /// not_after)` given as (year, month, day), e.g. in the past.
    pub fn generate_valid(
        common_name: &str,
        validity: Option<(Ymd, Ymd)>,
    ) -> Result<ClientCertificate> {
        // ring cannot generate RSA keys; the openssl tool can.
        // PEM: its DER output would be PKCS#1, not PKCS#8.
        let args = [
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ];
        let pem = openssl(&args, &[]).context("generating an RSA key")?;
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(&pem)
            .map_err(|e| anyhow!("openssl's key is not PKCS#8 PEM: {e:?}"))?
            .secret_pkcs8_der()
            .to_vec();
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )?;
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        if let Some(((y0, m0, d0), (y1, m1, d1))) = validity {
            params.not_before = rcgen::date_time_ymd(y0, m0, d0);
            params.not_after = rcgen::date_time_ymd(y1, m1, d1);
        }
        let cert = params.self_signed(&key_pair)?;
        Ok(ClientCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key_pair.serialize_pem(),
            key_pkcs8: pkcs8,
        })
    }

    /// The certificate, PEM (register it with [`super::App::certificate`]).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// `x5t#S256`: base64url of the certificate's SHA-256.
    pub fn thumbprint_sha256(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.cert_der))
    }

    fn sha1(&self) -> digest::Digest {
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der)
    }

    /// The SHA-1 thumbprint in hex, as the Azure portal shows it.
    pub fn thumbprint_hex(&self) -> String {
        hex::encode_upper(self.sha1())
    }

    /// Writes `client.crt` and `client.key` (mode 0600) into `dir`; returns
    /// their paths.
    pub fn write_pem(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cert = dir.join("client.crt");
        let key = dir.join("client.key");
        fs::write(&cert, &self.cert_pem).with_context(|| format!("writing {}", cert.display()))?;
        fs::write(&key, &self.key_pem).with_context(|| format!("writing {}", key.display()))?;
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
        Ok((cert, key))
    }

    /// The certificate as DER (a `.cer` saved as binary) at `dir/client.cer`.
    pub fn write_der(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("client.cer");
        fs::write(&path, &self.cert_der).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The key in another PEM form at `dir/NAME` (mode 0600): `Pkcs1`
    /// (`RSA PRIVATE KEY`), or encrypted PKCS#8 with `password` in OpenSSL
    /// 3's default scheme (PBES2, PBKDF2-SHA256, AES-256-CBC).
    pub fn write_key(&self, dir: &Path, form: KeyForm<'_>) -> Result<PathBuf> {
        let (name, args, password): (&str, &[&str], Option<&str>) = match form {
            KeyForm::Pkcs1 => ("client.pkcs1.key", &["pkey", "-traditional"], None),
            KeyForm::EncryptedPkcs8(pw) => (
                "client.enc.key",
                &[
                    "pkcs8",
                    "-topk8",
                    "-v2",
                    "aes-256-cbc",
                    "-passout",
                    "env:POPLINE_TEST_PASSWORD",
                ],
                Some(pw),
            ),
        };
        let out = openssl_with(args, self.key_pem.as_bytes(), password)?;
        let path = dir.join(name);
        fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        Ok(path)
    }

    /// Certificate and key as a PKCS#12 file at `dir/client.pfx` (mode
    /// 0600), protected by `password`, as OpenSSL 3 writes it by default
    /// (AES-256, SHA-256 MAC) or, with `legacy`, as Windows' "TripleDES-SHA1"
    /// export does.
    pub fn write_pfx(&self, dir: &Path, password: &str, legacy: bool) -> Result<PathBuf> {
        let (cert, key) = self.write_pem(dir)?;
        let path = dir.join("client.pfx");
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            cert.to_str().context("certificate path")?,
            "-inkey",
            key.to_str().context("key path")?,
            "-passout",
            "env:POPLINE_TEST_PASSWORD",
        ];
        if legacy {
            args.extend([
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ]);
        }
        let out = openssl_with(&args, &[], Some(password))?;
        fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        Ok(path)
    }

    /// A valid client assertion for `client_id` at `audience` (the token
    /// URL): RS256, `x5t#S256`, five minutes, fresh `jti`.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> Result<String> {
        self.client_assertion_with(client_id, audience, &AssertionOptions::default())
    }

    /// A client assertion shaped by `opts` (for negative tests).
    pub fn client_assertion_with(
        &self,
        client_id: &str,
        audience: &str,
        opts: &AssertionOptions,
    ) -> Result<String> {
        let mut header = serde_json::json!({
            "alg": match opts.alg { AssertionAlg::Rs256 => "RS256", AssertionAlg::Ps256 => "PS256" },
            "typ": "JWT",
        });
        match opts.thumbprint {
            Thumbprint::Sha256 => header["x5t#S256"] = self.thumbprint_sha256().into(),
            Thumbprint::Sha1 => header["x5t"] = URL_SAFE_NO_PAD.encode(self.sha1()).into(),
            Thumbprint::None => {}
        }
        let now = unix_now() as i64;
        let nbf = now + opts.not_before_offset;
        let jti = opts.jti.clone().unwrap_or_else(guid);
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "nbf": nbf,
            "iat": nbf,
            "exp": nbf + opts.lifetime,
        });
        self.sign_jwt(&header, &claims, opts.alg)
    }

    /// Signs arbitrary `header` and `claims` with this key (the header is
    /// used as given: set `alg` to match `alg`).
    pub fn sign_jwt(&self, header: &Value, claims: &Value, alg: AssertionAlg) -> Result<String> {
        let key = RsaKeyPair::from_pkcs8(&self.key_pkcs8).map_err(|e| anyhow!("RSA key: {e}"))?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let mut sig = vec![0; key.public().modulus_len()];
        let padding: &dyn signature::RsaEncoding = match alg {
            AssertionAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
            AssertionAlg::Ps256 => &signature::RSA_PSS_SHA256,
        };
        key.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| anyhow!("RSA signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// A calendar date: (year, month, day).
pub type Ymd = (i32, u8, u8);

/// Other PEM forms of a private key ([`ClientCertificate::write_key`]).
#[derive(Clone, Copy, Debug)]
pub enum KeyForm<'a> {
    /// PKCS#1 `RSA PRIVATE KEY`.
    Pkcs1,
    /// `ENCRYPTED PRIVATE KEY` with this password.
    EncryptedPkcs8(&'a str),
}

/// Runs the `openssl` tool with `stdin`; its stdout.
fn openssl(args: &[&str], stdin: &[u8]) -> Result<Vec<u8>> {
    openssl_with(args, stdin, None)
}

/// [`openssl`], with `password` in `$POPLINE_TEST_PASSWORD` (never on the
/// command line).
fn openssl_with(args: &[&str], stdin: &[u8], password: Option<&str>) -> Result<Vec<u8>> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("openssl");
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(pw) = password {
        cmd.env("POPLINE_TEST_PASSWORD", pw);
    }
    let mut child = cmd
        .spawn()
        .context("running openssl (install the openssl package)")?;
    child.stdin.take().expect("piped").write_all(stdin)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}
