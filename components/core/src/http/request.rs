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
    let ct = header_str(req.headers(), http::header::CONTENT_TYPE).unwrap_or("");
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

/// The headers Spin adds about its own routing (`spin-full-url`, `spin-path-info`, ...):
/// no route reads them, so they are not copied into the request.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const SPIN_PREFIX: &str = "spin-";

/// A request's headers from the runtime's list of them, without the headers Spin adds
/// (`spin-*`, which no route reads). Spin's `spin-matched-route` is returned apart, for
/// the log line. `None`: a name or value `http` refuses (a malformed request).
// Used by the Spin entry point only (wasm32), and by the tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn request_headers(
    mut entries: Vec<(String, Vec<u8>)>,
) -> Option<(http::HeaderMap, Option<String>)> {
    let mut matched_route = None;
    entries.retain_mut(|(name, value)| {
        let spins = name.len() >= SPIN_PREFIX.len()
            && name.as_bytes()[..SPIN_PREFIX.len()].eq_ignore_ascii_case(SPIN_PREFIX.as_bytes());
        if spins && name.eq_ignore_ascii_case("spin-matched-route") {
            matched_route = String::from_utf8(std::mem::take(value)).ok();
        }
        !spins
    });
    Some((header_map(entries)?, matched_route))
}

/// A header map from a runtime's list of headers, in one pass. `None`: a name or value
/// `http` refuses.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn header_map(entries: Vec<(String, Vec<u8>)>) -> Option<http::HeaderMap> {
    let mut map = http::HeaderMap::with_capacity(entries.len());
    for (name, value) in entries {
        let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = http::HeaderValue::try_from(value).ok()?;
        map.append(name, value);
    }
    Some(map)
}

/// A header's value as text, when it is one (the first of several).
pub fn header_str(
    headers: &http::HeaderMap,
    name: impl http::header::AsHeaderName,
) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
    fn request_headers_keep_the_clients_and_set_spins_apart() {
        let entries = vec![
            ("Host".to_owned(), b"example.test".to_vec()),
            ("x-request-id".to_owned(), b"r-1".to_vec()),
            ("accept".to_owned(), b"a".to_vec()),
            ("accept".to_owned(), b"b".to_vec()),
            (
                "spin-full-url".to_owned(),
                b"http://example.test/x".to_vec(),
            ),
            ("Spin-Matched-Route".to_owned(), b"/events/...".to_vec()),
        ];
        let (map, route) = request_headers(entries).unwrap();
        assert_eq!(route.as_deref(), Some("/events/..."));
        assert_eq!(header_str(&map, "host"), Some("example.test"));
        assert_eq!(header_str(&map, "x-request-id"), Some("r-1"));
        let accept: Vec<_> = map.get_all("accept").iter().collect();
        assert_eq!(accept, ["a", "b"]);
        assert!(
            map.keys().all(|k| !k.as_str().starts_with("spin-")),
            "{map:?}"
        );
        assert_eq!(map.len(), 4);
        // What http refuses is a malformed request.
        assert!(request_headers(vec![("bad name".to_owned(), b"v".to_vec())]).is_none());
        assert!(request_headers(vec![("x".to_owned(), b"a\nb".to_vec())]).is_none());
        // Answers from upstream keep every header, `spin-*` ones included.
        let map = header_map(vec![("spin-x".to_owned(), b"1".to_vec())]).unwrap();
        assert_eq!(header_str(&map, "spin-x"), Some("1"));
    }

    #[test]
    fn splits_paths() {
        assert_eq!(segments("/auth/url/u1"), ["auth", "url", "u1"]);
        assert_eq!(segments("/health/"), ["health"]);
        assert!(segments("/").is_empty());
        assert_eq!(segments("/a/%2F/b"), ["a", "%2F", "b"]);
    }
}
