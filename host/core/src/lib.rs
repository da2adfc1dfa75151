//! popline's core: the small pieces every other host crate shares, and
//! nothing that does I/O on the network.
//!
//! | module | concept |
//! |---|---|
//! | [`secret`] | [`Secret`] (a value whose `Debug` is redacted) and [`SecretRef`] (`{ env }` / `{ file }` in a config file) |
//! | [`clock`] | wall-clock time as Unix seconds and RFC 3339 |
//! | [`digest`] | SHA-256 as lowercase hex |
//! | [`record`] | [`FeedbackRecord`], the JSON document every sink receives, and its idempotency key |
//! | [`spool`] | bytes in memory or in an unnamed, memory-mapped temporary file |
//! | [`backoff`] | jittered exponential retry delays |
//! | [`duration`] | `"30s"`-style durations in config files |
//! | [`failpoint`] | crash-test abort points |
//! | [`text`] | plugin-supplied text cut to a bounded size, with a marker |
//! | [`timing`] | where a run's time goes, stage by stage (`once --timings`) |

pub mod backoff;
pub mod clock;
pub mod digest;
pub mod duration;
pub mod failpoint;
pub mod record;
pub mod secret;
pub mod spool;
pub mod text;
pub mod timing;

pub use record::FeedbackRecord;
pub use secret::{Secret, SecretError, SecretRef};
