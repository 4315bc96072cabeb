//! Fakes of Google and the user-data REST service on loopback, and the emulator's start
//! page ([`StartPage`]: the "app" a person begins the OAuth flow from).
//!
//! Both are real HTTP/1.1 servers on `127.0.0.1:<free port>`, started with `start()` and
//! stopped on drop (or `shutdown()`). They validate what the real services validate
//! (credentials, parameters, bodies) and answer with the real services' status codes and
//! error bodies, so a suite fails when the service under test sends something wrong.
//!
//! Common to both, in [`faults`] (the [`Faulty`] trait brings the methods into scope):
//! - every request is recorded ([`Recorded`]), so tests can assert what reached a fake,
//!   including that nothing did;
//! - `fail_next(route, fault, times)` queues [`Fault`]s per endpoint group; a request
//!   takes the first queued fault of its most specific route, then of any broader group
//!   it belongs to, then of `Route::Any`;
//! - `set_down(true)` answers every request 503 until `set_down(false)`; it takes
//!   precedence over queued faults and does not consume them;
//! - `set_chaos(rate, max_latency, seed)` (for load tests) delays every request by a
//!   random time up to `max_latency` and answers about `rate` of them with one of the
//!   service's usual transient errors (5xx, 429) instead of handling them. The random
//!   choices come from a seeded RNG; queued faults and `set_down` take precedence.

pub mod faults;
pub mod google;
pub mod rest;
mod server;
pub mod start_page;

use std::time::Duration;

use bytes::Bytes;

pub use faults::{FaultControl, Faulty};
pub use google::FakeGoogle;
pub use rest::FakeRest;
pub use start_page::StartPage;

/// A failure to inject into the next request(s) of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and the service's usual error body for it.
    Status(u16),
    /// 403 with Google's `rateLimitExceeded` reason (the REST fake answers a plain 403).
    RateLimit403,
    /// 401 with the service's authentication error body.
    Unauthorized,
    /// 410; from Google with reason `fullSyncRequired`.
    Gone,
    /// Wait this long, then handle the request normally.
    Slow(Duration),
    /// Close the connection without writing any response.
    Drop,
    /// Answer as usual, but close the connection after half of the body: the head (its
    /// `Content-Length` promising the whole body) arrives, the body never does.
    CutShort,
}

/// One request as received by a fake.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Raw path as received, still percent-encoded.
    pub path: String,
    /// Raw query string without `?`, if present.
    pub query: Option<String>,
    /// Header names lowercased, in received order; repeated headers appear repeatedly.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    fn from_incoming(req: &server::Incoming) -> Self {
        Recorded {
            method: req.method.as_str().to_owned(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: req.body.clone(),
        }
    }

    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Decoded query pairs in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(server::parse_form)
            .unwrap_or_default()
    }

    /// First decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body decoded as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        server::parse_form(&self.body_text())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Random characters from `alphabet`.
fn random_string(alphabet: &[u8], len: usize) -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
