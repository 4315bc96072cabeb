//! CORS exactly as configured: no headers at all unless `cors_allowed_origins` lists the
//! request's `Origin`; preflights answered for listed origins only.

use crate::http::response::Response;
use http::HeaderValue;

const METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
const HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
const EXPOSED: &str = "x-request-id, ratelimit-limit, ratelimit-remaining, retry-after";

/// The configured origins (exact, case-insensitive matches; `*` is not supported on
/// purpose: the API takes credentials).
pub struct Cors(Vec<String>);

impl Cors {
    pub fn parse(raw: Option<&str>) -> Cors {
        Cors(
            raw.unwrap_or("")
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }

    fn allows(&self, origin: Option<&str>) -> Option<HeaderValue> {
        let origin = origin?;
        let wanted = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.0.contains(&wanted) {
            HeaderValue::from_str(origin).ok()
        } else {
            None
        }
    }

    /// Whether this is a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub fn is_preflight(method: &str, request_method: Option<&str>) -> bool {
        method.eq_ignore_ascii_case("OPTIONS") && request_method.is_some()
    }

    /// Adds the CORS headers to an answer for `origin`, if it is listed.
    pub fn apply(&self, resp: &mut Response, origin: Option<&str>, preflight: bool) {
        let Some(allowed) = self.allows(origin) else {
            return;
        };
        let h = resp.headers_mut();
        h.insert("access-control-allow-origin", allowed);
        h.append(http::header::VARY, HeaderValue::from_static("Origin"));
        if preflight {
            h.insert(
                "access-control-allow-methods",
                HeaderValue::from_static(METHODS),
            );
            h.insert(
                "access-control-allow-headers",
                HeaderValue::from_static(HEADERS),
            );
            h.insert("access-control-max-age", HeaderValue::from_static("600"));
        } else {
            h.insert(
                "access-control-expose-headers",
                HeaderValue::from_static(EXPOSED),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request_id::RequestId;

    fn resp() -> Response {
        crate::http::response::no_content(&RequestId::from_header(None))
    }

    #[test]
    fn unset_means_no_headers() {
        let mut r = resp();
        Cors::parse(None).apply(&mut r, Some("https://app.example"), false);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn listed_origins_only() {
        let cors = Cors::parse(Some("https://app.example, https://admin.example/"));
        let mut r = resp();
        cors.apply(&mut r, Some("https://admin.example"), true);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://admin.example"
        );
        assert!(
            r.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("PATCH")
        );
        let mut r = resp();
        cors.apply(&mut r, Some("https://evil.example"), true);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let mut r = resp();
        cors.apply(&mut r, None, false);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert!(Cors::is_preflight("OPTIONS", Some("POST")));
        assert!(!Cors::is_preflight("OPTIONS", None));
    }
}
