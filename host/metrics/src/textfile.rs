//! `popline once --metrics-file PATH`: the metrics in the Prometheus text
//! format for the node exporter's textfile collector, written atomically
//! (a temporary file in the same folder, synced, then renamed over `PATH`),
//! so the collector never reads half a file.

use std::io::Write as _;
use std::path::Path;

use crate::MetricsError;
use crate::registry::Metrics;

/// Write `metrics` to `path` atomically.
pub(crate) fn write(metrics: &Metrics, path: &Path) -> Result<(), MetricsError> {
    let err = |source| MetricsError::Textfile {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // The collector reads only `*.prom`: the temporary name never ends so.
    let mut tmp = tempfile::Builder::new()
        .prefix(".popline-metrics-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(metrics.render_text().as_bytes())
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    // Readable by the exporter's user, as a file written by `>` would be.
    set_mode(tmp.path()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_mode(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_text_format_and_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("popline.prom");
        std::fs::write(&path, "old\n").unwrap();
        let m = Metrics::new();
        m.register_mailbox("beta", &["auth"], false);
        write(&m, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, m.render_text());
        assert!(
            text.contains("# TYPE popline_polls_total counter"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "not OpenMetrics: {text}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["popline.prom"], "no temporary file left");
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_path() {
        let e = write(&Metrics::new(), Path::new("/nonexistent-popline/x.prom")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-popline/x.prom"), "{e}");
    }
}
