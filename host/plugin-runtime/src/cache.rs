//! Compiled-component cache: a restart does not recompile plugins.
//!
//! Key: SHA-256 over the engine's compatibility hash and the .wasm bytes, so a
//! changed plugin or a different host build never picks up a stale artifact.
//!
//! A cached artifact is loaded as native code, so the cache is used only when
//! the folder and the file belong to popline's own user and no one else may
//! write them; otherwise plugins are compiled afresh and nothing is cached.

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
    if let Err(why) = create_private_dir(dir).and_then(|()| private(dir)) {
        tracing::warn!(dir = %dir.display(), "not using the compiled-plugin cache: {why}");
        return Ok(Component::new(engine, wasm)?);
    }
    let file = dir.join(format!("{}.cwasm", key(engine, wasm)));
    if file.exists() {
        if let Err(why) = private(&file) {
            tracing::warn!(file = %file.display(), "not loading a cached plugin: {why}");
            return Ok(Component::new(engine, wasm)?);
        }
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash, into the host's own cache folder,
        // which only popline's user can write (checked above).
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "discarding unusable cached plugin")
            }
        }
    }
    let artifact = engine.precompile_component(wasm)?;
    if let Err(e) = store(&file, &artifact) {
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

/// Create `dir` (and its parents) if missing; the last one only for
/// popline's user (0700).
fn create_private_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Whether `path` belongs to popline's user and no one else may write it.
fn private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(path)
            .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if m.uid() != me {
            return Err(format!(
                "{} belongs to uid {}, not popline's uid {me}",
                path.display(),
                m.uid()
            ));
        }
        if m.mode() & 0o022 != 0 {
            return Err(format!(
                "{} may be written by others (mode {:o}); chmod go-w it",
                path.display(),
                m.mode() & 0o777
            ));
        }
    }
    Ok(())
}

fn store(file: &Path, artifact: &[u8]) -> anyhow::Result<()> {
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, artifact).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("renaming to {}", file.display()))?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_cache_is_used_only_when_no_one_else_may_write_it() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("cache");
        create_private_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(private(&dir), Ok(()));

        let file = dir.join("x.cwasm");
        std::fs::write(&file, b"native code").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(private(&file), Ok(()));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            private(&file)
                .unwrap_err()
                .contains("may be written by others")
        );

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(private(&dir).unwrap_err().contains("mode 777"));
        // A planted link is judged as the link, not followed.
        let link = d.path().join("link");
        std::os::unix::fs::symlink("/", &link).unwrap();
        assert!(private(&link).is_err());
    }
}
