//! Durations in configuration files, written as `"30s"`, `"5m"` or `"1h"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `deserialize_with` for a human-readable duration.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {s:?} ({e}); write e.g. \"30s\", \"5m\" or \"1h\""
        ))
    })
}
