//! `POST /availability`: when are all of these people free? Each participant's free/busy
//! and user record are fetched with their own credentials, all participants at once; any
//! participant that cannot be asked makes the answer 422 `participant_unavailable`, never
//! slots from partial data.

use crate::google::calendar::Calendar;
use crate::google::scopes;
use crate::http::errors::needing;
use crate::http::guard::Ctx;
use crate::http::problem::{Code, Problem};
use crate::http::rate_limit;
use crate::http::request::require_json;
use crate::http::response;
use crate::http::router::Reply;
use crate::model::availability::{
    AvailabilityRequest, CalendarBusy, Interval, Participant, ParticipantBusy, calendar_chunks,
    compute_slots, merge_freebusy,
};
use crate::outbound::Outbound;
use crate::rest::client::RestClient;
use crate::services::{Runtime, Services};
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

/// `POST /availability` (API token): the body is checked whole before any outbound call,
/// then every participant counts against their own rate limit.
pub async fn find<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    require_json(cx.req)?;
    let req = AvailabilityRequest::from_json(cx.body())?;
    let redis = cx.connect()?;
    for p in &req.participants {
        rate_limit::check(cx.cfg, &redis, &p.user_id).map_err(|(problem, _)| problem)?;
    }
    let svc = cx.services(&redis);
    let asked = req.participants.iter().map(|p| ask(&svc, &req, p));
    let answers = futures::future::join_all(asked).await;
    let mut known = Vec::with_capacity(answers.len());
    let mut unavailable = Vec::new();
    for (p, answer) in req.participants.iter().zip(answers) {
        match answer {
            Ok(busy) => known.push(busy),
            // The request itself is wrong for this participant (no zone for the hours).
            Err(Unavailable::Refused(problem)) => return Err(problem),
            Err(Unavailable::Because(code)) => {
                unavailable.push(json!({"user_id": p.user_id.as_str(), "code": code}))
            }
        }
    }
    if !unavailable.is_empty() {
        return Err(Problem::new(
            Code::ParticipantUnavailable,
            "free/busy could not be read for every participant; no slots from partial data",
        )
        .with("participants", Value::Array(unavailable)));
    }
    let slots = compute_slots(&req.query, &known)?;
    Ok(response::json(200, &answer(&slots, &known), cx.rid))
}

/// Why one participant has no free/busy.
enum Unavailable {
    /// A stable code for `participants[].code`.
    Because(&'static str),
    /// A 400 that the whole request gets.
    Refused(Problem),
}

/// Whatever keeps a participant from being asked, by the code of its problem.
impl<E: Into<Problem>> From<E> for Unavailable {
    fn from(e: E) -> Self {
        Unavailable::Because(e.into().code.as_str())
    }
}

/// One participant's zone (REST user record) and merged busy time over the widened window,
/// both asked at once.
async fn ask<O: Outbound>(
    svc: &Services<'_, O>,
    req: &AvailabilityRequest,
    p: &Participant,
) -> Result<ParticipantBusy, Unavailable> {
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    let (user, busy) = futures::future::join(rest.get_user(&p.user_id), busy(svc, req, p)).await;
    let user = user
        .map_err(Problem::from)?
        .ok_or(Unavailable::Because(Code::UserNotFound.as_str()))?;
    let time_zone = req
        .participant_zone(&p.user_id, user.time_zone.as_deref())
        .map_err(|e| Unavailable::Refused(e.into()))?;
    Ok(ParticipantBusy {
        user_id: p.user_id.clone(),
        busy: busy?,
        time_zone,
    })
}

/// `freebusy.query` over the participant's calendars, in batches Google accepts; any
/// calendar with errors makes the participant unavailable.
async fn busy<O: Outbound>(
    svc: &Services<'_, O>,
    req: &AvailabilityRequest,
    p: &Participant,
) -> Result<Vec<Interval>, Unavailable> {
    let cal = Calendar::new(svc, &p.user_id)?;
    let window = req.query.freebusy_window();
    let mut answers = Vec::new();
    for chunk in calendar_chunks(&p.calendar_ids) {
        let body = json!({
            "timeMin": utc(&window.start),
            "timeMax": utc(&window.end),
            "items": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        });
        let google = cal
            .freebusy(&body)
            .await
            .map_err(needing(scopes::FREEBUSY))?;
        answers.extend(calendar_entries(&google));
    }
    merge_freebusy(&p.calendar_ids, answers).map_err(|_| Unavailable::Because("calendar_error"))
}

/// Google's `calendars` map, read: a busy entry that is not a valid interval counts as an
/// error of its calendar rather than as free time.
fn calendar_entries(google: &Value) -> Vec<(String, CalendarBusy)> {
    let Some(calendars) = google["calendars"].as_object() else {
        return Vec::new();
    };
    calendars
        .iter()
        .map(|(id, entry)| {
            let mut out = CalendarBusy::default();
            for e in entry["errors"].as_array().into_iter().flatten() {
                out.errors
                    .push(e["reason"].as_str().unwrap_or("unknown").to_owned());
            }
            for b in entry["busy"].as_array().into_iter().flatten() {
                match (b["start"].as_str(), b["end"].as_str()) {
                    (Some(s), Some(e)) => match Interval::parse_rfc3339(s, e) {
                        Some(iv) => out.busy.push(iv),
                        None => out.errors.push("invalidBusy".to_owned()),
                    },
                    _ => out.errors.push("invalidBusy".to_owned()),
                }
            }
            (id.clone(), out)
        })
        .collect()
}

fn utc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn intervals(list: &[Interval]) -> Value {
    list.iter()
        .map(|i| json!({"start": utc(&i.start), "end": utc(&i.end)}))
        .collect()
}

fn answer(slots: &[Interval], known: &[ParticipantBusy]) -> Value {
    let participants: Map<String, Value> = known
        .iter()
        .map(|p| {
            // `busy` is merged already (`merge_freebusy`).
            (
                p.user_id.as_str().to_owned(),
                json!({"busy": intervals(&p.busy), "time_zone": p.time_zone.map(|z| z.name())}),
            )
        })
        .collect();
    json!({"slots": intervals(slots), "participants": participants})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_entries_that_are_not_intervals_are_errors_not_free_time() {
        let google = json!({"calendars": {
            "a": {"busy": [{"start": "2026-03-24T09:00:00Z", "end": "2026-03-24T10:00:00Z"}]},
            "b": {"busy": [{"start": "later", "end": "2026-03-24T10:00:00Z"}]},
            "c": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []},
        }});
        let mut got = calendar_entries(&google);
        got.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(got[0].1.busy.len(), 1);
        assert!(got[0].1.errors.is_empty());
        assert_eq!(got[1].1.errors, ["invalidBusy"]);
        assert_eq!(got[2].1.errors, ["notFound"]);
        assert!(calendar_entries(&json!({})).is_empty());
    }
}
