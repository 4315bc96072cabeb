//! Recurring events: time zones, expansion of `recurrence` and `events.instances`.
//!
//! What is expanded: every `RRULE` that the `rrule` crate (RFC 5545) accepts, evaluated
//! from the event's start in its `start.timeZone` (wall-clock times stay put across DST
//! changes, as at Google); `UNTIL` in UTC (`...Z`), as a local time of the event's zone, or
//! as a date (inclusive); simple `EXDATE` and `RDATE` lines (`TZID=`, `VALUE=DATE`,
//! comma-separated values, `Z` times). `EXRULE` (deprecated by RFC 5545) is refused with
//! 400. All-day events recur in UTC, the fake calendars' zone. A series expands to at
//! most [`MAX_INSTANCES`] occurrences from the start of the requested window; endless
//! series are cut there.
//!
//! Instances are computed, never stored: an instance id (`{id}_{YYYYMMDDTHHMMSSZ}` for
//! timed events, `{id}_{YYYYMMDD}` for all-day ones) is not addressable through
//! `events.get`/`patch` (no single-instance exceptions).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};
use serde_json::{Map, Value, json};

use super::calendar::{ApiError, CALENDAR_TIME_ZONE, parse_bool, parse_bound, single};
use super::paging::PageRequest;

/// Most occurrences one series expands to in one computation.
pub const MAX_INSTANCES: u16 = 1000;
/// Default `maxResults` of `events.instances`, as Google.
pub const DEFAULT_INSTANCES_PAGE: usize = 250;

/// A real IANA zone (the tz database of `chrono-tz`).
pub fn zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// The instant of a wall-clock time in a zone. Ambiguous times (DST end) take the
/// earlier instant; skipped times (DST start) move forward by the gap.
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => tz
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc) - Duration::hours(1)),
    }
}

/// A zone-less `dateTime` read in `zone` (UTC when the zone is absent or unknown).
pub fn local_instant(local: NaiveDateTime, zone_name: Option<&str>) -> DateTime<Utc> {
    zone_name
        .and_then(zone)
        .and_then(|tz| local_to_utc(local, tz))
        .unwrap_or_else(|| local.and_utc())
}

/// RFC 3339 in a zone: `Z` for UTC, else the zone's offset at that instant.
pub fn format_in(t: DateTime<Utc>, tz: Option<Tz>) -> String {
    match tz {
        None | Some(Tz::UTC) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Some(tz) => t
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    }
}

/// Start or end of an event, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Day(NaiveDate),
    Timed(DateTime<Utc>),
}

fn parse_local(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

fn bound_of(event: &Map<String, Value>, which: &str) -> Result<Bound, ApiError> {
    let invalid = || ApiError::new(400, "invalid", format!("Invalid {which} time."));
    let value = event.get(which).ok_or_else(invalid)?;
    if let Some(date) = value.get("date").and_then(Value::as_str) {
        return NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(Bound::Day)
            .map_err(|_| invalid());
    }
    let text = value
        .get("dateTime")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Bound::Timed(t.with_timezone(&Utc)));
    }
    let local = parse_local(text).ok_or_else(invalid)?;
    let zone_name = value.get("timeZone").and_then(Value::as_str);
    Ok(Bound::Timed(local_instant(local, zone_name)))
}

/// The instant an event starts or ends (all-day dates at midnight UTC).
pub fn instant_of(event: &Map<String, Value>, which: &str) -> Option<DateTime<Utc>> {
    match bound_of(event, which).ok()? {
        Bound::Day(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        Bound::Timed(t) => Some(t),
    }
}

/// One occurrence of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether the event is all-day (then `start`/`end` are midnights UTC).
    pub all_day: bool,
    /// Removed by an `EXDATE`.
    pub excluded: bool,
}

/// An `EXDATE`/`RDATE` value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateValue {
    Instant(DateTime<Utc>),
    /// A `VALUE=DATE` value: the local date, for timed events at the series' start time.
    Day(NaiveDate),
}

fn invalid_rule(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(400, "invalid", format!("Invalid recurrence rule: {detail}"))
}

/// Parses `EXDATE;TZID=Europe/Berlin:20300108T090000,...` and the like.
fn date_values(line: &str, default_tz: Tz) -> Result<Vec<DateValue>, ApiError> {
    let (head, values) = line
        .split_once(':')
        .ok_or_else(|| invalid_rule("missing ':'"))?;
    let mut tz = default_tz;
    let mut dates_only = false;
    for param in head.split(';').skip(1) {
        let (name, value) = param.split_once('=').ok_or_else(|| invalid_rule(param))?;
        match name.to_ascii_uppercase().as_str() {
            "TZID" => tz = zone(value).ok_or_else(|| invalid_rule(value))?,
            "VALUE" => match value.to_ascii_uppercase().as_str() {
                "DATE" => dates_only = true,
                "DATE-TIME" => {}
                other => return Err(invalid_rule(other)),
            },
            other => return Err(invalid_rule(other)),
        }
    }
    values
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| {
            if dates_only || v.len() == 8 {
                return NaiveDate::parse_from_str(v, "%Y%m%d")
                    .map(DateValue::Day)
                    .map_err(|_| invalid_rule(v));
            }
            if let Some(utc) = v.strip_suffix('Z') {
                return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
                    .map(|t| DateValue::Instant(t.and_utc()))
                    .map_err(|_| invalid_rule(v));
            }
            NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S")
                .ok()
                .and_then(|t| local_to_utc(t, tz))
                .map(DateValue::Instant)
                .ok_or_else(|| invalid_rule(v))
        })
        .collect()
}

/// `UNTIL` as the `rrule` crate wants it next to a zoned start: in UTC.
fn normalise_until(rule: &str, tz: Tz, all_day: bool) -> Result<String, ApiError> {
    let parts: Result<Vec<String>, ApiError> = rule
        .split(';')
        .map(|part| {
            let Some((name, value)) = part.split_once('=') else {
                return Ok(part.to_owned());
            };
            if !name.eq_ignore_ascii_case("UNTIL") || value.ends_with(['Z', 'z']) {
                return Ok(part.to_owned());
            }
            let until = if value.len() == 8 {
                let day =
                    NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| invalid_rule(value))?;
                if all_day {
                    day.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
                } else {
                    day.and_hms_opt(23, 59, 59)
                        .and_then(|t| local_to_utc(t, tz))
                }
            } else {
                NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
                    .ok()
                    .and_then(|t| local_to_utc(t, tz))
            }
            .ok_or_else(|| invalid_rule(value))?;
            Ok(format!("{name}={}", until.format("%Y%m%dT%H%M%SZ")))
        })
        .collect();
    Ok(parts?.join(";"))
}

/// The zone a series recurs in: `start.timeZone`, else UTC.
fn series_zone(event: &Map<String, Value>) -> Result<Tz, ApiError> {
    match event
        .get("start")
        .and_then(|s| s.get("timeZone"))
        .and_then(Value::as_str)
    {
        None => Ok(Tz::UTC),
        Some(name) => zone(name).ok_or_else(|| {
            ApiError::new(
                400,
                "invalid",
                "Invalid time zone definition for start time.",
            )
        }),
    }
}

fn recurrence_lines(event: &Map<String, Value>) -> Vec<&str> {
    event
        .get("recurrence")
        .and_then(Value::as_array)
        .map(|lines| lines.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether the event has recurrence lines.
pub fn is_recurring(event: &Map<String, Value>) -> bool {
    !recurrence_lines(event).is_empty()
}

/// The occurrences of an event that may overlap `[from, ..)` (all of them from the
/// start when `from` is `None`), at most [`MAX_INSTANCES`]. A non-recurring event is its
/// own single occurrence.
pub fn expand(
    event: &Map<String, Value>,
    from: Option<DateTime<Utc>>,
) -> Result<Vec<Occurrence>, ApiError> {
    let start = bound_of(event, "start")?;
    let end = bound_of(event, "end")?;
    let (first, all_day, length) = match (start, end) {
        (Bound::Day(s), Bound::Day(e)) => {
            let s = s
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .ok_or_else(|| invalid_rule("start"))?;
            let e = e
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .ok_or_else(|| invalid_rule("end"))?;
            (s, true, e - s)
        }
        (Bound::Timed(s), Bound::Timed(e)) => (s, false, e - s),
        _ => {
            return Err(ApiError::new(
                400,
                "invalid",
                "Start and end times must either both be date or both be dateTime.",
            ));
        }
    };
    let lines = recurrence_lines(event);
    if lines.is_empty() {
        return Ok(vec![Occurrence {
            start: first,
            end: first + length,
            all_day,
            excluded: false,
        }]);
    }
    let tz = if all_day {
        Tz::UTC
    } else {
        series_zone(event)?
    };
    let rtz: rrule::Tz = tz.into();
    let dt_start = first.with_timezone(&rtz);
    let mut set = RRuleSet::new(dt_start);
    let mut excluded = Vec::new();
    for line in lines {
        let upper = line.to_ascii_uppercase();
        if let Some(rule) = upper.strip_prefix("RRULE:") {
            let rule = normalise_until(rule, tz, all_day)?;
            let parsed: RRule<Unvalidated> = rule.parse().map_err(invalid_rule)?;
            set = set.rrule(parsed.validate(dt_start).map_err(invalid_rule)?);
        } else if upper.starts_with("EXDATE") {
            excluded.extend(date_values(line, tz)?);
        } else if upper.starts_with("RDATE") {
            for value in date_values(line, tz)? {
                let at = match value {
                    DateValue::Instant(t) => t,
                    DateValue::Day(d) => d
                        .and_time(first.with_timezone(&tz).time())
                        .and_local_timezone(tz)
                        .earliest()
                        .map(|t| t.with_timezone(&Utc))
                        .ok_or_else(|| invalid_rule(d))?,
                };
                set = set.rdate(at.with_timezone(&rtz));
            }
        } else {
            return Err(invalid_rule(
                "only RRULE, EXDATE and RDATE lines are supported",
            ));
        }
    }
    if let Some(from) = from {
        set = set.after((from - length - Duration::seconds(1)).with_timezone(&rtz));
    }
    let dates = set.all(MAX_INSTANCES).dates;
    Ok(dates
        .into_iter()
        .map(|d| {
            let start = d.with_timezone(&Utc);
            let local_day = start.with_timezone(&tz).date_naive();
            let excluded = excluded.iter().any(|x| match x {
                DateValue::Instant(t) => *t == start,
                DateValue::Day(day) => *day == local_day,
            });
            Occurrence {
                start,
                end: start + length,
                all_day,
                excluded,
            }
        })
        .collect())
}

/// Checks an event's recurrence at write time, as Google refuses unusable rules.
pub fn validate(event: &Map<String, Value>) -> Result<(), ApiError> {
    if is_recurring(event) {
        expand(event, None)?;
    }
    Ok(())
}

/// Id of an instance: `{id}_{YYYYMMDDTHHMMSSZ}` or `{id}_{YYYYMMDD}`.
pub fn instance_id(event_id: &str, occurrence: &Occurrence) -> String {
    if occurrence.all_day {
        format!("{event_id}_{}", occurrence.start.format("%Y%m%d"))
    } else {
        format!("{event_id}_{}", occurrence.start.format("%Y%m%dT%H%M%SZ"))
    }
}

/// `start`/`end`/`originalStartTime` of an instance.
fn when(t: DateTime<Utc>, all_day: bool, shown: Option<Tz>, zone_name: Option<&Value>) -> Value {
    if all_day {
        return json!({"date": t.format("%Y-%m-%d").to_string()});
    }
    let mut out = json!({"dateTime": format_in(t, shown)});
    if let Some(zone_name) = zone_name {
        out["timeZone"] = zone_name.clone();
    }
    out
}

/// The instance of `parent` at `occurrence`, as `events.instances` lists it.
pub fn instance(
    parent: &Map<String, Value>,
    occurrence: &Occurrence,
    shown: Option<Tz>,
) -> Map<String, Value> {
    let parent_id = parent.get("id").and_then(Value::as_str).unwrap_or_default();
    let series_tz = series_zone(parent).ok();
    let shown = shown.or(series_tz);
    let start_zone = parent.get("start").and_then(|s| s.get("timeZone"));
    let end_zone = parent.get("end").and_then(|s| s.get("timeZone"));
    let all_day = occurrence.all_day;
    let mut item = parent.clone();
    item.remove("recurrence");
    item.insert("id".into(), json!(instance_id(parent_id, occurrence)));
    item.insert("recurringEventId".into(), json!(parent_id));
    item.insert(
        "originalStartTime".into(),
        when(occurrence.start, all_day, shown, start_zone),
    );
    item.insert(
        "start".into(),
        when(occurrence.start, all_day, shown, start_zone),
    );
    item.insert("end".into(), when(occurrence.end, all_day, shown, end_zone));
    if occurrence.excluded {
        item.insert("status".into(), json!("cancelled"));
    }
    item
}

/// `events.instances` of `parent` (the stored event). A non-recurring event lists as
/// itself; a deleted one answers 410.
pub fn instances(
    parent: &Map<String, Value>,
    params: &[(String, String)],
    calendar_summary: &str,
) -> Result<Value, ApiError> {
    if parent.get("status").and_then(Value::as_str) == Some("cancelled") {
        return Err(ApiError::new(410, "deleted", "Resource has been deleted"));
    }
    let time_min = parse_bound(params, "timeMin")?;
    let time_max = parse_bound(params, "timeMax")?;
    let original_start = parse_bound(params, "originalStart")?;
    let show_deleted = parse_bool(params, "showDeleted")?.unwrap_or(false);
    let page = PageRequest::of(params, DEFAULT_INSTANCES_PAGE, 2500)?;
    let shown = match single(params, "timeZone")? {
        None => None,
        Some(name) => Some(
            zone(&name)
                .ok_or_else(|| ApiError::new(400, "invalid", format!("Invalid value '{name}'.")))?,
        ),
    };
    if let (Some(min), Some(max)) = (time_min, time_max)
        && min >= max
    {
        return Err(ApiError::new(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    let items: Vec<Value> = if is_recurring(parent) {
        expand(parent, time_min)?
            .into_iter()
            .filter(|o| show_deleted || !o.excluded)
            .filter(|o| time_min.is_none_or(|min| o.end > min || o.start >= min))
            .filter(|o| time_max.is_none_or(|max| o.start < max))
            .filter(|o| original_start.is_none_or(|t| o.start == t))
            .map(|o| Value::Object(instance(parent, &o, shown)))
            .collect()
    } else {
        let inside = expand(parent, None)?.into_iter().all(|o| {
            time_min.is_none_or(|min| o.end > min) && time_max.is_none_or(|max| o.start < max)
        });
        if inside {
            vec![Value::Object(parent.clone())]
        } else {
            Vec::new()
        }
    };
    let (items, next) = page.slice(&items);
    let mut response = json!({
        "kind": "calendar#events",
        "etag": parent.get("etag").cloned().unwrap_or(Value::Null),
        "summary": calendar_summary,
        "description": "",
        "updated": parent.get("updated").cloned().unwrap_or(Value::Null),
        "timeZone": shown.map_or(CALENDAR_TIME_ZONE, |tz| tz.name()),
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 30}],
        "items": items,
    });
    if let Some(token) = next {
        response["nextPageToken"] = json!(token);
    }
    Ok(response)
}
