//! `freebusy.query`.
//!
//! Like Google: `timeMin < timeMax` (else 400 `timeRangeEmpty`), a window of at most
//! [`MAX_WINDOW_DAYS`] days (else 400 `timeRangeTooLong`), `timeZone` a real IANA zone,
//! `calendarExpansionMax` at most 50; at most [`MAX_CALENDARS`] calendars answered, the
//! ones beyond carry the error `tooManyCalendarsRequested`. Each requested id keeps the
//! key it was asked with (`primary` included); an unknown or invisible calendar answers
//! `{"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}`.
//! Busy: every event that is not cancelled, not `transparency: transparent` and not
//! declined by the calendar's owner (the attendee with the owner's email), recurring
//! ones expanded; clipped to the window, sorted, overlapping and touching intervals
//! merged. `timeMin`/`timeMax` are echoed in UTC with milliseconds, busy times are RFC
//! 3339 in `timeZone` (UTC `Z` by default). Groups are not modelled (a group id is an
//! unknown calendar).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::calendar::ApiError;
use super::recurrence::{self, format_in, zone};

/// Longest window Google answers.
pub const MAX_WINDOW_DAYS: i64 = 90;
/// Most calendars one query answers (Google's `calendarExpansionMax` limit).
pub const MAX_CALENDARS: usize = 50;

/// The events of one calendar and the account that owns it.
#[derive(Debug, Clone)]
pub struct CalendarEvents {
    pub owner: String,
    pub events: Vec<Map<String, Value>>,
}

fn bad(reason: &'static str, message: &str) -> ApiError {
    ApiError::new(400, reason, message)
}

fn time_of(body: &Map<String, Value>, name: &str) -> Result<DateTime<Utc>, ApiError> {
    let text = match body.get(name) {
        None | Some(Value::Null) => {
            return Err(bad("required", &format!("Missing {name} parameter.")));
        }
        Some(Value::String(text)) => text,
        Some(_) => return Err(bad("parseError", "Parse Error")),
    };
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad("invalid", &format!("Invalid value for {name}: {text}")))
}

/// Whether an event blocks time for the calendar's owner.
fn is_busy(event: &Map<String, Value>, owner: &str) -> bool {
    let text = |name: &str| event.get(name).and_then(Value::as_str);
    if text("status") == Some("cancelled") || text("transparency") == Some("transparent") {
        return false;
    }
    let declined = event
        .get("attendees")
        .and_then(Value::as_array)
        .is_some_and(|attendees| {
            attendees.iter().any(|a| {
                a.get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(owner))
                    && a.get("responseStatus").and_then(Value::as_str) == Some("declined")
            })
        });
    !declined
}

/// Busy intervals of one calendar inside `[min, max)`, merged.
pub fn busy(
    calendar: &CalendarEvents,
    min: DateTime<Utc>,
    max: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>)> = calendar
        .events
        .iter()
        .filter(|e| is_busy(e, &calendar.owner))
        // A stored event always expanded when it was written; a failure here only
        // means it blocks nothing.
        .flat_map(|e| recurrence::expand(e, Some(min)).unwrap_or_default())
        .filter(|o| !o.excluded && o.start < max && o.end > min && o.end > o.start)
        .map(|o| (o.start.max(min), o.end.min(max)))
        .collect();
    intervals.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// `freebusy.query`: `lookup` finds a calendar by the id asked for.
pub fn query(
    body: &Value,
    lookup: impl Fn(&str) -> Option<CalendarEvents>,
) -> Result<Value, ApiError> {
    let body = body
        .as_object()
        .ok_or_else(|| bad("parseError", "Parse Error"))?;
    let min = time_of(body, "timeMin")?;
    let max = time_of(body, "timeMax")?;
    if min >= max {
        return Err(bad("timeRangeEmpty", "The specified time range is empty."));
    }
    if max - min > Duration::days(MAX_WINDOW_DAYS) {
        return Err(bad(
            "timeRangeTooLong",
            "The requested time range is too long.",
        ));
    }
    let tz = match body.get("timeZone") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => {
            Some(zone(name).ok_or_else(|| bad("invalid", &format!("Invalid time zone: {name}")))?)
        }
        Some(_) => return Err(bad("parseError", "Parse Error")),
    };
    let expansion_max = match body.get("calendarExpansionMax") {
        None | Some(Value::Null) => MAX_CALENDARS,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_CALENDARS as u64).contains(&n) => n as usize,
            _ => return Err(bad("invalid", "Invalid calendarExpansionMax value.")),
        },
    };
    let items = match body.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(bad("parseError", "Parse Error")),
    };
    let mut ids: Vec<String> = Vec::new();
    for item in &items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| bad("required", "Missing calendar id."))?;
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    let error =
        |reason: &str| json!({"errors": [{"domain": "global", "reason": reason}], "busy": []});
    let mut calendars = Map::new();
    for (index, id) in ids.iter().enumerate() {
        let answer = if index >= expansion_max {
            error("tooManyCalendarsRequested")
        } else {
            match lookup(id) {
                None => error("notFound"),
                Some(calendar) => {
                    let busy: Vec<Value> = busy(&calendar, min, max)
                        .into_iter()
                        .map(|(s, e)| json!({"start": format_in(s, tz), "end": format_in(e, tz)}))
                        .collect();
                    json!({ "busy": busy })
                }
            }
        };
        calendars.insert(id.clone(), answer);
    }
    Ok(json!({
        "kind": "calendar#freeBusy",
        "timeMin": min.to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeMax": max.to_rfc3339_opts(SecondsFormat::Millis, true),
        "calendars": calendars,
    }))
}
