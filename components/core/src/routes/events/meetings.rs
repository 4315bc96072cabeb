//! Meetings: the connected user's answer to an invitation (RSVP) and the occurrences of
//! a recurring event.

use super::{announce, live_event};
use crate::delivery::EventType;
use crate::google::GoogleError;
use crate::google::calendar::Calendar;
use crate::http::guard::UserCtx;
use crate::http::problem::{Code, Problem};
use crate::http::request::{decode_segment, require_json};
use crate::http::response;
use crate::http::router::Reply;
use crate::model::event::{self as events, InstancesQuery, Rsvp, WriteQuery};
use crate::services::Runtime;
use serde_json::json;

/// How many times an RSVP reads and patches the event when others change it meanwhile.
const RSVP_TRIES: u32 = 2;

/// `POST /events/{user_id}/{event_id}/rsvp`: sets the user's own attendee entry
/// (`self: true`). Google replaces the whole attendee list on patch, so the list is
/// patched only if the event is still the version read (`If-Match` with its ETag); when
/// another change came between (412), the event is read again and the answer applied to
/// it once more, so nobody else's answer is lost. 409 `not_an_attendee` when the user is
/// not among the attendees, 409 `event_changed` when the event kept changing.
pub async fn rsvp<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    require_json(cx.cx.req)?;
    let (svc, user) = (cx.svc, cx.user);
    let event_id = decode_segment(cx.cx.param("event_id"))?;
    events::check_event_id(&event_id)?;
    let query = WriteQuery::parse(cx.cx.query())?;
    let calendar = &query.calendar_id;
    let answer = Rsvp::parse(cx.cx.body())?;
    let cal = Calendar::new(svc, user)?;
    let mut tries = 0;
    let updated = loop {
        tries += 1;
        let existing = live_event(&cal, calendar, &event_id).await?;
        let Some(attendees) = answer.apply(&existing) else {
            return Err(Problem::new(
                Code::NotAnAttendee,
                "the connected user is not among the event's attendees",
            ));
        };
        let change = json!({ "attendees": attendees });
        let etag = existing["etag"].as_str();
        match cal
            .patch(calendar, &event_id, &change, &query.google_write(), etag)
            .await
        {
            Ok(e) => break e,
            Err(GoogleError::Stale) if tries < RSVP_TRIES => {}
            Err(GoogleError::Stale) => {
                return Err(Problem::new(
                    Code::EventChanged,
                    "the event kept changing while the answer was being saved: send it again",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let event = events::from_google(&updated, calendar);
    announce(svc, EventType::EventUpdated, user, &event)?;
    Ok(response::json(200, &event, cx.cx.rid))
}

/// `GET /events/{user_id}/{event_id}/instances`: one page of the occurrences (Google's
/// `events.instances`), in the list's answer shape; every item names the series in
/// `recurring_event_id` (an event that does not recur lists as itself, naming itself).
pub async fn instances<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let event_id = decode_segment(cx.cx.param("event_id"))?;
    events::check_event_id(&event_id)?;
    let q = InstancesQuery::parse(cx.cx.query())?;
    let cal = Calendar::new(cx.svc, cx.user)?;
    let resp = cal.instances(&q.calendar_id, &event_id, &q.google).await?;
    let page = events::GooglePage::read(resp.body());
    let body = page.answer(&q.calendar_id, q.time_zone.as_deref(), Some(&event_id));
    Ok(response::json(200, &body, cx.cx.rid))
}
