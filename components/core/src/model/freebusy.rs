//! `GET /freebusy/{user_id}`: the query, Google's `freebusy.query` body, and our answer.

use super::event::{DEFAULT_CALENDAR, check_calendar_id, parse_zone};
use super::params::Params;
use crate::http::problem::{Code, Problem};
use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

/// Google answers at most 50 calendars per query.
pub const MAX_CALENDARS: usize = 50;
/// Google refuses longer windows (`timeRangeTooLong`).
pub const MAX_WINDOW_DAYS: i64 = 90;

/// The validated query of `GET /freebusy/{user_id}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeBusyQuery {
    pub time_min: DateTime<FixedOffset>,
    pub time_max: DateTime<FixedOffset>,
    /// 1 to 50, distinct, in the order asked.
    pub calendar_ids: Vec<String>,
    pub time_zone: Option<Tz>,
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(Code::InvalidQuery, detail)
}

impl FreeBusyQuery {
    pub fn parse(query: &str) -> Result<FreeBusyQuery, Problem> {
        let p = Params::parse(
            query,
            &["time_min", "time_max", "calendar_ids", "time_zone"],
        )?;
        let time_zone = p.get("time_zone").map(parse_zone).transpose()?;
        let (Some(time_min), Some(time_max)) = (
            p.instant("time_min", time_zone)?,
            p.instant("time_max", time_zone)?,
        ) else {
            return Err(invalid("time_min and time_max are required"));
        };
        if time_min >= time_max {
            return Err(Problem::new(
                Code::InvalidTimeRange,
                "time_min must be before time_max",
            ));
        }
        if time_max - time_min > TimeDelta::days(MAX_WINDOW_DAYS) {
            return Err(Problem::new(
                Code::WindowTooLong,
                "the window from time_min to time_max is limited to 90 days",
            ));
        }
        Ok(FreeBusyQuery {
            time_min,
            time_max,
            calendar_ids: calendar_ids(p.get("calendar_ids"))?,
            time_zone,
        })
    }

    /// The body of Google's `freebusy.query`.
    pub fn google_body(&self) -> Value {
        let mut body = json!({
            "timeMin": rfc3339(&self.time_min),
            "timeMax": rfc3339(&self.time_max),
            "items": self.calendar_ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        });
        if let Some(z) = self.time_zone {
            body["timeZone"] = json!(z.name());
        }
        body
    }

    /// Our answer from Google's: every calendar asked keeps its entry, `busy` or, when
    /// Google reports errors for it (or leaves it out), `errors` and no `busy` (Google sends
    /// `busy: []` beside `errors`, which would read as "free").
    pub fn answer(&self, google: &Value) -> Value {
        let mut calendars = Map::new();
        for id in &self.calendar_ids {
            let entry = &google["calendars"][id];
            let errors: Vec<Value> = entry["errors"]
                .as_array()
                .map(|errs| {
                    errs.iter()
                        .map(|e| json!({"reason": e["reason"].as_str().unwrap_or("unknown")}))
                        .collect()
                })
                .unwrap_or_default();
            let value = if entry.is_null() {
                json!({"errors": [{"reason": "notFound"}]})
            } else if !errors.is_empty() {
                json!({ "errors": errors })
            } else {
                json!({ "busy": busy(&entry["busy"]) })
            };
            calendars.insert(id.clone(), value);
        }
        json!({
            "time_min": rfc3339(&self.time_min),
            "time_max": rfc3339(&self.time_max),
            "calendars": calendars,
        })
    }
}

/// `[{"start", "end"}]` as Google gave them (RFC 3339, in the query's zone).
fn busy(google: &Value) -> Vec<Value> {
    google
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| {
                    Some(json!({"start": b["start"].as_str()?, "end": b["end"].as_str()?}))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `a,b,c`: `primary` when absent; 1 to 50 distinct valid calendar ids.
fn calendar_ids(raw: Option<&str>) -> Result<Vec<String>, Problem> {
    let Some(raw) = raw else {
        return Ok(vec![DEFAULT_CALENDAR.to_owned()]);
    };
    let ids: Vec<String> = raw.split(',').map(|s| s.trim().to_owned()).collect();
    if ids.len() > MAX_CALENDARS {
        return Err(Problem::new(
            Code::TooManyCalendars,
            format!(
                "at most {MAX_CALENDARS} calendar_ids are allowed, got {}",
                ids.len()
            ),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        check_calendar_id(id)?;
        if ids[..i].contains(id) {
            return Err(invalid("calendar_ids lists a calendar more than once"));
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: &str = "time_min=2026-03-23T00:00:00Z&time_max=2026-03-30T00:00:00Z";

    #[test]
    fn the_window_is_required_ordered_and_bounded() {
        let q = FreeBusyQuery::parse(WINDOW).unwrap();
        assert_eq!(q.calendar_ids, ["primary"]);
        for (query, code) in [
            ("time_min=2026-03-23T00:00:00Z", Code::InvalidQuery),
            ("", Code::InvalidQuery),
            (
                "time_min=2026-03-30T00:00:00Z&time_max=2026-03-23T00:00:00Z",
                Code::InvalidTimeRange,
            ),
            (
                "time_min=2026-01-01&time_max=2026-04-02",
                Code::WindowTooLong,
            ),
            ("time_min=soon&time_max=2026-04-02", Code::InvalidQuery),
            (
                &format!("{WINDOW}&time_zone=Mars/Base"),
                Code::InvalidTimeZone,
            ),
            (&format!("{WINDOW}&calendar_ids=a,,b"), Code::InvalidQuery),
            (&format!("{WINDOW}&calendar_ids=a,b,a"), Code::InvalidQuery),
            (&format!("{WINDOW}&calendar_ids=a/b"), Code::InvalidQuery),
        ] {
            assert_eq!(
                FreeBusyQuery::parse(query).unwrap_err().code,
                code,
                "{query}"
            );
        }
        // 90 days is allowed, 51 calendars are not.
        assert!(FreeBusyQuery::parse("time_min=2026-01-01&time_max=2026-04-01").is_ok());
        let many: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
        let e = FreeBusyQuery::parse(&format!("{WINDOW}&calendar_ids={}", many.join(",")));
        assert_eq!(e.unwrap_err().code, Code::TooManyCalendars);
    }

    #[test]
    fn google_gets_the_window_the_zone_and_every_calendar() {
        let q = FreeBusyQuery::parse(&format!(
            "{WINDOW}&calendar_ids=primary,team@x&time_zone=Europe/Berlin"
        ))
        .unwrap();
        assert_eq!(
            q.google_body(),
            json!({"timeMin": "2026-03-23T00:00:00Z", "timeMax": "2026-03-30T00:00:00Z",
                "items": [{"id": "primary"}, {"id": "team@x"}], "timeZone": "Europe/Berlin"})
        );
    }

    #[test]
    fn a_calendar_with_errors_keeps_its_entry_without_busy() {
        let q =
            FreeBusyQuery::parse(&format!("{WINDOW}&calendar_ids=primary,gone@x,lost@x")).unwrap();
        let google = json!({"calendars": {
            "primary": {"busy": [{"start": "2026-03-24T09:00:00Z", "end": "2026-03-24T10:00:00Z"}]},
            "gone@x": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []},
        }});
        assert_eq!(
            q.answer(&google),
            json!({"time_min": "2026-03-23T00:00:00Z", "time_max": "2026-03-30T00:00:00Z",
            "calendars": {
                "primary": {"busy": [{"start": "2026-03-24T09:00:00Z", "end": "2026-03-24T10:00:00Z"}]},
                "gone@x": {"errors": [{"reason": "notFound"}]},
                "lost@x": {"errors": [{"reason": "notFound"}]},
            }})
        );
    }
}
