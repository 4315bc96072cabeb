//! Why an availability request is refused: every variant is a 400 with a stable code.

/// Refusals of `POST /availability`, each with a stable snake_case [`code`](Self::code):
///
/// | code | when |
/// |---|---|
/// | `invalid_request` | the body is not JSON of the right shape (wrong type, missing field) |
/// | `unknown_field` | the body has a field SPEC section 8 does not define |
/// | `no_participants` | `participants` is empty |
/// | `too_many_participants` | more than 20 participants |
/// | `invalid_user_id` | a participant's `user_id` is not 1 to 128 of `[A-Za-z0-9._@-]` |
/// | `duplicate_participant` | the same `user_id` twice |
/// | `invalid_calendar_ids` | `calendar_ids` empty, repeated, or an id not 1 to 256 characters without `/` or control characters |
/// | `too_many_calendars` | more than 50 `calendar_ids` for one participant |
/// | `invalid_time` | `time_min`/`time_max` not RFC 3339 or `YYYY-MM-DD` |
/// | `invalid_time_range` | `time_min >= time_max` |
/// | `window_too_long` | `time_max - time_min` over 31 days |
/// | `invalid_duration` | `duration_minutes` not 5..=1440 |
/// | `invalid_interval` | `interval_minutes` not 5..=1440 |
/// | `invalid_buffer` | `buffer_minutes` not 0..=240 |
/// | `invalid_max_slots` | `max_slots` not 1..=1000 |
/// | `invalid_working_hours` | `start`/`end` not `HH:MM`, `end <= start`, or no `days` |
/// | `unknown_weekday` | a day other than `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun` |
/// | `invalid_time_zone` | not an IANA zone (`working_hours.time_zone` or a user's own zone) |
/// | `missing_time_zone` | working hours given, no `working_hours.time_zone`, and a participant has no zone |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvailabilityError {
    #[error("the body is not a valid availability request: {0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnknownField(String),
    #[error("participants must list at least one participant")]
    NoParticipants,
    #[error("at most 20 participants are allowed, got {0}")]
    TooManyParticipants(usize),
    #[error(
        "participant {index}: user_id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', '@' or '-'"
    )]
    InvalidUserId { index: usize },
    #[error("participant `{user_id}` is listed more than once")]
    DuplicateParticipant { user_id: String },
    #[error("participant `{user_id}`: {reason}")]
    InvalidCalendarIds {
        user_id: String,
        reason: &'static str,
    },
    #[error("participant `{user_id}`: at most 50 calendar_ids are allowed, got {count}")]
    TooManyCalendars { user_id: String, count: usize },
    #[error("`{field}` must be an RFC 3339 instant or YYYY-MM-DD")]
    InvalidTime { field: &'static str },
    #[error("time_min must be before time_max")]
    InvalidTimeRange,
    #[error("the window from time_min to time_max is limited to 31 days")]
    WindowTooLong,
    #[error("duration_minutes must be 5 to 1440, got {0}")]
    InvalidDuration(i64),
    #[error("interval_minutes must be 5 to 1440, got {0}")]
    InvalidInterval(i64),
    #[error("buffer_minutes must be 0 to 240, got {0}")]
    InvalidBuffer(i64),
    #[error("max_slots must be 1 to 1000, got {0}")]
    InvalidMaxSlots(i64),
    #[error("working_hours: {0}")]
    InvalidWorkingHours(&'static str),
    #[error("working_hours.days: `{0}` is not one of mon, tue, wed, thu, fri, sat, sun")]
    UnknownWeekday(String),
    #[error("`{0}` is not an IANA time zone")]
    InvalidTimeZone(String),
    #[error("participant `{user_id}` has no time zone; give working_hours.time_zone")]
    MissingTimeZone { user_id: String },
}

impl AvailabilityError {
    /// The stable code for the problem body.
    pub fn code(&self) -> &'static str {
        use AvailabilityError::*;
        match self {
            InvalidRequest(_) => "invalid_request",
            UnknownField(_) => "unknown_field",
            NoParticipants => "no_participants",
            TooManyParticipants(_) => "too_many_participants",
            InvalidUserId { .. } => "invalid_user_id",
            DuplicateParticipant { .. } => "duplicate_participant",
            InvalidCalendarIds { .. } => "invalid_calendar_ids",
            TooManyCalendars { .. } => "too_many_calendars",
            InvalidTime { .. } => "invalid_time",
            InvalidTimeRange => "invalid_time_range",
            WindowTooLong => "window_too_long",
            InvalidDuration(_) => "invalid_duration",
            InvalidInterval(_) => "invalid_interval",
            InvalidBuffer(_) => "invalid_buffer",
            InvalidMaxSlots(_) => "invalid_max_slots",
            InvalidWorkingHours(_) => "invalid_working_hours",
            UnknownWeekday(_) => "unknown_weekday",
            InvalidTimeZone(_) => "invalid_time_zone",
            MissingTimeZone { .. } => "missing_time_zone",
        }
    }

    /// Every code [`code`](Self::code) can return, for OpenAPI and tests.
    pub const CODES: [&'static str; 19] = [
        "invalid_request",
        "unknown_field",
        "no_participants",
        "too_many_participants",
        "invalid_user_id",
        "duplicate_participant",
        "invalid_calendar_ids",
        "too_many_calendars",
        "invalid_time",
        "invalid_time_range",
        "window_too_long",
        "invalid_duration",
        "invalid_interval",
        "invalid_buffer",
        "invalid_max_slots",
        "invalid_working_hours",
        "unknown_weekday",
        "invalid_time_zone",
        "missing_time_zone",
    ];
}

/// At most `max` characters of outside input, for messages.
pub(super) fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}
