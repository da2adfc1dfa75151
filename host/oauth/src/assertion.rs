//! Certificate credentials: a client assertion JWT signed with the app's
//! private key (RFC 7523), as the Microsoft identity platform expects.

use std::path::Path;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rand_core::{OsRng, RngCore};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Signature algorithms Entra ID accepts for client assertions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

/// A loaded certificate credential.
pub struct Certificate {
    key: RsaPrivateKey,
    x5t_s256: String,
    x5t: String,
    alg: Algorithm,
}

impl Certificate {
    /// Load the PEM certificate (as uploaded to the portal: .pem/.crt/.cer)
    /// and its PEM private key (PKCS#8 or PKCS#1). Both may be one file.
    pub fn load(cert: &Path, key: &Path, alg: Algorithm) -> anyhow::Result<Certificate> {
        let der = CertificateDer::from_pem_file(cert).with_context(|| {
            format!(
                "reading certificate {} (expected PEM: -----BEGIN CERTIFICATE-----)",
                cert.display()
            )
        })?;
        let pem = std::fs::read_to_string(key)
            .with_context(|| format!("reading private key {}", key.display()))?;
        let key = RsaPrivateKey::from_pkcs8_pem(&pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&pem))
            .with_context(|| {
                format!(
                    "{} holds no RSA private key in PEM (PKCS#8 or PKCS#1)",
                    key.display()
                )
            })?;
        Ok(Certificate {
            key,
            x5t_s256: B64URL.encode(Sha256::digest(der.as_ref())),
            x5t: B64URL.encode(Sha1::digest(der.as_ref())),
            alg,
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
        let mut jti = [0u8; 16];
        OsRng.fill_bytes(&mut jti);
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
        let sig = match self.alg {
            Algorithm::RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(self.key.clone())
                .sign(signing_input.as_bytes())
                .to_vec(),
            Algorithm::PS256 => rsa::pss::BlindedSigningKey::<Sha256>::new(self.key.clone())
                .sign_with_rng(&mut OsRng, signing_input.as_bytes())
                .to_vec(),
        };
        format!("{signing_input}.{}", B64URL.encode(sig))
    }
}
