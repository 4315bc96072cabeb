//! RFC 9457 problem details: the one shape every error takes on the way out.

use serde_json::{Value, json};

/// A stable, machine-readable error code. Clients branch on these strings, so a code once
/// shipped never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidUserId,
    InvalidRequest,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    ConfigMissing,
    ConfigInvalid,
    RedisUnavailable,
    Internal,
}

impl Code {
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::InvalidUserId => "invalid_user_id",
            Code::InvalidRequest => "invalid_request",
            Code::Unauthorized => "unauthorized",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::PayloadTooLarge => "payload_too_large",
            Code::ConfigMissing => "config_missing",
            Code::ConfigInvalid => "config_invalid",
            Code::RedisUnavailable => "redis_unavailable",
            Code::Internal => "internal_error",
        }
    }

    pub const fn status(self) -> u16 {
        match self {
            Code::InvalidUserId | Code::InvalidRequest => 400,
            Code::Unauthorized => 401,
            Code::NotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::PayloadTooLarge => 413,
            Code::ConfigMissing | Code::ConfigInvalid | Code::Internal => 500,
            Code::RedisUnavailable => 503,
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            Code::InvalidUserId => "Invalid user id",
            Code::InvalidRequest => "Invalid request",
            Code::Unauthorized => "Unauthorized",
            Code::NotFound => "Not found",
            Code::MethodNotAllowed => "Method not allowed",
            Code::PayloadTooLarge => "Payload too large",
            Code::ConfigMissing => "Configuration missing",
            Code::ConfigInvalid => "Configuration invalid",
            Code::RedisUnavailable => "Redis unavailable",
            Code::Internal => "Internal error",
        }
    }
}

/// An error on its way to the client. `detail` is written for people and must never hold a
/// secret: build it from our own words and validated input only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
    /// Seconds, for 429/503 answers that know when to come back.
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Problem {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The `application/problem+json` body.
    pub fn body(&self, request_id: &str) -> Value {
        json!({
            "type": format!("urn:gcal:problem:{}", self.code.as_str()),
            "title": self.code.title(),
            "status": self.code.status(),
            "detail": self.detail,
            "code": self.code.as_str(),
            "request_id": request_id,
        })
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_every_rfc9457_member_and_our_code() {
        let p = Problem::new(Code::InvalidUserId, "bad id");
        let b = p.body("req-1");
        assert_eq!(b["status"], 400);
        assert_eq!(b["code"], "invalid_user_id");
        assert_eq!(b["title"], "Invalid user id");
        assert_eq!(b["detail"], "bad id");
        assert_eq!(b["request_id"], "req-1");
        assert_eq!(b["type"], "urn:gcal:problem:invalid_user_id");
    }

    #[test]
    fn codes_are_snake_case_and_statuses_are_errors() {
        for c in [
            Code::InvalidUserId,
            Code::InvalidRequest,
            Code::Unauthorized,
            Code::NotFound,
            Code::MethodNotAllowed,
            Code::PayloadTooLarge,
            Code::ConfigMissing,
            Code::ConfigInvalid,
            Code::RedisUnavailable,
            Code::Internal,
        ] {
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert!((400..600).contains(&c.status()), "{c:?}");
        }
    }
}
