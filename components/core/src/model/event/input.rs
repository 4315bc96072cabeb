//! What clients send to create or change an event, validated, and what Google gets.

use super::*;
use crate::http::problem::{Code, Problem};
use serde::Deserialize;
use serde_json::{Map, Value, json};

// ------------------------------------------------------------------ input

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReminderOverride {
    pub method: String,
    pub minutes: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    #[serde(rename = "useDefault", alias = "use_default")]
    pub use_default: bool,
    #[serde(default)]
    pub overrides: Vec<ReminderOverride>,
}

/// A create or patch body. For create `summary`, `start` and `end` are required.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<TimeInput>,
    pub end: Option<TimeInput>,
    pub attendees: Option<Vec<Attendee>>,
    pub recurrence: Option<Vec<String>>,
    pub reminders: Option<Reminders>,
    pub calendar_id: Option<String>,
    /// `{"type": "google_meet"}`: a Meet conference (the route adds its `requestId`).
    pub conference: Option<ConferenceInput>,
}

impl EventInput {
    /// Parses a JSON body; an unknown field is `unknown_field`, anything else malformed
    /// is `invalid_event`.
    pub fn parse(body: &[u8]) -> Result<EventInput, Problem> {
        parse_body(body)
    }

    /// Whether resolving the times needs the user's `time_zone` from the REST service.
    pub fn needs_user_zone(&self) -> bool {
        let timed_without_zone = |t: &Option<TimeInput>| {
            t.as_ref().is_some_and(|t| {
                When::needs_user_zone(t)
                    || (self.recurrence.is_some() && t.date_time.is_some() && t.time_zone.is_none())
            })
        };
        timed_without_zone(&self.start) || timed_without_zone(&self.end)
    }

    /// Field checks that do not depend on the other end or the stored event.
    fn check_fields(&self) -> Result<(), Problem> {
        let len = |name: &str, v: &Option<String>, min: usize, max: usize| -> Result<(), Problem> {
            if let Some(v) = v {
                let n = v.chars().count();
                if n < min || n > max {
                    return Err(bad(
                        Code::InvalidEvent,
                        format!("`{name}` must be {min} to {max} characters"),
                    ));
                }
            }
            Ok(())
        };
        len("summary", &self.summary, 1, MAX_SUMMARY)?;
        len("description", &self.description, 0, MAX_DESCRIPTION)?;
        len("location", &self.location, 0, MAX_LOCATION)?;
        if let Some(c) = &self.calendar_id {
            check_calendar_id(c)?;
        }
        if let Some(a) = &self.attendees {
            check_attendees(a)?;
        }
        if let Some(r) = &self.recurrence {
            if r.len() > MAX_RECURRENCE {
                return Err(bad(
                    Code::InvalidEvent,
                    format!("at most {MAX_RECURRENCE} recurrence lines"),
                ));
            }
            for line in r {
                let known = ["RRULE:", "EXRULE:", "RDATE", "EXDATE"]
                    .iter()
                    .any(|p| line.starts_with(p));
                if !known || line.len() > 1024 || line.chars().any(char::is_control) {
                    return Err(bad(
                        Code::InvalidEvent,
                        "recurrence lines must be RRULE, EXRULE, RDATE or EXDATE lines (RFC 5545)",
                    ));
                }
            }
        }
        if let Some(rem) = &self.reminders {
            check_reminders(rem)?;
        }
        Ok(())
    }

    /// The Google body for a new event, validated. `user_zone` is the user's `time_zone`
    /// setting, used for local times without a zone.
    pub fn for_create(&self, user_zone: Option<&str>) -> Result<Value, Problem> {
        self.check_fields()?;
        if self.summary.is_none() {
            return Err(bad(Code::InvalidEvent, "`summary` is required"));
        }
        let (Some(s), Some(e)) = (&self.start, &self.end) else {
            return Err(bad(Code::InvalidEvent, "`start` and `end` are required"));
        };
        let start = When::resolve(s, user_zone)?;
        let end = When::resolve(e, user_zone)?;
        check_range(&start, &end)?;
        self.check_recurring(&start, &end)?;
        Ok(self.google_fields(Some(&start), Some(&end)))
    }

    /// The Google body for a partial update of `existing` (Google's JSON), validated on
    /// the merged result.
    pub fn for_patch(&self, existing: &Value, user_zone: Option<&str>) -> Result<Value, Problem> {
        self.check_fields()?;
        if *self == EventInput::default()
            || (self.calendar_id.is_some()
                && EventInput {
                    calendar_id: None,
                    ..self.clone()
                } == EventInput::default())
        {
            return Err(bad(Code::InvalidEvent, "nothing to change"));
        }
        let start = self
            .start
            .as_ref()
            .map(|t| When::resolve(t, user_zone))
            .transpose()?;
        let end = self
            .end
            .as_ref()
            .map(|t| When::resolve(t, user_zone))
            .transpose()?;
        let merged_start = start
            .clone()
            .or_else(|| existing.get("start").and_then(When::from_google));
        let merged_end = end
            .clone()
            .or_else(|| existing.get("end").and_then(When::from_google));
        if let (Some(s), Some(e)) = (&merged_start, &merged_end) {
            check_range(s, e)?;
            if self.recurrence.is_some() || existing.get("recurrence").is_some() {
                self.check_recurring(s, e)?;
            }
        }
        let mut change = self.google_fields(start.as_ref(), end.as_ref());
        // Google merges a patched `start`/`end` into the stored one: without clearing the
        // other kind's field, a timed event patched to all-day (or back) would carry both
        // `date` and `dateTime`, which Google rejects.
        for (name, when) in [("start", &start), ("end", &end)] {
            let other = match when {
                Some(When::AllDay(_)) => "dateTime",
                Some(When::At { .. }) => "date",
                None => continue,
            };
            change[name][other] = Value::Null;
        }
        Ok(change)
    }

    /// Google needs a time zone on both ends of a timed recurring event.
    fn check_recurring(&self, start: &When, end: &When) -> Result<(), Problem> {
        let recurring = self.recurrence.as_ref().is_some_and(|r| !r.is_empty());
        let timed = matches!(start, When::At { .. });
        if recurring && timed && !(start.has_zone() && end.has_zone()) {
            return Err(bad(
                Code::MissingTimeZone,
                "a timed recurring event needs `timeZone` on start and end (or a time_zone setting for the user)",
            ));
        }
        Ok(())
    }

    fn google_fields(&self, start: Option<&When>, end: Option<&When>) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put("summary", self.summary.clone().map(Value::from));
        put("description", self.description.clone().map(Value::from));
        put("location", self.location.clone().map(Value::from));
        put("start", start.map(When::to_google));
        put("end", end.map(When::to_google));
        put(
            "attendees",
            self.attendees.as_deref().map(attendees_to_google),
        );
        put(
            "recurrence",
            self.recurrence
                .clone()
                .map(|r| r.into_iter().map(Value::from).collect()),
        );
        put(
            "reminders",
            self.reminders.as_ref().map(|r| {
                json!({
                    "useDefault": r.use_default,
                    "overrides": r.overrides.iter().map(|o| json!({"method": o.method, "minutes": o.minutes})).collect::<Vec<_>>(),
                })
            }),
        );
        Value::Object(m)
    }
}

/// At most 5 overrides, each by email or popup within 4 weeks; defaults or overrides.
fn check_reminders(rem: &Reminders) -> Result<(), Problem> {
    if rem.overrides.len() > MAX_OVERRIDES {
        return Err(bad(
            Code::InvalidEvent,
            format!("at most {MAX_OVERRIDES} reminder overrides"),
        ));
    }
    if rem.use_default && !rem.overrides.is_empty() {
        return Err(bad(
            Code::InvalidEvent,
            "reminders use either the calendar's defaults (`useDefault`) or `overrides`, not both",
        ));
    }
    for o in &rem.overrides {
        if !matches!(o.method.as_str(), "email" | "popup") || !(0..=40320).contains(&o.minutes) {
            return Err(bad(
                Code::InvalidEvent,
                "reminder overrides need method `email` or `popup` and 0 to 40320 minutes",
            ));
        }
    }
    Ok(())
}

/// A JSON body of a write: an unknown field is `unknown_field`, anything else malformed
/// is `invalid_event`.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.is_empty() {
        return Err(bad(Code::InvalidEvent, "a JSON body is required"));
    }
    serde_json::from_slice(body).map_err(|e| {
        let msg = e.to_string();
        if msg.starts_with("unknown field") {
            bad(Code::UnknownField, clip_msg(&msg))
        } else {
            bad(
                Code::InvalidEvent,
                format!("invalid event body: {}", clip_msg(&msg)),
            )
        }
    })
}

fn clip_msg(msg: &str) -> String {
    msg.chars().take(200).collect()
}
