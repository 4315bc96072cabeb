//! Request ids: echoed from the caller when sane, so logs join up across services.

/// The most a caller-supplied id may be; longer ones are replaced, not truncated.
const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Takes the incoming `x-request-id` if it is 1..=128 characters of `[A-Za-z0-9._:-]`
    /// (nothing that could split a header or a log line), else makes a new UUID.
    pub fn from_header(value: Option<&str>) -> Self {
        match value {
            Some(v) if is_sane(v) => RequestId(v.to_owned()),
            // Encoded straight into a buffer, without the formatting machinery.
            _ => RequestId(
                uuid::Uuid::new_v4()
                    .hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer())
                    .to_owned(),
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_sane(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_LEN
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_a_sane_id() {
        assert_eq!(
            RequestId::from_header(Some("abc-123.X_y:z")).as_str(),
            "abc-123.X_y:z"
        );
    }

    #[test]
    fn replaces_missing_empty_long_or_hostile_ids() {
        let long = "a".repeat(MAX_LEN + 1);
        for bad in [
            None,
            Some(""),
            Some(long.as_str()),
            Some("a\r\nb"),
            Some("a b"),
            Some("é"),
        ] {
            let id = RequestId::from_header(bad);
            assert!(
                uuid::Uuid::parse_str(id.as_str()).is_ok(),
                "{bad:?} -> {id}"
            );
        }
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(RequestId::from_header(None), RequestId::from_header(None));
    }
}
