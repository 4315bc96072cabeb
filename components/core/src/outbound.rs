//! Outbound HTTP as the shared crate sees it: a transport the component provides (Spin's
//! outbound HTTP) and unit tests fake, plus the backoff every retry uses.

use std::future::Future;
use std::time::Duration;

pub type HttpRequest = http::Request<Vec<u8>>;
pub type HttpResponse = http::Response<Vec<u8>>;

/// Why a request got no response. Deliberately without the URL: it may carry a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("destination not allowed by allowed_outbound_hosts")]
    Denied,
    #[error("timed out")]
    Timeout,
    #[error("connection failed")]
    Connect,
}

/// Sending requests and waiting, the two things retries need from the runtime.
pub trait Outbound {
    fn send(&self, req: HttpRequest) -> impl Future<Output = Result<HttpResponse, TransportError>>;
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// A request of ours, built directly rather than through `http::request::Builder`, which
/// moves its whole state through every call: `None` when the method, the URI or a header
/// value is unusable. An `authorization` value is marked sensitive.
pub fn request(
    method: &str,
    uri: String,
    headers: &[(http::HeaderName, &str)],
    body: Vec<u8>,
) -> Option<HttpRequest> {
    let mut req = http::Request::new(body);
    *req.method_mut() = http::Method::from_bytes(method.as_bytes()).ok()?;
    *req.uri_mut() = http::Uri::try_from(uri).ok()?;
    let map = req.headers_mut();
    map.reserve(headers.len() + 1);
    for (name, value) in headers {
        let mut value = http::HeaderValue::from_str(value).ok()?;
        value.set_sensitive(name == http::header::AUTHORIZATION);
        map.append(name.clone(), value);
    }
    Some(req)
}

/// Exponential backoff with full jitter: attempt 1 waits up to `base`, attempt 2 up to
/// `2 * base`, and so on.
pub fn backoff(attempt: u32, base: Duration) -> Duration {
    use rand::Rng;
    let cap = base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_method_uri_headers_and_body_or_are_refused() {
        use http::header::{ACCEPT, AUTHORIZATION};
        let headers = [(ACCEPT, "application/json"), (AUTHORIZATION, "Bearer t")];
        let req = request("PUT", "http://rest/a?b=1".into(), &headers, b"{}".to_vec()).unwrap();
        assert_eq!(req.method(), http::Method::PUT);
        assert_eq!(req.uri(), "http://rest/a?b=1");
        assert_eq!(req.headers()["accept"], "application/json");
        assert!(req.headers()["authorization"].is_sensitive());
        assert!(!req.headers()["accept"].is_sensitive());
        assert_eq!(req.body(), b"{}");
        assert!(request("GET", "http://rest/a b".into(), &[], Vec::new()).is_none());
        assert!(request("GE T", "http://rest/".into(), &[], Vec::new()).is_none());
        assert!(
            request(
                "GET",
                "http://rest/".into(),
                &[(ACCEPT, "a\nb")],
                Vec::new()
            )
            .is_none()
        );
    }

    #[test]
    fn backoff_grows_and_stays_within_its_cap() {
        let base = Duration::from_millis(100);
        for attempt in 1..5u32 {
            let cap = base * (1 << (attempt - 1));
            for _ in 0..50 {
                let d = backoff(attempt, base);
                assert!(d <= cap && d >= cap / 2, "{attempt}: {d:?}");
            }
        }
    }
}
