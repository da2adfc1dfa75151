//! Certificate credentials: the app's certificate and private key, read in
//! every form the Entra portal and Windows hand out, checked before any
//! request, and a client assertion JWT signed with the key (RFC 7523), as
//! the Microsoft identity platform expects.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, KeyPair, RsaKeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::public_key::PublicKey;

/// Signature algorithms Entra ID accepts for client assertions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256: what Microsoft's documentation asks for.
    PS256,
}

/// The files of a certificate credential, resolved against the config's
/// folder, with the password of an encrypted key or PFX.
pub struct Files<'a> {
    /// The certificate: PEM (`.pem`/`.crt`/`.cer`) or DER (`.cer`).
    pub cert: Option<&'a Path>,
    /// Its private key: PEM PKCS#8, PKCS#1 or encrypted PKCS#8.
    pub key: Option<&'a Path>,
    /// Or both in one PKCS#12 file (`.pfx`/`.p12`).
    pub pfx: Option<&'a Path>,
    /// The password of an encrypted key or of the PFX.
    pub password: Option<&'a str>,
}

/// A loaded, checked certificate credential.
pub struct Certificate {
    key: RsaKeyPair,
    x5t_s256: String,
    x5t: String,
    alg: Algorithm,
    /// When the certificate expires (unix seconds).
    pub not_after: i64,
}

impl Certificate {
    /// Read the certificate and key, then check before any request that the
    /// key belongs to the certificate and that the certificate is valid
    /// `now` (unix seconds).
    pub fn load(files: &Files<'_>, alg: Algorithm, now: i64) -> anyhow::Result<Certificate> {
        let (cert_der, key) = match (files.pfx, files.cert, files.key) {
            (Some(pfx), None, None) => read_pfx(pfx, files.password)?,
            (None, Some(cert), Some(key)) => {
                (read_certificate(cert)?, read_key(key, files.password)?)
            }
            _ => bail!(
                "a certificate credential is either `pfx` (with `password`) or `cert` and `key`"
            ),
        };
        let shown = files
            .pfx
            .or(files.cert)
            .expect("one of them")
            .display()
            .to_string();
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| anyhow!("{shown} holds no valid X.509 certificate: {e}"))?;
        let validity = cert.validity();
        let (not_before, not_after) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        if now > not_after {
            bail!(
                "the certificate in {shown} expired on {}; create a new one, upload it under Certificates & secrets, and point the config at it",
                date(not_after)
            );
        }
        if now < not_before {
            bail!(
                "the certificate in {shown} is not valid before {}; check this machine's clock",
                date(not_before)
            );
        }
        let Ok(PublicKey::RSA(public)) = cert.public_key().parsed() else {
            bail!("the certificate in {shown} has no RSA key (Microsoft accepts RSA certificates)");
        };
        let ours: ring::rsa::PublicKeyComponents<Vec<u8>> = key.public_key().into();
        if strip(&ours.n) != strip(public.modulus) || strip(&ours.e) != strip(public.exponent) {
            bail!(
                "the private key does not belong to the certificate in {shown}; configure the key made with that certificate"
            );
        }
        let days_left = (not_after - now) / 86_400;
        if days_left < 30 {
            tracing::warn!(certificate = %shown, days_left, "the app's certificate expires soon; upload a new one under Certificates & secrets");
        }
        let digest = |alg| B64URL.encode(ring::digest::digest(alg, &cert_der));
        Ok(Certificate {
            key,
            x5t_s256: digest(&ring::digest::SHA256),
            x5t: digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            alg,
            not_after,
        })
    }

    /// A fresh assertion for `client_id` at `token_url`, valid for 5 minutes.
    pub fn assertion(&self, client_id: &str, token_url: &str, now: i64) -> String {
        let header = serde_json::json!({
            "alg": match self.alg { Algorithm::RS256 => "RS256", Algorithm::PS256 => "PS256" },
            "typ": "JWT",
            "x5t#S256": self.x5t_s256,
            // Older tenants look for the SHA-1 thumbprint.
            "x5t": self.x5t,
        });
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).expect("the system's random source");
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": hex::encode(jti),
            "nbf": now,
            "iat": now,
            "exp": now + 300,
        });
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let padding: &'static dyn signature::RsaEncoding = match self.alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        };
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(padding, &rng, signing_input.as_bytes(), &mut sig)
            .expect("signing with a checked RSA key");
        format!("{signing_input}.{}", B64URL.encode(sig))
    }
}

/// Unix seconds as an RFC 3339 UTC time.
pub(crate) fn date(unix: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Big-endian integer bytes without leading zeros (DER keeps a sign byte).
fn strip(b: &[u8]) -> &[u8] {
    &b[b.iter().position(|&x| x != 0).unwrap_or(b.len())..]
}

/// A certificate file as the portal takes it: DER (a `.cer` saved as binary)
/// or PEM.
fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading certificate {}", path.display()))?;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    let der = CertificateDer::from_pem_slice(&bytes).map_err(|_| {
        anyhow!(
            "{} holds no certificate: expected PEM (-----BEGIN CERTIFICATE-----) or DER",
            path.display()
        )
    })?;
    Ok(der.as_ref().to_vec())
}

/// A PEM private key: PKCS#8, PKCS#1 or encrypted PKCS#8 (with `password`).
/// The file may hold the certificate too.
fn read_key(path: &Path, password: Option<&str>) -> anyhow::Result<RsaKeyPair> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading private key {}", path.display()))?;
    let shown = path.display();
    let blocks = pem::parse_many(&bytes).map_err(|e| anyhow!("{shown} is not PEM: {e}"))?;
    let unusable = |e: ring::error::KeyRejected| {
        anyhow!("{shown}: the RSA key is not usable ({e}); keys of 2048 to 4096 bits are")
    };
    for block in blocks {
        match block.tag() {
            "PRIVATE KEY" => return RsaKeyPair::from_pkcs8(block.contents()).map_err(unusable),
            "RSA PRIVATE KEY" if block.headers().get("Proc-Type").is_some() => bail!(
                "{shown} is encrypted the old OpenSSL way (Proc-Type); convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -in OLD -out NEW"
            ),
            "RSA PRIVATE KEY" => return RsaKeyPair::from_der(block.contents()).map_err(unusable),
            "ENCRYPTED PRIVATE KEY" => {
                let password = password.with_context(|| {
                    format!("{shown} is encrypted: set the certificate's `password` ({{ env = \"VAR\" }} or {{ file = \"path\" }})")
                })?;
                let pkcs8 = decrypt_pkcs8(block.contents(), password)
                    .with_context(|| format!("decrypting {shown}"))?;
                return RsaKeyPair::from_pkcs8(&pkcs8).map_err(unusable);
            }
            _ => continue,
        }
    }
    bail!("{shown} holds no private key (PRIVATE KEY, RSA PRIVATE KEY or ENCRYPTED PRIVATE KEY)")
}

/// Encrypted PKCS#8 DER to plain PKCS#8 DER.
fn decrypt_pkcs8(encrypted: &[u8], password: &str) -> anyhow::Result<Vec<u8>> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(encrypted)
        .map_err(|e| anyhow!("not an encrypted PKCS#8 key: {e}"))?;
    let doc = info
        .decrypt(password)
        .map_err(|_| anyhow!("wrong password, or an unsupported encryption scheme"))?;
    Ok(doc.as_bytes().to_vec())
}

/// The certificate and key of a PKCS#12 file.
fn read_pfx(path: &Path, password: Option<&str>) -> anyhow::Result<(Vec<u8>, RsaKeyPair)> {
    let shown = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("reading {shown}"))?;
    let password = password.with_context(|| {
        format!("{shown} is a PFX: set the certificate's `password` ({{ env = \"VAR\" }} or {{ file = \"path\" }})")
    })?;
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, password).map_err(|e| {
        anyhow!("cannot open {shown}: {e}; a MAC mismatch means the password is not this file's")
    })?;
    let key = archive
        .keys
        .first()
        .with_context(|| format!("{shown} holds no private key; export it with its private key"))?;
    let paired = key.local_key_id.as_ref().and_then(|id| {
        archive
            .certs
            .iter()
            .find(|c| c.local_key_id.as_deref() == Some(id.as_ref()))
    });
    let cert = paired
        .or(archive.certs.first())
        .with_context(|| format!("{shown} holds no certificate"))?;
    let key = RsaKeyPair::from_pkcs8(key.key.as_der())
        .map_err(|e| anyhow!("{shown}: the RSA key is not usable ({e})"))?;
    Ok((cert.cert.as_der().to_vec(), key))
}
