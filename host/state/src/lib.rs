//! What the host remembers between polls.
//!
//! | module | concept |
//! |---|---|
//! | [`sqlite`] | the state database: committed unique ids and their outcomes, oversized messages, poll bookkeeping |
//! | [`deadletter`] | messages the mapper could not handle: raw `.eml` plus a `.json` saying why |
//! | [`archive`] | raw messages kept `archive_days` for `popline replay` |

pub mod archive;
pub mod deadletter;
pub mod sqlite;

pub use sqlite::*;
