//! RFC 9457 problem details: the one shape every error takes on the way out.

use crate::model::availability::AvailabilityError;
use serde_json::{Value, json};

/// The codes: one line each (variant, code, HTTP status, title). Adding a code is a line
/// here plus its entry in `openapi.json` (a test compares the two).
macro_rules! codes {
    ($($variant:ident => $code:literal, $status:literal, $title:literal;)*) => {
        /// A stable, machine-readable error code. Clients branch on these strings, so a code
        /// once shipped never changes meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

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
    InvalidUserId => "invalid_user_id", 400, "Invalid user id";
    InvalidRequest => "invalid_request", 400, "Invalid request";
    Unauthorized => "unauthorized", 401, "Unauthorized";
    NotFound => "not_found", 404, "Not found";
    MethodNotAllowed => "method_not_allowed", 405, "Method not allowed";
    PayloadTooLarge => "payload_too_large", 413, "Payload too large";
    ConfigMissing => "config_missing", 500, "Configuration missing";
    ConfigInvalid => "config_invalid", 500, "Configuration invalid";
    RedisUnavailable => "redis_unavailable", 503, "Redis unavailable";
    Internal => "internal_error", 500, "Internal error";
    UserNotFound => "user_not_found", 404, "User not found";
    InvalidState => "invalid_state", 400, "Invalid state";
    AuthorizationDenied => "authorization_denied", 400, "Authorization denied";
    NoRefreshToken => "no_refresh_token", 400, "No refresh token";
    NotAuthorized => "not_authorized", 401, "Calendar not connected";
    ReauthorizationRequired => "reauthorization_required", 401, "Reauthorization required";
    RestUnavailable => "rest_unavailable", 503, "User-data service unavailable";
    RestError => "rest_error", 502, "User-data service error";
    UpstreamUnavailable => "upstream_unavailable", 503, "Google unavailable";
    UpstreamRateLimited => "upstream_rate_limited", 429, "Google rate limit";
    UpstreamError => "upstream_error", 502, "Google error";
    RateLimited => "rate_limited", 429, "Rate limited";
    InvalidEvent => "invalid_event", 400, "Invalid event";
    UnknownField => "unknown_field", 400, "Unknown field";
    InvalidTimeRange => "invalid_time_range", 400, "Invalid time range";
    InvalidTimeZone => "invalid_time_zone", 400, "Invalid time zone";
    NonexistentLocalTime => "nonexistent_local_time", 400, "Nonexistent local time";
    MissingTimeZone => "missing_time_zone", 400, "Missing time zone";
    InvalidQuery => "invalid_query", 400, "Invalid query";
    EventNotFound => "event_not_found", 404, "Event not found";
    SyncTokenExpired => "sync_token_expired", 410, "Sync token expired";
    IdempotencyKeyReused => "idempotency_key_reused", 422, "Idempotency key reused";
    InsufficientPermissions => "insufficient_permissions", 403, "Insufficient permissions";
    UnsupportedMediaType => "unsupported_media_type", 415, "Unsupported media type";
    WindowTooLong => "window_too_long", 400, "Window too long";
    TooManyCalendars => "too_many_calendars", 400, "Too many calendars";
    NoParticipants => "no_participants", 400, "No participants";
    TooManyParticipants => "too_many_participants", 400, "Too many participants";
    DuplicateParticipant => "duplicate_participant", 400, "Duplicate participant";
    InvalidCalendarIds => "invalid_calendar_ids", 400, "Invalid calendar ids";
    InvalidTime => "invalid_time", 400, "Invalid time";
    InvalidDuration => "invalid_duration", 400, "Invalid duration";
    InvalidInterval => "invalid_interval", 400, "Invalid interval";
    InvalidBuffer => "invalid_buffer", 400, "Invalid buffer";
    InvalidMaxSlots => "invalid_max_slots", 400, "Invalid max_slots";
    InvalidWorkingHours => "invalid_working_hours", 400, "Invalid working hours";
    UnknownWeekday => "unknown_weekday", 400, "Unknown weekday";
    InsufficientScope => "insufficient_scope", 403, "Insufficient scope";
    ParticipantUnavailable => "participant_unavailable", 422, "Participant unavailable";
    NotAnAttendee => "not_an_attendee", 409, "Not an attendee";
    EventChanged => "event_changed", 409, "Event changed";
}

/// An error on its way to the client. `detail` is written for people and must never hold a
/// secret: build it from our own words and validated input only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
    /// Seconds, for 429/503 answers that know when to come back.
    pub retry_after: Option<u32>,
    /// Extension members of the body (RFC 9457 section 3.2), e.g. `participants` of
    /// `participant_unavailable` or the `scope` of `insufficient_scope`: our own words and
    /// validated ids only.
    pub extensions: Vec<(&'static str, Value)>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Problem {
            code,
            detail: detail.into(),
            retry_after: None,
            extensions: Vec::new(),
        }
    }

    /// With an extension member `name` in the body.
    pub fn with(mut self, name: &'static str, value: Value) -> Self {
        self.extensions.push((name, value));
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The `application/problem+json` body, serialised straight from the problem (no
    /// map is built): the same members as [`Problem::body`], extensions last.
    pub fn to_json(&self, request_id: &str) -> Vec<u8> {
        struct Body<'a>(&'a Problem, &'a str);
        impl serde::Serialize for Body<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                const BASE: [&str; 6] = ["type", "title", "status", "detail", "code", "request_id"];
                let Body(p, rid) = self;
                let code = p.code.as_str();
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("type", &format_args!("urn:gcal:problem:{code}"))?;
                m.serialize_entry("title", p.code.title())?;
                m.serialize_entry("status", &p.code.status())?;
                m.serialize_entry("detail", &p.detail)?;
                m.serialize_entry("code", code)?;
                m.serialize_entry("request_id", rid)?;
                for (name, value) in &p.extensions {
                    if !BASE.contains(name) {
                        m.serialize_entry(name, value)?;
                    }
                }
                m.end()
            }
        }
        serde_json::to_vec(&Body(self, request_id)).unwrap_or_default()
    }

    /// The `application/problem+json` body.
    pub fn body(&self, request_id: &str) -> Value {
        let mut body = json!({
            "type": format!("urn:gcal:problem:{}", self.code.as_str()),
            "title": self.code.title(),
            "status": self.code.status(),
            "detail": self.detail,
            "code": self.code.as_str(),
            "request_id": request_id,
        });
        for (name, value) in &self.extensions {
            body[*name] = value.clone();
        }
        body
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for Problem {}

impl From<AvailabilityError> for Problem {
    /// Every refusal of `POST /availability` is a 400 under the error's own code.
    fn from(e: AvailabilityError) -> Problem {
        use AvailabilityError as E;
        let code = match &e {
            E::InvalidRequest(_) => Code::InvalidRequest,
            E::UnknownField(_) => Code::UnknownField,
            E::NoParticipants => Code::NoParticipants,
            E::TooManyParticipants(_) => Code::TooManyParticipants,
            E::InvalidUserId { .. } => Code::InvalidUserId,
            E::DuplicateParticipant { .. } => Code::DuplicateParticipant,
            E::InvalidCalendarIds { .. } => Code::InvalidCalendarIds,
            E::TooManyCalendars { .. } => Code::TooManyCalendars,
            E::InvalidTime { .. } => Code::InvalidTime,
            E::InvalidTimeRange => Code::InvalidTimeRange,
            E::WindowTooLong => Code::WindowTooLong,
            E::InvalidDuration(_) => Code::InvalidDuration,
            E::InvalidInterval(_) => Code::InvalidInterval,
            E::InvalidBuffer(_) => Code::InvalidBuffer,
            E::InvalidMaxSlots(_) => Code::InvalidMaxSlots,
            E::InvalidWorkingHours(_) => Code::InvalidWorkingHours,
            E::UnknownWeekday(_) => Code::UnknownWeekday,
            E::InvalidTimeZone(_) => Code::InvalidTimeZone,
            E::MissingTimeZone { .. } => Code::MissingTimeZone,
        };
        Problem::new(code, e.to_string())
    }
}

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
    fn availability_refusals_keep_their_code_as_400s() {
        use AvailabilityError as E;
        let all = [
            E::InvalidRequest("x".into()),
            E::UnknownField("x".into()),
            E::NoParticipants,
            E::TooManyParticipants(21),
            E::InvalidUserId { index: 0 },
            E::DuplicateParticipant {
                user_id: "a".into(),
            },
            E::InvalidCalendarIds {
                user_id: "a".into(),
                reason: "r",
            },
            E::TooManyCalendars {
                user_id: "a".into(),
                count: 51,
            },
            E::InvalidTime { field: "time_min" },
            E::InvalidTimeRange,
            E::WindowTooLong,
            E::InvalidDuration(1),
            E::InvalidInterval(1),
            E::InvalidBuffer(-1),
            E::InvalidMaxSlots(0),
            E::InvalidWorkingHours("r"),
            E::UnknownWeekday("x".into()),
            E::InvalidTimeZone("x".into()),
            E::MissingTimeZone {
                user_id: "a".into(),
            },
        ];
        assert_eq!(all.len(), AvailabilityError::CODES.len());
        for e in all {
            let code = e.code();
            let p = Problem::from(e);
            assert_eq!(p.code.as_str(), code);
            assert_eq!(p.status(), 400);
        }
    }

    #[test]
    fn extension_members_join_the_body() {
        let p = Problem::new(Code::InsufficientScope, "x").with("scope", json!("s"));
        assert_eq!(p.body("r")["scope"], "s");
        let sent: Value = serde_json::from_slice(&p.to_json("r")).unwrap();
        assert_eq!(sent, p.body("r"), "the answer's bytes say what body() says");
        assert_eq!(p.body("r")["code"], "insufficient_scope");
    }

    #[test]
    fn codes_are_snake_case_and_statuses_are_errors() {
        assert!(Code::ALL.len() >= 45);
        for &c in Code::ALL {
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert!((400..600).contains(&c.status()), "{c:?}");
        }
        let distinct: std::collections::BTreeSet<_> =
            Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(distinct.len(), Code::ALL.len(), "a code string used twice");
    }
}
