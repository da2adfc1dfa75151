//! Recognising machine-sent mail (auto-replies, bulk mail, delivery reports),
//! which is never feedback.

use crate::types::Email;

/// Why `email` looks machine-sent, naming the header, or `None`.
pub fn automated_reason(email: &Email) -> Option<String> {
    for header in &email.headers {
        let name = header.name.trim();
        let value = header.value.trim();
        // Parameters (`; ...`) and case do not change what the value means.
        let bare = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let automated = if name.eq_ignore_ascii_case("Auto-Submitted") {
            bare != "no"
        } else if name.eq_ignore_ascii_case("X-Autoreply")
            || name.eq_ignore_ascii_case("X-Autorespond")
        {
            true
        } else if name.eq_ignore_ascii_case("Precedence") {
            matches!(bare.as_str(), "bulk" | "junk" | "list" | "auto_reply")
        } else if name.eq_ignore_ascii_case("Content-Type") {
            // Bounces, read receipts and other reports are all machine-written.
            bare == "multipart/report"
        } else {
            false
        };
        if automated {
            return Some(format!("automated message ({name}: {})", shorten(value)));
        }
    }
    None
}

/// Header values can be long (Content-Type boundaries); a reason stays readable.
fn shorten(value: &str) -> String {
    const MAX: usize = 120;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Header;

    fn with_header(name: &str, value: &str) -> Email {
        Email {
            headers: vec![
                Header::new("Subject", "Re: hello"),
                Header::new(name, value),
            ],
            ..Email::default()
        }
    }

    #[test]
    fn auto_submitted() {
        let reason = automated_reason(&with_header("Auto-Submitted", "auto-replied")).unwrap();
        assert_eq!(reason, "automated message (Auto-Submitted: auto-replied)");
        assert!(automated_reason(&with_header("auto-submitted", "Auto-Generated")).is_some());
        assert!(automated_reason(&with_header("Auto-Submitted", " no ")).is_none());
        assert!(automated_reason(&with_header("Auto-Submitted", "No; owner=x")).is_none());
    }

    #[test]
    fn x_autoreply_and_autorespond() {
        let reason = automated_reason(&with_header("X-Autoreply", "yes")).unwrap();
        assert!(reason.contains("X-Autoreply"), "{reason}");
        let reason = automated_reason(&with_header("X-Autorespond", "1")).unwrap();
        assert!(reason.contains("X-Autorespond"), "{reason}");
    }

    #[test]
    fn precedence() {
        for value in ["bulk", "Junk", "list", "auto_reply"] {
            let reason = automated_reason(&with_header("Precedence", value)).unwrap();
            assert!(reason.contains("Precedence"), "{reason}");
        }
        assert!(automated_reason(&with_header("Precedence", "first-class")).is_none());
    }

    #[test]
    fn delivery_report() {
        let email = with_header(
            "Content-Type",
            "multipart/report; report-type=delivery-status; boundary=\"b1\"",
        );
        let reason = automated_reason(&email).unwrap();
        assert!(
            reason.starts_with("automated message (Content-Type: multipart/report;"),
            "{reason}"
        );
        assert!(
            automated_reason(&with_header("Content-Type", "multipart/mixed; boundary=x")).is_none()
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let long = format!("multipart/report; boundary=\"{}\"", "x".repeat(500));
        let reason = automated_reason(&with_header("Content-Type", &long)).unwrap();
        assert!(reason.len() < 200, "{reason}");
        assert!(reason.ends_with("...)"), "{reason}");
    }
}
