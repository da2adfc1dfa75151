//! Compiled-component cache: a restart does not recompile plugins.
//!
//! Key: SHA-256 over the engine's compatibility hash and the .wasm bytes, so a
//! changed plugin or a different host build never picks up a stale artifact.

use std::hash::{Hash, Hasher};
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

pub(crate) fn compile(
    engine: &wasmtime::Engine,
    cache_dir: Option<&Path>,
    wasm: &[u8],
) -> anyhow::Result<Component> {
    let Some(dir) = cache_dir else {
        return Ok(Component::new(engine, wasm)?);
    };
    let file = dir.join(format!("{}.cwasm", key(engine, wasm)));
    if file.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash, into the host's own cache folder.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "discarding unusable cached plugin")
            }
        }
    }
    let artifact = engine.precompile_component(wasm)?;
    if let Err(e) = store(dir, &file, &artifact) {
        tracing::warn!(dir = %dir.display(), error = %format!("{e:#}"), "cannot cache compiled plugin; it will be recompiled next start");
    }
    // SAFETY: produced just now by this engine.
    Ok(unsafe { Component::deserialize(engine, &artifact) }?)
}

fn key(engine: &wasmtime::Engine, wasm: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let mut sha = Sha256::new();
    sha.update(h.finish().to_le_bytes());
    sha.update(wasm);
    hex::encode(sha.finalize())
}

fn store(dir: &Path, file: &Path, artifact: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, artifact).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("renaming to {}", file.display()))?;
    Ok(())
}
