use std::collections::btree_map::{self, BTreeMap};
use std::str::FromStr;

use crate::error::{Error, ErrorKind, quote_line};
use crate::lines::{body_lines, split_field};

/// RFC 1939: a unique id is 1 to 70 characters.
const UID_MAX_LEN: usize = 70;

/// At most this many numbers are named in one error.
const NAMED_NUMBERS_MAX: usize = 10;

/// One message in the maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Message number in this session (1-based).
    pub number: u32,
    /// Unique id from UIDL.
    pub uid: String,
    /// Size in octets from LIST.
    pub size: u64,
}

/// The joined LIST and UIDL answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listings {
    /// One entry per message in LIST, by ascending number.
    pub entries: Vec<Listing>,
    /// Oddities that did not prevent the join (long or odd unique ids,
    /// duplicates, blank lines...), worth logging.
    pub warnings: Vec<String>,
}

/// Parse a multi-line LIST body (`number size` per line) into sizes by number.
///
/// Text after the size is allowed (RFC 1939 leaves it open). A line without a
/// valid number (1 or more) and size is a protocol error; a message listed
/// twice is a warning if both lines agree and an error otherwise.
pub fn parse_list(body: &[u8], warnings: &mut Vec<String>) -> Result<BTreeMap<u32, u64>, Error> {
    let mut sizes = BTreeMap::new();
    for (index, line) in body_lines(body) {
        let (number, rest) = split_field(line);
        if number.is_empty() {
            warnings.push(format!("LIST line {index} is blank; ignored"));
            continue;
        }
        let (size, _) = split_field(rest);
        let (Some(number), Some(size)) = (parse_number(number), parse_decimal::<u64>(size)) else {
            return Err(malformed("LIST", index, "number size", line));
        };
        insert(&mut sizes, "LIST", number, size, warnings, u64::to_string)?;
    }
    Ok(sizes)
}

/// Parse a multi-line UIDL body (`number uid` per line) into unique ids by
/// number.
///
/// Unique ids outside RFC 1939's rules (1 to 70 characters 0x21-0x7E) are kept
/// as sent (everything after the number, invalid UTF-8 replaced) and reported
/// as warnings; so is a message listed twice with the same id. A line without
/// a number and id, or a message listed with two different ids, is an error.
pub fn parse_uidl(body: &[u8], warnings: &mut Vec<String>) -> Result<BTreeMap<u32, String>, Error> {
    let mut uids = BTreeMap::new();
    for (index, line) in body_lines(body) {
        let (number, uid) = split_field(line);
        if number.is_empty() {
            warnings.push(format!("UIDL line {index} is blank; ignored"));
            continue;
        }
        let Some(number) = parse_number(number).filter(|_| !uid.is_empty()) else {
            return Err(malformed("UIDL", index, "number uid", line));
        };
        if let Some(warning) = check_uid(number, uid) {
            warnings.push(warning);
        }
        let uid = String::from_utf8_lossy(uid).into_owned();
        insert(&mut uids, "UIDL", number, uid, warnings, |uid| {
            quote_line(uid)
        })?;
    }
    Ok(uids)
}

/// Parse LIST and UIDL bodies and join them by message number.
///
/// Every message in LIST needs a unique id: one missing from UIDL is a
/// protocol error naming it. Messages only in UIDL are dropped with a warning,
/// and unique ids shared by several messages are reported as warnings.
pub fn join_listings(list: &[u8], uidl: &[u8]) -> Result<Listings, Error> {
    let mut warnings = Vec::new();
    let sizes = parse_list(list, &mut warnings)?;
    let mut uids = parse_uidl(uidl, &mut warnings)?;

    let mut entries = Vec::with_capacity(sizes.len());
    let mut missing = Vec::new();
    for (number, size) in sizes {
        match uids.remove(&number) {
            Some(uid) => entries.push(Listing { number, uid, size }),
            None => missing.push(number),
        }
    }
    if !missing.is_empty() {
        let (subject, verb) = if missing.len() == 1 {
            ("message", "is")
        } else {
            ("messages", "are")
        };
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "{subject} {} {verb} in LIST but not in UIDL",
                name_numbers(&missing)
            ),
        ));
    }
    for number in uids.keys() {
        warnings.push(format!(
            "message {number} is in UIDL but not in LIST; ignored"
        ));
    }

    // A BTreeMap, not a HashMap: no random seed to ask the host for.
    let mut first_with_uid = BTreeMap::new();
    for entry in &entries {
        match first_with_uid.entry(entry.uid.as_str()) {
            btree_map::Entry::Vacant(slot) => {
                slot.insert(entry.number);
            }
            btree_map::Entry::Occupied(first) => warnings.push(format!(
                "messages {} and {} share the unique id {}",
                first.get(),
                entry.number,
                quote_line(&entry.uid)
            )),
        }
    }
    Ok(Listings { entries, warnings })
}

/// A warning if `uid` breaks RFC 1939's rules for unique ids.
fn check_uid(number: u32, uid: &[u8]) -> Option<String> {
    let odd_bytes = !uid.iter().all(|b| (0x21..=0x7e).contains(b));
    let too_long = uid.len() > UID_MAX_LEN;
    if !odd_bytes && !too_long {
        return None;
    }
    let mut problems = Vec::new();
    if too_long {
        problems.push(format!(
            "is {} bytes long (RFC 1939 allows at most {UID_MAX_LEN})",
            uid.len()
        ));
    }
    if odd_bytes {
        problems.push("has bytes outside 0x21-0x7E".to_owned());
    }
    if std::str::from_utf8(uid).is_err() {
        problems.push("is not UTF-8 (invalid bytes replaced)".to_owned());
    }
    Some(format!(
        "unique id of message {number} {}: {}",
        problems.join(", "),
        quote_line(&String::from_utf8_lossy(uid))
    ))
}

/// Insert `value` for `number`, tolerating an identical repeat (with a
/// warning) but not a contradicting one.
fn insert<V: PartialEq>(
    map: &mut BTreeMap<u32, V>,
    command: &str,
    number: u32,
    value: V,
    warnings: &mut Vec<String>,
    describe: impl Fn(&V) -> String,
) -> Result<(), Error> {
    match map.entry(number) {
        btree_map::Entry::Vacant(slot) => {
            slot.insert(value);
            Ok(())
        }
        btree_map::Entry::Occupied(first) if *first.get() == value => {
            warnings.push(format!("{command} lists message {number} twice"));
            Ok(())
        }
        btree_map::Entry::Occupied(first) => Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "{command} lists message {number} twice, differently: {} and {}",
                describe(first.get()),
                describe(&value)
            ),
        )),
    }
}

fn malformed(command: &str, index: usize, expected: &str, line: &[u8]) -> Error {
    Error::unexpected_line(
        &format!("{command} line {index} is not \"{expected}\""),
        &String::from_utf8_lossy(line),
    )
}

/// A message number: decimal, 1 or more.
fn parse_number(field: &[u8]) -> Option<u32> {
    parse_decimal(field).filter(|&n| n > 0)
}

/// Plain ASCII decimal digits only: Rust's parsers would also take a `+`.
fn parse_decimal<T: FromStr>(field: &[u8]) -> Option<T> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// "4", or "4, 5, 6", or "4, 5, ... and 3 more".
fn name_numbers(numbers: &[u32]) -> String {
    let named: Vec<String> = numbers
        .iter()
        .take(NAMED_NUMBERS_MAX)
        .map(u32::to_string)
        .collect();
    let mut text = named.join(", ");
    if numbers.len() > NAMED_NUMBERS_MAX {
        text.push_str(&format!(" and {} more", numbers.len() - NAMED_NUMBERS_MAX));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(number: u32, uid: &str, size: u64) -> Listing {
        Listing {
            number,
            uid: uid.to_owned(),
            size,
        }
    }

    #[test]
    fn joins_rfc1939_example() {
        let got = join_listings(
            b"1 120\r\n2 200\r\n",
            b"1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n",
        )
        .unwrap();
        assert_eq!(
            got.entries,
            [
                listing(1, "whqtswO00WBw418f9t5JxYwZ", 120),
                listing(2, "QhdPYR:00WBw1Ph7x7", 200)
            ]
        );
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    }

    #[test]
    fn empty_maildrop() {
        assert_eq!(join_listings(b"", b""), Ok(Listings::default()));
    }

    #[test]
    fn gaps_and_any_order_come_out_sorted() {
        // Deleted messages leave gaps; servers may list in any order.
        let got = join_listings(b"5 50\r\n2 20\r\n", b"2 b\r\n5 e\r\n").unwrap();
        assert_eq!(got.entries, [listing(2, "b", 20), listing(5, "e", 50)]);
    }

    #[test]
    fn tolerates_bare_lf_extra_whitespace_and_text_after_the_size() {
        let got =
            join_listings(b"1  120 extra info\n 2\t200\r\n", b"1\tabc\n2  def  \r\n").unwrap();
        assert_eq!(
            got.entries,
            [listing(1, "abc", 120), listing(2, "def", 200)]
        );
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    }

    #[test]
    fn blank_lines_are_warnings() {
        let got = join_listings(b"1 1\r\n\r\n", b"\r\n1 a\r\n").unwrap();
        assert_eq!(got.entries, [listing(1, "a", 1)]);
        assert_eq!(
            got.warnings,
            [
                "LIST line 2 is blank; ignored",
                "UIDL line 1 is blank; ignored"
            ]
        );
    }

    #[test]
    fn malformed_list_lines_are_errors_naming_the_line() {
        for (body, line_no, quoted) in [
            (&b"1 120\r\nfoo 3\r\n"[..], 2, "\"foo 3\""),
            (b"1\r\n", 1, "\"1\""),
            (b"0 120\r\n", 1, "\"0 120\""),
            (b"1 -5\r\n", 1, "\"1 -5\""),
            (b"+1 5\r\n", 1, "\"+1 5\""),
            (b"1 12k\r\n", 1, "\"1 12k\""),
            (b"4294967296 1\r\n", 1, "\"4294967296 1\""),
            (
                b"1 99999999999999999999999\r\n",
                1,
                "\"1 99999999999999999999999\"",
            ),
            (b".\r\n", 1, "\".\""),
        ] {
            let e = parse_list(body, &mut Vec::new()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol);
            assert_eq!(
                e.message,
                format!("LIST line {line_no} is not \"number size\": {quoted}")
            );
        }
    }

    #[test]
    fn malformed_uidl_lines_are_errors() {
        for body in [&b"1\r\n"[..], b"x abc\r\n", b"0 abc\r\n", b"-1 abc\r\n"] {
            let e = parse_uidl(body, &mut Vec::new()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol);
            assert!(
                e.message.starts_with("UIDL line 1 is not \"number uid\""),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn long_and_odd_unique_ids_are_kept_with_warnings() {
        let long = "x".repeat(71);
        let body = format!("1 {long}\r\n2 has space\r\n3 caf\u{e9}\r\n");
        let mut warnings = Vec::new();
        let uids = parse_uidl(body.as_bytes(), &mut warnings).unwrap();
        assert_eq!(uids[&1], long);
        // Everything after the number is the id, so ids stay distinct.
        assert_eq!(uids[&2], "has space");
        assert_eq!(uids[&3], "caf\u{e9}");
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].starts_with(
                "unique id of message 1 is 71 bytes long (RFC 1939 allows at most 70):"
            )
        );
        assert_eq!(
            warnings[1],
            "unique id of message 2 has bytes outside 0x21-0x7E: \"has space\""
        );
        assert!(warnings[2].starts_with("unique id of message 3 has bytes outside"));
    }

    #[test]
    fn exactly_seventy_printable_chars_is_fine() {
        let uid: String = (0x21u8..=0x7e).map(char::from).take(70).collect();
        let mut warnings = Vec::new();
        parse_uidl(format!("1 {uid}").as_bytes(), &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn non_utf8_unique_id_is_replaced_and_reported() {
        let mut warnings = Vec::new();
        let uids = parse_uidl(b"1 ab\xffcd\r\n", &mut warnings).unwrap();
        assert_eq!(uids[&1], "ab\u{fffd}cd");
        assert_eq!(
            warnings,
            [
                "unique id of message 1 has bytes outside 0x21-0x7E, is not UTF-8 (invalid bytes replaced): \"ab\u{fffd}cd\""
            ]
        );
    }

    #[test]
    fn duplicate_unique_ids_are_warnings() {
        let got = join_listings(b"1 10\r\n2 20\r\n3 30\r\n", b"1 a\r\n2 b\r\n3 a\r\n").unwrap();
        assert_eq!(got.entries.len(), 3);
        assert_eq!(got.warnings, ["messages 1 and 3 share the unique id \"a\""]);
    }

    #[test]
    fn repeated_identical_lines_are_warnings() {
        let got = join_listings(b"1 10\r\n1 10\r\n", b"1 a\r\n1 a\r\n").unwrap();
        assert_eq!(got.entries, [listing(1, "a", 10)]);
        assert_eq!(
            got.warnings,
            ["LIST lists message 1 twice", "UIDL lists message 1 twice"]
        );
    }

    #[test]
    fn contradicting_repeats_are_errors() {
        let e = parse_list(b"1 10\r\n1 11\r\n", &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.message,
            "LIST lists message 1 twice, differently: 10 and 11"
        );
        let e = parse_uidl(b"1 a\r\n1 b\r\n", &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.message,
            "UIDL lists message 1 twice, differently: \"a\" and \"b\""
        );
        assert_eq!(e.kind, ErrorKind::Protocol);
    }

    #[test]
    fn message_missing_from_uidl_is_an_error_naming_it() {
        let e = join_listings(b"1 10\r\n2 20\r\n", b"1 a\r\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert_eq!(e.message, "message 2 is in LIST but not in UIDL");
    }

    #[test]
    fn many_missing_messages_are_named_briefly() {
        let list: String = (1..=15).map(|n| format!("{n} 1\r\n")).collect();
        let e = join_listings(list.as_bytes(), b"3 c\r\n").unwrap_err();
        assert_eq!(
            e.message,
            "messages 1, 2, 4, 5, 6, 7, 8, 9, 10, 11 and 4 more are in LIST but not in UIDL"
        );
    }

    #[test]
    fn message_only_in_uidl_is_dropped_with_a_warning() {
        let got = join_listings(b"1 10\r\n", b"1 a\r\n2 b\r\n").unwrap();
        assert_eq!(got.entries, [listing(1, "a", 10)]);
        assert_eq!(
            got.warnings,
            ["message 2 is in UIDL but not in LIST; ignored"]
        );
    }

    #[test]
    fn errors_in_either_body_fail_the_join() {
        assert!(join_listings(b"garbage\r\n", b"1 a\r\n").is_err());
        assert!(join_listings(b"1 1\r\n", b"garbage\r\n").is_err());
    }
}
