//! Events: validation of what clients send, time zones, and the mapping between our
//! `Event` and Google's event JSON.

use crate::problem::{Code, Problem};
use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value, json};

const MAX_SUMMARY: usize = 1024;
const MAX_DESCRIPTION: usize = 8192;
const MAX_LOCATION: usize = 1024;
const MAX_ATTENDEES: usize = 100;
const MAX_RECURRENCE: usize = 20;
const MAX_OVERRIDES: usize = 5;
const MAX_CALENDAR_ID: usize = 256;
pub const DEFAULT_CALENDAR: &str = "primary";

fn bad(code: Code, detail: impl Into<String>) -> Problem {
    Problem::new(code, detail)
}

// ------------------------------------------------------------------ time

/// A real IANA zone (the tz database compiled in by `chrono-tz`).
pub fn parse_zone(name: &str) -> Result<Tz, Problem> {
    name.parse::<Tz>().map_err(|_| {
        bad(
            Code::InvalidTimeZone,
            format!("`{}` is not an IANA time zone", clip(name)),
        )
    })
}

/// A `dateTime` as an instant. With an offset it is taken as is. Without one it is local
/// time in `zone`: a time that does not exist there (the hour skipped when clocks go
/// forward) is an error; a time that exists twice (the hour repeated when clocks go back)
/// is the first of the two, the one still on daylight-saving time.
pub fn resolve_date_time(value: &str, zone: Option<Tz>) -> Result<DateTime<FixedOffset>, Problem> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(value) {
        return Ok(dt);
    }
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M"))
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f"))
        .map_err(|_| {
            bad(
                Code::InvalidEvent,
                format!("`{}` is not an RFC 3339 date-time", clip(value)),
            )
        })?;
    let zone = zone.ok_or_else(|| {
        bad(
            Code::MissingTimeZone,
            "a dateTime without an offset needs `timeZone` (or a time_zone setting for the user)",
        )
    })?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(dt) => Ok(dt.fixed_offset()),
        LocalResult::Ambiguous(first, _) => Ok(first.fixed_offset()),
        LocalResult::None => Err(bad(
            Code::NonexistentLocalTime,
            format!("{value} does not exist in {zone} (the clocks skip it)"),
        )),
    }
}

fn parse_date(value: &str) -> Result<NaiveDate, Problem> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        bad(
            Code::InvalidEvent,
            format!("`{}` is not a YYYY-MM-DD date", clip(value)),
        )
    })
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// One end of an event as clients send it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeInput {
    pub date: Option<String>,
    #[serde(rename = "dateTime")]
    pub date_time: Option<String>,
    #[serde(rename = "timeZone")]
    pub time_zone: Option<String>,
}

/// One end, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    AllDay(NaiveDate),
    At {
        instant: DateTime<FixedOffset>,
        zone: Option<String>,
    },
}

impl When {
    /// Whether resolving this end needs the user's time zone (a local time, no zone).
    pub fn needs_user_zone(t: &TimeInput) -> bool {
        t.time_zone.is_none()
            && t.date_time
                .as_deref()
                .is_some_and(|d| DateTime::parse_from_rfc3339(d).is_err())
    }

    pub fn resolve(t: &TimeInput, user_zone: Option<&str>) -> Result<When, Problem> {
        match (&t.date, &t.date_time) {
            (Some(d), None) => {
                if t.time_zone.is_some() {
                    parse_zone(t.time_zone.as_deref().unwrap_or_default())?;
                }
                Ok(When::AllDay(parse_date(d)?))
            }
            (None, Some(dt)) => {
                let zone_name = t.time_zone.as_deref().or(user_zone);
                let zone = zone_name.map(parse_zone).transpose()?;
                Ok(When::At {
                    instant: resolve_date_time(dt, zone)?,
                    zone: zone.map(|z| z.name().to_owned()),
                })
            }
            _ => Err(bad(
                Code::InvalidEvent,
                "start and end each need exactly one of `date` or `dateTime`",
            )),
        }
    }

    /// From Google's JSON (`{"date"}` or `{"dateTime", "timeZone"?}`).
    pub fn from_google(v: &Value) -> Option<When> {
        if let Some(d) = v.get("date").and_then(Value::as_str) {
            return NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .map(When::AllDay);
        }
        let dt = v.get("dateTime").and_then(Value::as_str)?;
        Some(When::At {
            instant: DateTime::parse_from_rfc3339(dt).ok()?,
            zone: v.get("timeZone").and_then(Value::as_str).map(str::to_owned),
        })
    }

    pub fn to_google(&self) -> Value {
        match self {
            When::AllDay(d) => json!({"date": d.format("%Y-%m-%d").to_string()}),
            When::At { instant, zone } => {
                let mut m = Map::new();
                m.insert("dateTime".into(), instant.to_rfc3339().into());
                if let Some(z) = zone {
                    m.insert("timeZone".into(), z.clone().into());
                }
                Value::Object(m)
            }
        }
    }

    fn has_zone(&self) -> bool {
        matches!(self, When::At { zone: Some(_), .. })
    }
}

/// Both ends of the same kind, end after start.
pub fn check_range(start: &When, end: &When) -> Result<(), Problem> {
    let ordered = match (start, end) {
        (When::AllDay(s), When::AllDay(e)) => e > s,
        (When::At { instant: s, .. }, When::At { instant: e, .. }) => e > s,
        _ => {
            return Err(bad(
                Code::InvalidEvent,
                "start and end must both be all-day (`date`) or both timed (`dateTime`)",
            ));
        }
    };
    if ordered {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidTimeRange,
            "end must be after start (for all-day events the end date is exclusive)",
        ))
    }
}

// ------------------------------------------------------------------ input

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Attendee {
    pub email: String,
    #[serde(default)]
    pub optional: Option<bool>,
}

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
}

impl EventInput {
    /// Parses a JSON body; an unknown field is `unknown_field`, anything else malformed
    /// is `invalid_event`.
    pub fn parse(body: &[u8]) -> Result<EventInput, Problem> {
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
            if a.len() > MAX_ATTENDEES {
                return Err(bad(
                    Code::InvalidEvent,
                    format!("at most {MAX_ATTENDEES} attendees"),
                ));
            }
            for at in a {
                let e = &at.email;
                let ok = (3..=254).contains(&e.len())
                    && e.split_once('@')
                        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
                    && !e.chars().any(|c| c.is_whitespace() || c.is_control());
                if !ok {
                    return Err(bad(Code::InvalidEvent, "attendees need a valid `email`"));
                }
            }
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
                if !matches!(o.method.as_str(), "email" | "popup")
                    || !(0..=40320).contains(&o.minutes)
                {
                    return Err(bad(
                        Code::InvalidEvent,
                        "reminder overrides need method `email` or `popup` and 0 to 40320 minutes",
                    ));
                }
            }
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
            self.attendees.as_ref().map(|a| {
                a.iter()
                    .map(|at| {
                        let mut o = json!({"email": at.email});
                        if let Some(opt) = at.optional {
                            o["optional"] = opt.into();
                        }
                        o
                    })
                    .collect()
            }),
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

fn clip_msg(msg: &str) -> String {
    msg.chars().take(200).collect()
}

/// Calendar ids go into URL paths (percent-encoded): bounded, no control characters.
pub fn check_calendar_id(id: &str) -> Result<(), Problem> {
    if id.is_empty() || id.len() > MAX_CALENDAR_ID || id.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(bad(
            Code::InvalidQuery,
            "calendar_id must be 1 to 256 characters, no `/` or control characters",
        ));
    }
    Ok(())
}

/// Event ids from paths: Google's own are base32hex, instances and imports add `_` and
/// upper case; nothing else is accepted.
pub fn check_event_id(id: &str) -> Result<(), Problem> {
    let ok = (1..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidRequest,
            "event_id must be 1 to 1024 characters of A-Z, a-z, 0-9, '_', '-', '.', '@'",
        ))
    }
}

/// The Google event id for a create with `Idempotency-Key`: the same user and key always
/// give the same id (base32hex, as Google requires), so a retry can never duplicate.
pub fn idempotent_event_id(user: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    // Length-prefixed, so no (user, key) pair can collide with another.
    let digest = Sha256::new()
        .chain_update((user.len() as u64).to_be_bytes())
        .chain_update(user.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let encoded = data_encoding::BASE32HEX_NOPAD
        .encode(&digest)
        .to_ascii_lowercase();
    format!("gcal{encoded}")
}

/// Idempotency keys: 1 to 255 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), Problem> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidRequest,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ))
    }
}

// ------------------------------------------------------------------ output

/// Our `Event` from Google's event JSON. Cancelled entries from incremental sync may carry
/// nothing but `id` and `status`: missing fields are null.
pub fn from_google(g: &Value, calendar_id: &str) -> Value {
    let s = |k: &str| g.get(k).cloned().unwrap_or(Value::Null);
    let attendees = g
        .get("attendees")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|at| {
                    json!({
                        "email": at.get("email").cloned().unwrap_or(Value::Null),
                        "response_status": at.get("responseStatus").cloned().unwrap_or(Value::Null),
                        "optional": at.get("optional").cloned().unwrap_or(Value::Bool(false)),
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    json!({
        "id": s("id"),
        "summary": s("summary"),
        "description": s("description"),
        "location": s("location"),
        "start": s("start"),
        "end": s("end"),
        "status": s("status"),
        "html_link": s("htmlLink"),
        "created": s("created"),
        "updated": s("updated"),
        "attendees": attendees,
        "recurrence": g.get("recurrence").cloned().unwrap_or_else(|| json!([])),
        "recurring_event_id": s("recurringEventId"),
        "calendar_id": calendar_id,
    })
}

/// The `data` of a CloudEvent about an event: ids and times, never a token.
pub fn notification_data(event: &Value) -> Value {
    json!({
        "event_id": event["id"],
        "calendar_id": event["calendar_id"],
        "summary": event["summary"],
        "start": event["start"],
        "end": event["end"],
    })
}

// ------------------------------------------------------------------ list query

/// `GET /events/{user_id}` parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub calendar_id: String,
    /// Google's query parameters, ready to encode.
    pub google: Vec<(&'static str, String)>,
    pub time_zone: Option<String>,
}

impl ListQuery {
    pub fn parse(query: &str) -> Result<ListQuery, Problem> {
        let invalid = |d: String| bad(Code::InvalidQuery, d);
        let mut seen = std::collections::HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen
                .insert(k.clone().into_owned(), v.into_owned())
                .is_some()
            {
                return Err(invalid(format!("`{}` is given more than once", clip(&k))));
            }
        }
        const KNOWN: [&str; 12] = [
            "calendar_id",
            "time_min",
            "time_max",
            "q",
            "max_results",
            "page_token",
            "single_events",
            "order_by",
            "time_zone",
            "show_deleted",
            "sync_token",
            "updated_min",
        ];
        if let Some(k) = seen.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(invalid(format!("unknown parameter `{}`", clip(k))));
        }
        let get = |k: &str| seen.get(k).map(String::as_str);
        let boolean = |k: &str, default: bool| -> Result<bool, Problem> {
            match get(k) {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => Err(invalid(format!("`{k}` must be true or false"))),
            }
        };
        let calendar_id = get("calendar_id").unwrap_or(DEFAULT_CALENDAR).to_owned();
        check_calendar_id(&calendar_id)?;
        let zone = get("time_zone").map(parse_zone).transpose()?;
        let bound = |k: &str| -> Result<Option<DateTime<FixedOffset>>, Problem> {
            let Some(v) = get(k) else { return Ok(None) };
            if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
                return Ok(Some(dt));
            }
            let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| invalid(format!("`{k}` must be RFC 3339 or YYYY-MM-DD")))?;
            let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            // A date is midnight in `time_zone`, else UTC.
            let resolved = match zone {
                Some(z) => z
                    .from_local_datetime(&midnight)
                    .earliest()
                    .map(|t| t.fixed_offset()),
                None => Some(chrono::Utc.from_utc_datetime(&midnight).fixed_offset()),
            };
            resolved
                .map(Some)
                .ok_or_else(|| invalid(format!("`{k}` does not exist in the time zone")))
        };
        let time_min = bound("time_min")?;
        let time_max = bound("time_max")?;
        if let (Some(a), Some(b)) = (time_min, time_max)
            && a >= b
        {
            return Err(bad(
                Code::InvalidTimeRange,
                "time_min must be before time_max",
            ));
        }
        let single_events = boolean("single_events", true)?;
        let show_deleted = boolean("show_deleted", false)?;
        let max_results = match get("max_results") {
            None => 250,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=2500).contains(n))
                .ok_or_else(|| invalid("max_results must be 1 to 2500".into()))?,
        };
        let order_by = get("order_by");
        match order_by {
            None | Some("updated") => {}
            Some("startTime") if single_events => {}
            Some("startTime") => {
                return Err(invalid(
                    "order_by=startTime needs single_events=true".into(),
                ));
            }
            Some(_) => return Err(invalid("order_by must be startTime or updated".into())),
        }
        let q = get("q");
        if q.is_some_and(|q| q.chars().count() > 256) {
            return Err(invalid("q is limited to 256 characters".into()));
        }
        for k in ["page_token", "sync_token"] {
            if get(k)
                .is_some_and(|t| t.is_empty() || t.len() > 2048 || t.chars().any(char::is_control))
            {
                return Err(invalid(format!("`{k}` is malformed")));
            }
        }
        let sync_token = get("sync_token");
        if sync_token.is_some() {
            let filters = ["time_min", "time_max", "q", "order_by", "updated_min"];
            if let Some(f) = filters.iter().find(|f| get(f).is_some()) {
                return Err(invalid(format!(
                    "sync_token cannot be combined with `{f}`; do a full sync instead"
                )));
            }
        }
        let updated_min = get("updated_min")
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map_err(|_| invalid("updated_min must be RFC 3339".into()))
            })
            .transpose()?;

        let mut google: Vec<(&'static str, String)> = vec![
            ("maxResults", max_results.to_string()),
            ("singleEvents", single_events.to_string()),
        ];
        if show_deleted {
            google.push(("showDeleted", "true".into()));
        }
        if let Some(t) = time_min {
            google.push(("timeMin", t.to_rfc3339()));
        }
        if let Some(t) = time_max {
            google.push(("timeMax", t.to_rfc3339()));
        }
        if let Some(t) = updated_min {
            google.push(("updatedMin", t.to_rfc3339()));
        }
        if let Some(q) = q {
            google.push(("q", q.to_owned()));
        }
        if let Some(o) = order_by {
            google.push(("orderBy", o.to_owned()));
        }
        if let Some(p) = get("page_token") {
            google.push(("pageToken", p.to_owned()));
        }
        if let Some(s) = sync_token {
            google.push(("syncToken", s.to_owned()));
        }
        if let Some(z) = zone {
            google.push(("timeZone", z.name().to_owned()));
        }
        Ok(ListQuery {
            calendar_id,
            google,
            time_zone: zone.map(|z| z.name().to_owned()),
        })
    }
}

#[cfg(test)]
mod tests;
