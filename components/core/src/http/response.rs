//! Building responses: JSON bodies, problem bodies, and the headers every answer carries.

use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use http::{HeaderValue, StatusCode, header};

pub type Response = http::Response<Vec<u8>>;

/// A JSON answer.
pub fn json(status: u16, body: &impl serde::Serialize, rid: &RequestId) -> Response {
    json_bytes(status, serde_json::to_vec(body).unwrap_or_default(), rid)
}

/// A JSON answer already serialised (`body` is JSON).
pub fn json_bytes(status: u16, body: Vec<u8>, rid: &RequestId) -> Response {
    build(status, "application/json", body, rid)
}

/// A page for a person's browser, under its `Content-Security-Policy`; it is not sent on
/// to other pages (`referrer-policy: no-referrer`).
pub fn html(status: u16, body: String, csp: &str, rid: &RequestId) -> Response {
    let mut r = build(status, super::page::CONTENT_TYPE, body.into_bytes(), rid);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// An empty answer (204).
pub fn no_content(rid: &RequestId) -> Response {
    let mut r = build(204, "application/json", Vec::new(), rid);
    r.headers_mut().remove(header::CONTENT_TYPE);
    r
}

/// The problem+json answer for an error.
pub fn problem(p: &Problem, rid: &RequestId) -> Response {
    crate::log::set_code(p.code.as_str());
    let mut r = build(
        p.status(),
        "application/problem+json",
        p.to_json(rid.as_str()),
        rid,
    );
    if let Some(secs) = p.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// One result, one response: the single place errors turn into problem bodies.
pub fn finish(result: Result<Response, Problem>, rid: &RequestId) -> Response {
    result.unwrap_or_else(|p| problem(&p, rid))
}

/// `x-request-id`, parsed once.
const X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

fn build(status: u16, content_type: &'static str, body: Vec<u8>, rid: &RequestId) -> Response {
    let mut r = http::Response::new(body);
    // Room for what every answer carries and what the frames add (rate limit, CORS,
    // `Allow`), so the map is not grown on the way.
    *r.headers_mut() = http::HeaderMap::with_capacity(12);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Answers are per user and per request: never cached, never sniffed.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // RequestId only ever holds header-safe characters.
    if let Ok(v) = HeaderValue::from_str(rid.as_str()) {
        h.insert(X_REQUEST_ID, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::problem::Code;
    use serde_json::Value;

    #[test]
    fn problems_carry_type_status_and_request_id() {
        let rid = RequestId::from_header(Some("r-1"));
        let mut p = Problem::new(Code::RedisUnavailable, "down");
        p.retry_after = Some(5);
        let r = finish(Err(p), &rid);
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(r.headers()["x-request-id"], "r-1");
        assert_eq!(r.headers()["retry-after"], "5");
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["code"], "redis_unavailable");
        assert_eq!(body["request_id"], "r-1");
    }

    #[test]
    fn json_and_no_content() {
        let rid = RequestId::from_header(None);
        let r = json(201, &serde_json::json!({"a": 1}), &rid);
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["x-request-id"], rid.as_str());
        let r = no_content(&rid);
        assert_eq!(r.status(), 204);
        assert!(r.body().is_empty());
        assert!(r.headers().get("content-type").is_none());
    }

    #[test]
    fn html_pages_carry_their_policy() {
        let rid = RequestId::from_header(Some("r-2"));
        let r = html(400, "<p>x</p>".into(), "default-src 'none'", &rid);
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers()["content-security-policy"], "default-src 'none'");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["x-request-id"], "r-2");
        assert_eq!(r.body(), b"<p>x</p>");
    }
}
