//! RFC 9457 problem details: the one shape every error takes on the way out.

use serde_json::{Value, json};

/// The table of codes: each line is the variant, its stable string, its status and its
/// title. Adding a code is one line here (and its entry in `openapi.json`).
macro_rules! codes {
    ($($variant:ident => ($code:literal, $status:literal, $title:literal),)*) => {
        /// A stable, machine-readable error code. Clients branch on these strings, so a
        /// code once shipped never changes meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in table order.
            #[cfg(test)]
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub const fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    InvalidUserId => ("invalid_user_id", 400, "Invalid user id"),
    InvalidRequest => ("invalid_request", 400, "Invalid request"),
    Unauthorized => ("unauthorized", 401, "Unauthorized"),
    NotFound => ("not_found", 404, "Not found"),
    MethodNotAllowed => ("method_not_allowed", 405, "Method not allowed"),
    PayloadTooLarge => ("payload_too_large", 413, "Payload too large"),
    ConfigMissing => ("config_missing", 500, "Configuration missing"),
    ConfigInvalid => ("config_invalid", 500, "Configuration invalid"),
    RedisUnavailable => ("redis_unavailable", 503, "Redis unavailable"),
    Internal => ("internal_error", 500, "Internal error"),
    UserNotFound => ("user_not_found", 404, "User not found"),
    InvalidState => ("invalid_state", 400, "Invalid state"),
    AuthorizationDenied => ("authorization_denied", 400, "Authorization denied"),
    NoRefreshToken => ("no_refresh_token", 400, "No refresh token"),
    NotAuthorized => ("not_authorized", 401, "Calendar not connected"),
    ReauthorizationRequired => ("reauthorization_required", 401, "Reauthorization required"),
    RestUnavailable => ("rest_unavailable", 503, "User-data service unavailable"),
    RestError => ("rest_error", 502, "User-data service error"),
    UpstreamUnavailable => ("upstream_unavailable", 503, "Google unavailable"),
    UpstreamRateLimited => ("upstream_rate_limited", 429, "Google rate limit"),
    UpstreamError => ("upstream_error", 502, "Google error"),
    RateLimited => ("rate_limited", 429, "Rate limited"),
    InvalidEvent => ("invalid_event", 400, "Invalid event"),
    UnknownField => ("unknown_field", 400, "Unknown field"),
    InvalidTimeRange => ("invalid_time_range", 400, "Invalid time range"),
    InvalidTimeZone => ("invalid_time_zone", 400, "Invalid time zone"),
    NonexistentLocalTime => ("nonexistent_local_time", 400, "Nonexistent local time"),
    MissingTimeZone => ("missing_time_zone", 400, "Missing time zone"),
    InvalidQuery => ("invalid_query", 400, "Invalid query"),
    EventNotFound => ("event_not_found", 404, "Event not found"),
    SyncTokenExpired => ("sync_token_expired", 410, "Sync token expired"),
    IdempotencyKeyReused => ("idempotency_key_reused", 422, "Idempotency key reused"),
    InsufficientPermissions => ("insufficient_permissions", 403, "Insufficient permissions"),
    UnsupportedMediaType => ("unsupported_media_type", 415, "Unsupported media type"),
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
        for &c in Code::ALL {
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert!((400..600).contains(&c.status()), "{c:?}");
        }
    }

    #[test]
    fn every_code_string_is_its_own() {
        let mut seen: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), Code::ALL.len());
    }
}
