//! Addresses as the config writes them.

/// The address part of `Name <addr>` (or the whole text).
pub fn bare(mailbox: &str) -> &str {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(a), Some(b)) if a < b => mailbox[a + 1..b].trim(),
        _ => mailbox.trim(),
    }
}
