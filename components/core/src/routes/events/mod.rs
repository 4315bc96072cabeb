//! The events routes: list, create, get, patch and delete events, and start or stop the
//! push channel of a calendar. Each create, update and delete is announced as a
//! CloudEvent.

mod create;
mod meetings;

pub use create::create_event;
pub use meetings::{instances, rsvp};

use crate::delivery::{self as notify, CloudEvent, EventType};
use crate::google::GoogleError;
use crate::google::calendar::Calendar;
use crate::http::guard::UserCtx;
use crate::http::problem::{Code, Problem};
use crate::http::request::{decode_segment, require_json};
use crate::http::response;
use crate::http::router::Reply;
use crate::model::event::{self as events, EventInput, ListQuery, WriteQuery, calendar_param};
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::rest::client::RestClient;
use crate::services::{Runtime, Services};
use serde_json::{Value, json};

fn announce<O: Outbound>(
    svc: &Services<'_, O>,
    kind: EventType,
    user: &UserId,
    event: &Value,
) -> Result<(), Problem> {
    publish(
        svc,
        &CloudEvent::new(kind, user, events::notification_data(event)),
    )
}

fn publish<O: Outbound>(svc: &Services<'_, O>, event: &CloudEvent) -> Result<(), Problem> {
    let channel = svc.cfg.events_channel()?;
    Ok(notify::publish(svc.store, channel, event)?)
}

async fn user_zone<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    input: &EventInput,
) -> Result<Option<String>, Problem> {
    if !input.needs_user_zone() {
        return Ok(None);
    }
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    Ok(rest.get_user(user).await?.and_then(|u| u.time_zone))
}

/// `GET /events/{user_id}`
pub async fn list<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let (svc, user) = (cx.svc, cx.user);
    let q = ListQuery::parse(cx.cx.query())?;
    let cal = Calendar::new(svc, user)?;
    let resp = cal
        .list_raw(&q.calendar_id, &q.google)
        .await
        .map_err(|f| match f {
            GoogleError::Gone => Problem::new(Code::SyncTokenExpired, "the sync token expired: do a full sync (without sync_token) and keep its next_sync_token"),
            other => other.into(),
        })?;
    let page = events::GooglePage::read(resp.body());
    let body = page.answer(&q.calendar_id, q.time_zone.as_deref(), None);
    Ok(response::json(200, &body, cx.cx.rid))
}

/// `POST /events/{user_id}`: 201 with the new event, or 200 with the event an earlier
/// request with the same `Idempotency-Key` created.
pub async fn create<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    require_json(cx.cx.req)?;
    // A header that is not text is refused by the key check, not ignored.
    let key = cx
        .cx
        .req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let query = WriteQuery::parse_create(cx.cx.query())?;
    let (status, event) = create_event(cx.svc, cx.user, cx.cx.body(), key, &query).await?;
    Ok(response::json_bytes(status, event, cx.cx.rid))
}

/// `GET /events/{user_id}/{event_id}`
pub async fn get<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let event_id = decode_segment(cx.cx.param("event_id"))?;
    events::check_event_id(&event_id)?;
    let calendar = calendar_param(cx.cx.query())?;
    let cal = Calendar::new(cx.svc, cx.user)?;
    let resp = cal.get_raw(&calendar, &event_id).await?;
    let event = events::GoogleEvent::read(resp.body());
    Ok(response::json(
        200,
        &event.answer(&calendar, None),
        cx.cx.rid,
    ))
}

/// `PATCH /events/{user_id}/{event_id}`: validated against the stored event merged with
/// the change. A requested conference is made unless the event has one already.
pub async fn patch<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    require_json(cx.cx.req)?;
    let (svc, user) = (cx.svc, cx.user);
    let event_id = decode_segment(cx.cx.param("event_id"))?;
    events::check_event_id(&event_id)?;
    let query = WriteQuery::parse(cx.cx.query())?;
    let calendar = &query.calendar_id;
    let input = EventInput::parse(cx.cx.body())?;
    if input.calendar_id.is_some() {
        return Err(Problem::new(
            Code::InvalidEvent,
            "events cannot move between calendars; address the calendar with ?calendar_id=",
        ));
    }
    let zone = user_zone(svc, user, &input).await?;
    let cal = Calendar::new(svc, user)?;
    let existing = live_event(&cal, calendar, &event_id).await?;
    let mut change = input.for_patch(&existing, zone.as_deref())?;
    if input.conference.is_some() && !events::has_live_conference(&existing) {
        // One id per version of the event: a retried patch names the same conference.
        let etag = existing["etag"].as_str().unwrap_or("");
        let seed = format!("patch\0{event_id}\0{etag}");
        let request_id = events::conference_request_id(user.as_str(), &seed);
        change["conferenceData"] = events::conference_create(&request_id);
    }
    let updated = cal
        .patch(calendar, &event_id, &change, &query.google_write(), None)
        .await?;
    let event = events::from_google(&updated, calendar);
    announce(svc, EventType::EventUpdated, user, &event)?;
    Ok(response::json(200, &event, cx.cx.rid))
}

/// `DELETE /events/{user_id}/{event_id}`: 204; deleting a deleted event is 204 again
/// (without a second notification).
pub async fn delete<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let event_id = decode_segment(cx.cx.param("event_id"))?;
    events::check_event_id(&event_id)?;
    let query = WriteQuery::parse(cx.cx.query())?;
    let calendar = query.calendar_id.clone();
    let cal = Calendar::new(cx.svc, cx.user)?;
    match cal
        .delete(&calendar, &event_id, &query.google_delete())
        .await
    {
        Ok(()) => announce(
            cx.svc,
            EventType::EventDeleted,
            cx.user,
            &json!({"id": event_id, "calendar_id": calendar, "summary": null, "start": null, "end": null}),
        )?,
        Err(GoogleError::Gone) => {}
        Err(f) => return Err(f.into()),
    }
    Ok(response::no_content(cx.cx.rid))
}

/// The event as Google has it; a deleted one is 404 `event_not_found`.
async fn live_event<O: Outbound>(
    cal: &Calendar<'_, '_, O>,
    calendar: &str,
    event_id: &str,
) -> Result<Value, Problem> {
    let existing = cal.get(calendar, event_id).await?;
    if existing["status"] == "cancelled" {
        return Err(Problem::new(Code::EventNotFound, "the event was deleted"));
    }
    Ok(existing)
}

/// `POST /events/{user_id}/watch`: 201 with a new channel, or 200 with the live one.
pub async fn watch<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let calendar = calendar_param(cx.cx.query())?;
    let (status, channel) = notify::start(cx.svc, cx.user, &calendar).await?;
    Ok(response::json(status, &channel, cx.cx.rid))
}

/// `DELETE /events/{user_id}/watch`: stops the channel at Google and forgets it.
pub async fn unwatch<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    notify::stop(cx.svc, cx.user, &calendar_param(cx.cx.query())?).await?;
    Ok(response::no_content(cx.cx.rid))
}
