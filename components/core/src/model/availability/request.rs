//! The body of `POST /availability`, parsed with serde and validated against every limit of
//! SPEC section 8.

use super::UserId;
use super::error::{AvailabilityError, clip};
use super::hours::resolve_local;
use super::intervals::Interval;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::HashSet;

const MAX_PARTICIPANTS: usize = 20;
const MAX_CALENDARS: usize = 50;
const DURATION: std::ops::RangeInclusive<i64> = 5..=1440;
const INTERVAL: std::ops::RangeInclusive<i64> = 5..=1440;
const BUFFER: std::ops::RangeInclusive<i64> = 0..=240;
const MAX_SLOTS: std::ops::RangeInclusive<i64> = 1..=1000;
const DEFAULT_INTERVAL: i64 = 15;
const DEFAULT_MAX_SLOTS: i64 = 100;
const MAX_WINDOW_DAYS: i64 = 31;
const DEFAULT_CALENDAR: &str = "primary";

/// Working hours: the same wall-clock hours on the listed days, in `time_zone` when given,
/// else in each participant's own zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    pub start: NaiveTime,
    /// After `start` on the same day.
    pub end: NaiveTime,
    /// At least one day; may repeat.
    pub days: Vec<Weekday>,
    pub time_zone: Option<Tz>,
}

/// Everything [`compute_slots`](super::compute_slots) needs besides the busy intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotQuery {
    /// `[time_min, time_max)`; slots start on the grid from `window.start`.
    pub window: Interval,
    pub duration: TimeDelta,
    /// The grid step.
    pub interval: TimeDelta,
    /// Free time needed before and after each slot.
    pub buffer: TimeDelta,
    pub working_hours: Option<WorkingHours>,
    pub max_slots: usize,
}

impl SlotQuery {
    /// The window to ask free/busy for: widened by the buffer, so a meeting just outside
    /// the window still counts.
    pub fn freebusy_window(&self) -> Interval {
        Interval {
            start: (self.window.start.checked_sub_signed(self.buffer)).unwrap_or(self.window.start),
            end: (self.window.end.checked_add_signed(self.buffer)).unwrap_or(self.window.end),
        }
    }
}

/// One participant with the calendars to ask (`["primary"]` unless given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub user_id: UserId,
    pub calendar_ids: Vec<String>,
}

/// A validated `POST /availability` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityRequest {
    /// 1 to 20, distinct.
    pub participants: Vec<Participant>,
    pub query: SlotQuery,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    participants: Vec<RawParticipant>,
    time_min: String,
    time_max: String,
    duration_minutes: i64,
    interval_minutes: Option<i64>,
    buffer_minutes: Option<i64>,
    working_hours: Option<RawWorkingHours>,
    max_slots: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParticipant {
    user_id: String,
    calendar_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkingHours {
    start: String,
    end: String,
    days: Vec<String>,
    time_zone: Option<String>,
}

impl AvailabilityRequest {
    /// Parses and validates the JSON body. Nothing here calls out.
    pub fn from_json(body: &[u8]) -> Result<Self, AvailabilityError> {
        let raw: RawRequest = serde_json::from_slice(body).map_err(|e| {
            let msg = clip(&e.to_string(), 200);
            if msg.starts_with("unknown field") {
                AvailabilityError::UnknownField(msg)
            } else {
                AvailabilityError::InvalidRequest(msg)
            }
        })?;
        let participants = participants(raw.participants)?;
        let working_hours = raw.working_hours.map(working_hours).transpose()?;
        let date_zone = working_hours.as_ref().and_then(|w| w.time_zone);
        let start = instant("time_min", &raw.time_min, date_zone)?;
        let end = instant("time_max", &raw.time_max, date_zone)?;
        let window = Interval::new(start, end).ok_or(AvailabilityError::InvalidTimeRange)?;
        if window.duration() > TimeDelta::days(MAX_WINDOW_DAYS) {
            return Err(AvailabilityError::WindowTooLong);
        }
        let minutes =
            |v: i64, range: std::ops::RangeInclusive<i64>, err: fn(i64) -> AvailabilityError| {
                if range.contains(&v) {
                    Ok(TimeDelta::minutes(v))
                } else {
                    Err(err(v))
                }
            };
        let duration = minutes(
            raw.duration_minutes,
            DURATION,
            AvailabilityError::InvalidDuration,
        )?;
        let interval = minutes(
            raw.interval_minutes.unwrap_or(DEFAULT_INTERVAL),
            INTERVAL,
            AvailabilityError::InvalidInterval,
        )?;
        let buffer = minutes(
            raw.buffer_minutes.unwrap_or(0),
            BUFFER,
            AvailabilityError::InvalidBuffer,
        )?;
        let max_slots = raw.max_slots.unwrap_or(DEFAULT_MAX_SLOTS);
        if !MAX_SLOTS.contains(&max_slots) {
            return Err(AvailabilityError::InvalidMaxSlots(max_slots));
        }
        let query = SlotQuery {
            window,
            duration,
            interval,
            buffer,
            working_hours,
            max_slots: usize::try_from(max_slots).unwrap_or(1),
        };
        Ok(AvailabilityRequest {
            participants,
            query,
        })
    }

    /// The zone a participant's working hours apply in: `working_hours.time_zone`, else the
    /// user's own zone from the REST service. Without working hours the zone does not
    /// matter: the user's zone is passed on when it is valid, never an error.
    pub fn participant_zone(
        &self,
        user_id: &UserId,
        user_zone: Option<&str>,
    ) -> Result<Option<Tz>, AvailabilityError> {
        let Some(hours) = &self.query.working_hours else {
            return Ok(user_zone.and_then(|z| parse_zone(z).ok()));
        };
        if let Some(z) = hours.time_zone {
            return Ok(Some(z));
        }
        match user_zone {
            Some(z) => parse_zone(z).map(Some),
            None => Err(AvailabilityError::MissingTimeZone {
                user_id: user_id.to_string(),
            }),
        }
    }
}

fn participants(raw: Vec<RawParticipant>) -> Result<Vec<Participant>, AvailabilityError> {
    if raw.is_empty() {
        return Err(AvailabilityError::NoParticipants);
    }
    if raw.len() > MAX_PARTICIPANTS {
        return Err(AvailabilityError::TooManyParticipants(raw.len()));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (index, p) in raw.into_iter().enumerate() {
        let user_id =
            UserId::parse(&p.user_id).map_err(|_| AvailabilityError::InvalidUserId { index })?;
        if !seen.insert(user_id.clone()) {
            return Err(AvailabilityError::DuplicateParticipant {
                user_id: user_id.to_string(),
            });
        }
        let calendar_ids = calendar_ids(&user_id, p.calendar_ids)?;
        out.push(Participant {
            user_id,
            calendar_ids,
        });
    }
    Ok(out)
}

fn calendar_ids(user: &UserId, raw: Option<Vec<String>>) -> Result<Vec<String>, AvailabilityError> {
    let Some(ids) = raw else {
        return Ok(vec![DEFAULT_CALENDAR.to_owned()]);
    };
    let bad = |reason| AvailabilityError::InvalidCalendarIds {
        user_id: user.to_string(),
        reason,
    };
    if ids.is_empty() {
        return Err(bad("calendar_ids must list at least one calendar"));
    }
    if ids.len() > MAX_CALENDARS {
        return Err(AvailabilityError::TooManyCalendars {
            user_id: user.to_string(),
            count: ids.len(),
        });
    }
    if !ids.iter().all(|id| crate::model::event::is_calendar_id(id)) {
        return Err(bad(
            "a calendar id must be 1 to 256 characters, no `/` or control characters",
        ));
    }
    let distinct: HashSet<&String> = ids.iter().collect();
    if distinct.len() != ids.len() {
        return Err(bad("calendar_ids lists a calendar more than once"));
    }
    Ok(ids)
}

fn working_hours(raw: RawWorkingHours) -> Result<WorkingHours, AvailabilityError> {
    let bad = AvailabilityError::InvalidWorkingHours;
    let start = parse_hhmm(&raw.start).ok_or(bad("start must be HH:MM (00:00 to 23:59)"))?;
    let end = parse_hhmm(&raw.end).ok_or(bad("end must be HH:MM (00:00 to 23:59)"))?;
    if end <= start {
        return Err(bad("end must be after start"));
    }
    if raw.days.is_empty() {
        return Err(bad("days must list at least one day"));
    }
    let days = raw
        .days
        .iter()
        .map(|d| parse_weekday(d).ok_or_else(|| AvailabilityError::UnknownWeekday(clip(d, 16))))
        .collect::<Result<Vec<_>, _>>()?;
    let time_zone = raw.time_zone.as_deref().map(parse_zone).transpose()?;
    Ok(WorkingHours {
        start,
        end,
        days,
        time_zone,
    })
}

/// Strict `HH:MM`, 00:00 to 23:59.
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    let digits = |i: usize, j: usize| -> Option<u32> {
        (b[i].is_ascii_digit() && b[j].is_ascii_digit())
            .then(|| u32::from(b[i] - b'0') * 10 + u32::from(b[j] - b'0'))
    };
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    NaiveTime::from_hms_opt(digits(0, 1)?, digits(3, 4)?, 0)
}

/// `mon` .. `sun`, lower case.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// An IANA zone name (`Europe/Berlin`, `UTC`).
pub fn parse_zone(name: &str) -> Result<Tz, AvailabilityError> {
    name.parse::<Tz>()
        .map_err(|_| AvailabilityError::InvalidTimeZone(clip(name, 64)))
}

/// RFC 3339 (any offset), or `YYYY-MM-DD` as midnight in `zone` (UTC without one).
fn instant(
    field: &'static str,
    value: &str,
    zone: Option<Tz>,
) -> Result<DateTime<Utc>, AvailabilityError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.to_utc());
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| AvailabilityError::InvalidTime { field })?;
    let midnight = date.and_time(NaiveTime::MIN);
    Ok(match zone {
        Some(z) => resolve_local(z, midnight),
        None => midnight.and_utc(),
    })
}
