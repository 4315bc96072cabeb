//! Time: IANA zones, local times resolved in a zone, and the start/end of an event.

use super::*;
use crate::http::problem::{Code, Problem};
use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value, json};

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

    pub(crate) fn has_zone(&self) -> bool {
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
