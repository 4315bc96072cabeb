//! Query parameters of the events routes.

use super::*;
use crate::http::problem::{Code, Problem};
use crate::model::params::Params;
use chrono::DateTime;

/// `calendar_id` is the only query parameter of the single-event routes.
pub fn calendar_param(query: &str) -> Result<String, Problem> {
    let mut calendar = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "calendar_id" if calendar.is_none() => calendar = Some(v.into_owned()),
            "calendar_id" => {
                return Err(Problem::new(
                    Code::InvalidQuery,
                    "`calendar_id` is given more than once",
                ));
            }
            _ => {
                return Err(Problem::new(
                    Code::InvalidQuery,
                    "only `calendar_id` is accepted here",
                ));
            }
        }
    }
    let calendar = calendar.unwrap_or_else(|| DEFAULT_CALENDAR.to_owned());
    check_calendar_id(&calendar)?;
    Ok(calendar)
}

/// `send_updates`: whom Google emails about a write (`all`, `external_only` or `none`,
/// the default), as Google's `sendUpdates`.
fn send_updates(p: &Params) -> Result<&'static str, Problem> {
    match p.get("send_updates") {
        None | Some("none") => Ok("none"),
        Some("all") => Ok("all"),
        Some("external_only") => Ok("externalOnly"),
        Some(_) => Err(bad(
            Code::InvalidQuery,
            "send_updates must be all, external_only or none",
        )),
    }
}

/// The query of the writes: `send_updates`, and `calendar_id` for those addressing one
/// event (a create names its calendar in the body).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteQuery {
    pub calendar_id: String,
    /// Google's `sendUpdates` value, always sent (Google's default is not ours to rely on).
    pub send_updates: &'static str,
}

impl WriteQuery {
    /// `PATCH`, `DELETE` and RSVP of `/events/{user_id}/{event_id}`.
    pub fn parse(query: &str) -> Result<WriteQuery, Problem> {
        let p = Params::parse(query, &["calendar_id", "send_updates"])?;
        let calendar_id = p.get("calendar_id").unwrap_or(DEFAULT_CALENDAR).to_owned();
        check_calendar_id(&calendar_id)?;
        Ok(WriteQuery {
            calendar_id,
            send_updates: send_updates(&p)?,
        })
    }

    /// `POST /events/{user_id}`: only `send_updates`.
    pub fn parse_create(query: &str) -> Result<WriteQuery, Problem> {
        let p = Params::parse(query, &["send_updates"])?;
        Ok(WriteQuery {
            calendar_id: DEFAULT_CALENDAR.to_owned(),
            send_updates: send_updates(&p)?,
        })
    }

    /// Google's parameters of an insert or patch: every write sends
    /// `conferenceDataVersion=1`, so an existing conference is kept and a requested one made.
    pub fn google_write(&self) -> Vec<(&'static str, String)> {
        vec![
            ("conferenceDataVersion", "1".to_owned()),
            ("sendUpdates", self.send_updates.to_owned()),
        ]
    }

    /// Google's parameters of a delete.
    pub fn google_delete(&self) -> Vec<(&'static str, String)> {
        vec![("sendUpdates", self.send_updates.to_owned())]
    }
}

/// `time_zone`, `time_min` and `time_max` (dates read in that zone), `min < max`.
struct Window {
    zone: Option<chrono_tz::Tz>,
    time_min: Option<DateTime<chrono::FixedOffset>>,
    time_max: Option<DateTime<chrono::FixedOffset>>,
}

impl Window {
    fn parse(p: &Params) -> Result<Window, Problem> {
        let zone = p.get("time_zone").map(parse_zone).transpose()?;
        let time_min = p.instant("time_min", zone)?;
        let time_max = p.instant("time_max", zone)?;
        if let (Some(a), Some(b)) = (time_min, time_max)
            && a >= b
        {
            return Err(bad(
                Code::InvalidTimeRange,
                "time_min must be before time_max",
            ));
        }
        Ok(Window {
            zone,
            time_min,
            time_max,
        })
    }
}

// ------------------------------------------------------------------ instances query

/// `GET /events/{user_id}/{event_id}/instances` parameters, validated: those of the
/// list that Google's `events.instances` has.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancesQuery {
    pub calendar_id: String,
    pub google: Vec<(&'static str, String)>,
    pub time_zone: Option<String>,
}

impl InstancesQuery {
    pub fn parse(query: &str) -> Result<InstancesQuery, Problem> {
        let known = [
            "calendar_id",
            "time_min",
            "time_max",
            "max_results",
            "page_token",
            "time_zone",
            "show_deleted",
        ];
        let p = Params::parse(query, &known)?;
        let calendar_id = p.get("calendar_id").unwrap_or(DEFAULT_CALENDAR).to_owned();
        check_calendar_id(&calendar_id)?;
        let w = Window::parse(&p)?;
        let max_results = p.number("max_results", 1, 2500)?.unwrap_or(250);
        let show_deleted = p.boolean("show_deleted", false)?;
        let page_token = p.token("page_token")?;
        let mut google: Vec<(&'static str, String)> = vec![("maxResults", max_results.to_string())];
        let optional = [
            ("showDeleted", show_deleted.then(|| "true".to_owned())),
            ("timeMin", w.time_min.map(|t| t.to_rfc3339())),
            ("timeMax", w.time_max.map(|t| t.to_rfc3339())),
            ("pageToken", page_token.map(str::to_owned)),
            ("timeZone", w.zone.map(|z| z.name().to_owned())),
        ];
        google.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        Ok(InstancesQuery {
            calendar_id,
            google,
            time_zone: w.zone.map(|z| z.name().to_owned()),
        })
    }
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

/// The parameters of `GET /events/{user_id}`.
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

impl ListQuery {
    pub fn parse(query: &str) -> Result<ListQuery, Problem> {
        let invalid = |d: String| bad(Code::InvalidQuery, d);
        let p = Params::parse(query, &KNOWN)?;
        let get = |k: &str| p.get(k);
        let calendar_id = get("calendar_id").unwrap_or(DEFAULT_CALENDAR).to_owned();
        check_calendar_id(&calendar_id)?;
        let Window {
            zone,
            time_min,
            time_max,
        } = Window::parse(&p)?;
        let single_events = p.boolean("single_events", true)?;
        let show_deleted = p.boolean("show_deleted", false)?;
        let max_results = p.number("max_results", 1, 2500)?.unwrap_or(250);
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
        let page_token = p.token("page_token")?;
        let sync_token = p.token("sync_token")?;
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
        // In the order Google's documentation lists them.
        let optional = [
            ("showDeleted", show_deleted.then(|| "true".to_owned())),
            ("timeMin", time_min.map(|t| t.to_rfc3339())),
            ("timeMax", time_max.map(|t| t.to_rfc3339())),
            ("updatedMin", updated_min.map(|t| t.to_rfc3339())),
            ("q", q.map(str::to_owned)),
            ("orderBy", order_by.map(str::to_owned)),
            ("pageToken", page_token.map(str::to_owned)),
            ("syncToken", sync_token.map(str::to_owned)),
            ("timeZone", zone.map(|z| z.name().to_owned())),
        ];
        google.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        Ok(ListQuery {
            calendar_id,
            google,
            time_zone: zone.map(|z| z.name().to_owned()),
        })
    }
}
