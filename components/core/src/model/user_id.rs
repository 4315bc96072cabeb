//! Identifiers that arrive in paths and leave in outbound URLs.

use crate::http::problem::{Code, Problem};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// A user id as the SPEC allows it: 1 to 128 characters of `[A-Za-z0-9._@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

const MAX_USER_ID: usize = 128;

impl UserId {
    /// Validates an already decoded id.
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_USER_ID
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
            // `.` and `..` are valid by the alphabet but mean something else in a path.
            && raw != "."
            && raw != "..";
        if ok {
            Ok(UserId(raw.to_owned()))
        } else {
            Err(Problem::new(
                Code::InvalidUserId,
                "user_id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', '@' or '-'",
            ))
        }
    }

    /// Decodes a raw path segment (so `%40` works as `@`) and validates the result: an
    /// encoded slash or any byte outside the alphabet is rejected, never passed on.
    pub fn from_path_segment(raw: &str) -> Result<Self, Problem> {
        match percent_decode_str(raw).decode_utf8() {
            Ok(decoded) => Self::parse(&decoded),
            Err(_) => Self::parse(""),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as one percent-encoded path segment for outbound URLs.
    pub fn to_path_segment(&self) -> String {
        encode_segment(&self.0)
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything but RFC 3986 unreserved characters is encoded, so no value can add a path
/// segment, a query or a fragment to an outbound URL.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment (calendar ids, event ids, user ids).
pub fn encode_segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_alphabet_up_to_128() {
        for ok in ["a", "user-1", "a.b_c@d-e", &"x".repeat(128)] {
            assert_eq!(UserId::parse(ok).map(|u| u.0), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            "é",
            "a%2Fb",
            &"x".repeat(129),
        ] {
            let err = UserId::parse(bad).unwrap_err();
            assert_eq!(err.code, Code::InvalidUserId, "{bad:?}");
        }
    }

    #[test]
    fn path_segments_are_decoded_then_validated() {
        assert_eq!(
            UserId::from_path_segment("ann%40example.com")
                .unwrap()
                .as_str(),
            "ann@example.com"
        );
        assert!(UserId::from_path_segment("a%2Fb").is_err());
        assert!(UserId::from_path_segment("%2E%2E").is_err());
        assert!(UserId::from_path_segment("%FF").is_err());
        assert!(UserId::from_path_segment("").is_err());
    }

    #[test]
    fn outbound_segments_are_encoded() {
        assert_eq!(
            UserId::parse("ann@example.com").unwrap().to_path_segment(),
            "ann%40example.com"
        );
        assert_eq!(encode_segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(encode_segment("primary"), "primary");
    }
}
