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
    UserNotFound,
    InvalidState,
    AuthorizationDenied,
    NoRefreshToken,
    NotAuthorized,
    ReauthorizationRequired,
    RestUnavailable,
    RestError,
    UpstreamUnavailable,
    UpstreamRateLimited,
    UpstreamError,
    RateLimited,
    InvalidEvent,
    UnknownField,
    InvalidTimeRange,
    InvalidTimeZone,
    NonexistentLocalTime,
    MissingTimeZone,
    InvalidQuery,
    EventNotFound,
    SyncTokenExpired,
    IdempotencyKeyReused,
    InsufficientPermissions,
    UnsupportedMediaType,
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
            Code::UserNotFound => "user_not_found",
            Code::InvalidState => "invalid_state",
            Code::AuthorizationDenied => "authorization_denied",
            Code::NoRefreshToken => "no_refresh_token",
            Code::NotAuthorized => "not_authorized",
            Code::ReauthorizationRequired => "reauthorization_required",
            Code::RestUnavailable => "rest_unavailable",
            Code::RestError => "rest_error",
            Code::UpstreamUnavailable => "upstream_unavailable",
            Code::UpstreamRateLimited => "upstream_rate_limited",
            Code::UpstreamError => "upstream_error",
            Code::RateLimited => "rate_limited",
            Code::InvalidEvent => "invalid_event",
            Code::UnknownField => "unknown_field",
            Code::InvalidTimeRange => "invalid_time_range",
            Code::InvalidTimeZone => "invalid_time_zone",
            Code::NonexistentLocalTime => "nonexistent_local_time",
            Code::MissingTimeZone => "missing_time_zone",
            Code::InvalidQuery => "invalid_query",
            Code::EventNotFound => "event_not_found",
            Code::SyncTokenExpired => "sync_token_expired",
            Code::IdempotencyKeyReused => "idempotency_key_reused",
            Code::InsufficientPermissions => "insufficient_permissions",
            Code::UnsupportedMediaType => "unsupported_media_type",
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
            Code::UserNotFound => 404,
            Code::InvalidState => 400,
            Code::AuthorizationDenied => 400,
            Code::NoRefreshToken => 400,
            Code::NotAuthorized => 401,
            Code::ReauthorizationRequired => 401,
            Code::RestUnavailable => 503,
            Code::RestError => 502,
            Code::UpstreamUnavailable => 503,
            Code::UpstreamRateLimited => 429,
            Code::UpstreamError => 502,
            Code::RateLimited => 429,
            Code::InvalidEvent => 400,
            Code::UnknownField => 400,
            Code::InvalidTimeRange => 400,
            Code::InvalidTimeZone => 400,
            Code::NonexistentLocalTime => 400,
            Code::MissingTimeZone => 400,
            Code::InvalidQuery => 400,
            Code::EventNotFound => 404,
            Code::SyncTokenExpired => 410,
            Code::IdempotencyKeyReused => 422,
            Code::InsufficientPermissions => 403,
            Code::UnsupportedMediaType => 415,
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
            Code::UserNotFound => "User not found",
            Code::InvalidState => "Invalid state",
            Code::AuthorizationDenied => "Authorization denied",
            Code::NoRefreshToken => "No refresh token",
            Code::NotAuthorized => "Calendar not connected",
            Code::ReauthorizationRequired => "Reauthorization required",
            Code::RestUnavailable => "User-data service unavailable",
            Code::RestError => "User-data service error",
            Code::UpstreamUnavailable => "Google unavailable",
            Code::UpstreamRateLimited => "Google rate limit",
            Code::UpstreamError => "Google error",
            Code::RateLimited => "Rate limited",
            Code::InvalidEvent => "Invalid event",
            Code::UnknownField => "Unknown field",
            Code::InvalidTimeRange => "Invalid time range",
            Code::InvalidTimeZone => "Invalid time zone",
            Code::NonexistentLocalTime => "Nonexistent local time",
            Code::MissingTimeZone => "Missing time zone",
            Code::InvalidQuery => "Invalid query",
            Code::EventNotFound => "Event not found",
            Code::SyncTokenExpired => "Sync token expired",
            Code::IdempotencyKeyReused => "Idempotency key reused",
            Code::InsufficientPermissions => "Insufficient permissions",
            Code::UnsupportedMediaType => "Unsupported media type",
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
            Code::UserNotFound,
            Code::InvalidState,
            Code::AuthorizationDenied,
            Code::NoRefreshToken,
            Code::NotAuthorized,
            Code::ReauthorizationRequired,
            Code::RestUnavailable,
            Code::RestError,
            Code::UpstreamUnavailable,
            Code::UpstreamRateLimited,
            Code::UpstreamError,
            Code::RateLimited,
            Code::InvalidEvent,
            Code::UnknownField,
            Code::InvalidTimeRange,
            Code::InvalidTimeZone,
            Code::NonexistentLocalTime,
            Code::MissingTimeZone,
            Code::InvalidQuery,
            Code::EventNotFound,
            Code::SyncTokenExpired,
            Code::IdempotencyKeyReused,
            Code::InsufficientPermissions,
            Code::UnsupportedMediaType,
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
