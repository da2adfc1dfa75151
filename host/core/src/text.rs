//! Text a plugin hands the host, cut to a size fit for a log line, a state
//! row or a dead-letter record.

/// The longest message or reason popline keeps from a plugin, in bytes.
pub const MAX_PLUGIN_TEXT: usize = 4096;

/// `text` cut to at most `max` bytes (at a character boundary), followed by
/// a marker saying how many bytes were cut; unchanged if it fits.
pub fn truncate_marked(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… [{cut} more bytes cut]"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary_with_a_marker() {
        assert_eq!(truncate_marked("short".into(), 10), "short");
        assert_eq!(
            truncate_marked("abcdef".into(), 4),
            "abcd… [2 more bytes cut]"
        );
        // "é" is two bytes: the cut falls before it, never inside.
        assert_eq!(truncate_marked("abcé".into(), 4), "abc… [2 more bytes cut]");
        let long = truncate_marked("x".repeat(1 << 20), MAX_PLUGIN_TEXT);
        assert!(long.len() < MAX_PLUGIN_TEXT + 40, "{}", long.len());
        assert!(long.ends_with(&format!("[{} more bytes cut]", (1 << 20) - MAX_PLUGIN_TEXT)));
    }
}
