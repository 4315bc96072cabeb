//! Small routing helpers, so each component's `lib.rs` can read as its route table.

use crate::http::problem::{Code, Problem};

/// The request as the route tables see it: method, raw path, query, headers, body.
pub type Request = http::Request<Vec<u8>>;

/// The largest request body accepted (SPEC section 7).
// Read by the Spin entry point only (wasm32).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
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

/// A raw path segment, percent-decoded (ids are validated by their own rules after).
pub fn decode_segment(raw: &str) -> Result<String, Problem> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Problem::new(Code::InvalidRequest, "path segments must be UTF-8"))
}

/// Bodies we parse must say they are JSON.
pub fn require_json<B>(req: &http::Request<B>) -> Result<(), Problem> {
    let ct = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Problem::new(
            Code::UnsupportedMediaType,
            "send the body as application/json",
        ))
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
    fn json_bodies_need_the_json_content_type() {
        let req = |ct: Option<&str>| {
            let mut b = http::Request::builder();
            if let Some(ct) = ct {
                b = b.header("content-type", ct);
            }
            b.body(()).unwrap()
        };
        assert!(require_json(&req(Some("application/json"))).is_ok());
        assert!(require_json(&req(Some("Application/JSON; charset=utf-8"))).is_ok());
        for bad in [None, Some("text/plain"), Some("application/jsonx")] {
            assert_eq!(
                require_json(&req(bad)).unwrap_err().code,
                Code::UnsupportedMediaType
            );
        }
    }

    #[test]
    fn splits_paths() {
        assert_eq!(segments("/auth/url/u1"), ["auth", "url", "u1"]);
        assert_eq!(segments("/health/"), ["health"]);
        assert!(segments("/").is_empty());
        assert_eq!(segments("/a/%2F/b"), ["a", "%2F", "b"]);
    }
}
