//! Small routing helpers, so each component's `lib.rs` can read as its route table.

use crate::problem::{Code, Problem};

/// The largest request body accepted (SPEC section 7).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The path split into raw (still percent-encoded) segments; a trailing slash is ignored.
pub fn segments(path: &str) -> Vec<&str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

pub fn not_found() -> Problem {
    Problem::new(Code::NotFound, "no such route")
}

pub fn method_not_allowed() -> Problem {
    Problem::new(Code::MethodNotAllowed, "method not allowed on this route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_paths() {
        assert_eq!(segments("/auth/url/u1"), ["auth", "url", "u1"]);
        assert_eq!(segments("/health/"), ["health"]);
        assert!(segments("/").is_empty());
        assert_eq!(segments("/a/%2F/b"), ["a", "%2F", "b"]);
    }
}
