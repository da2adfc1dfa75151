//! Content digests.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let _t = crate::timing::span(crate::timing::Stage::Digest);
    hex::encode(Sha256::digest(bytes))
}
