//! The events routes' work: list, create (idempotent), get, patch, delete, each create,
//! update and delete announced as a CloudEvent.

use crate::config::{self, defaults};
use crate::events::{self, DEFAULT_CALENDAR, EventInput, ListQuery};
use crate::google::{Calendar, Failure, GoogleStatus};
use crate::http::Outbound;
use crate::ids::UserId;
use crate::notify::{self, CloudEvent, EventType};
use crate::problem::{Code, Problem};
use crate::rest::RestClient;
use crate::tokens::Services;
use serde_json::{Value, json};

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

fn announce<O: Outbound>(
    svc: &Services<'_, O>,
    kind: EventType,
    user: &UserId,
    event: &Value,
) -> Result<(), Problem> {
    let channel = config::or_default(svc.vars, "events_channel", defaults::EVENTS_CHANNEL)?;
    notify::publish(
        svc.store,
        &channel,
        &CloudEvent::new(kind, user, events::notification_data(event)),
    )
}

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
    events::check_calendar_id(&calendar)?;
    Ok(calendar)
}

/// `GET /events/{user_id}`
pub async fn list<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    query: &str,
) -> Result<Value, Problem> {
    let q = ListQuery::parse(query)?;
    let cal = Calendar::new(svc, user)?;
    let page = cal.list(&q.calendar_id, &q.google).await.map_err(|f| match f {
        Failure::Google(GoogleStatus { status: 410, .. }) => Problem::new(Code::SyncTokenExpired, "the sync token expired: do a full sync (without sync_token) and keep its next_sync_token"),
        other => other.into(),
    })?;
    let items: Vec<Value> = page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| events::from_google(e, &q.calendar_id))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "items": items,
        "next_page_token": page.get("nextPageToken").cloned().unwrap_or(Value::Null),
        "next_sync_token": page.get("nextSyncToken").cloned().unwrap_or(Value::Null),
        "time_zone": page.get("timeZone").cloned().unwrap_or_else(|| json!(q.time_zone)),
    }))
}

async fn user_zone<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    input: &EventInput,
) -> Result<Option<String>, Problem> {
    if !input.needs_user_zone() {
        return Ok(None);
    }
    let rest = RestClient::from_vars(svc.vars, svc.http)?;
    Ok(rest.get_user(user).await?.and_then(|u| u.time_zone))
}

/// `POST /events/{user_id}`: 201 with the new event, or 200 with the event an earlier
/// request with the same `Idempotency-Key` created. Every create carries an id of ours,
/// so Google's retries cannot duplicate it either.
pub async fn create<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    body: &[u8],
    idempotency_key: Option<&str>,
) -> Result<(u16, Value), Problem> {
    let input = EventInput::parse(body)?;
    let zone = user_zone(svc, user, &input).await?;
    let mut google_body = input.for_create(zone.as_deref())?;
    let calendar = input
        .calendar_id
        .clone()
        .unwrap_or_else(|| DEFAULT_CALENDAR.to_owned());
    let (id, claim) = match idempotency_key {
        Some(key) => {
            events::check_idempotency_key(key)?;
            remember_key(svc, user, key, &calendar, &google_body)?;
            (
                events::idempotent_event_id(user.as_str(), key),
                Some(format!("gcal:idem:{user}:{key}:notified")),
            )
        }
        None => (
            events::idempotent_event_id(user.as_str(), &uuid::Uuid::new_v4().to_string()),
            None,
        ),
    };
    google_body["id"] = Value::from(id.clone());
    let cal = Calendar::new(svc, user)?;
    let (created, event) = match cal.insert(&calendar, &google_body).await {
        Ok(e) => (true, e),
        Err(Failure::Google(GoogleStatus { status: 409, .. })) => {
            (false, cal.get(&calendar, &id).await.map_err(Problem::from)?)
        }
        Err(f) => return Err(f.into()),
    };
    let event = events::from_google(&event, &calendar);
    // Exactly one notification per event: the request that claims it announces it (with a
    // key, a Redis claim; without one, the id is this request's own).
    let first = match &claim {
        Some(k) => svc.store.set_nx_px(k, b"1", IDEMPOTENCY_TTL_SECS * 1000)?,
        None => true,
    };
    if first {
        announce(svc, EventType::EventCreated, user, &event)?;
    }
    Ok((
        if created || (first && claim.is_none()) {
            201
        } else {
            200
        },
        event,
    ))
}

/// The same key with a different body is a client bug: refuse it rather than return an
/// event that does not match the request.
fn remember_key<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    key: &str,
    calendar: &str,
    body: &Value,
) -> Result<(), Problem> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(calendar.as_bytes())
        .chain_update([0])
        .chain_update(body.to_string().as_bytes())
        .finalize();
    let hash = data_encoding::HEXLOWER.encode(&digest);
    let slot = format!("gcal:idem:{user}:{key}");
    if svc
        .store
        .set_nx_px(&slot, hash.as_bytes(), IDEMPOTENCY_TTL_SECS * 1000)?
    {
        return Ok(());
    }
    match svc.store.get(&slot)? {
        Some(stored) if stored != hash.as_bytes() => Err(Problem::new(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different request body",
        )),
        _ => Ok(()),
    }
}

/// `GET /events/{user_id}/{event_id}`
pub async fn get<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    event_id: &str,
    query: &str,
) -> Result<Value, Problem> {
    events::check_event_id(event_id)?;
    let calendar = calendar_param(query)?;
    let cal = Calendar::new(svc, user)?;
    let e = cal.get(&calendar, event_id).await?;
    Ok(events::from_google(&e, &calendar))
}

/// `PATCH /events/{user_id}/{event_id}`: validated against the stored event merged with
/// the change.
pub async fn patch<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    event_id: &str,
    query: &str,
    body: &[u8],
) -> Result<Value, Problem> {
    events::check_event_id(event_id)?;
    let calendar = calendar_param(query)?;
    let input = EventInput::parse(body)?;
    if input.calendar_id.is_some() {
        return Err(Problem::new(
            Code::InvalidEvent,
            "events cannot move between calendars; address the calendar with ?calendar_id=",
        ));
    }
    let zone = user_zone(svc, user, &input).await?;
    let cal = Calendar::new(svc, user)?;
    let existing = cal.get(&calendar, event_id).await?;
    if existing["status"] == "cancelled" {
        return Err(Problem::new(Code::EventNotFound, "the event was deleted"));
    }
    let change = input.for_patch(&existing, zone.as_deref())?;
    let updated = cal.patch(&calendar, event_id, &change).await?;
    let event = events::from_google(&updated, &calendar);
    announce(svc, EventType::EventUpdated, user, &event)?;
    Ok(event)
}

/// `DELETE /events/{user_id}/{event_id}`: 204; deleting a deleted event is 204 again
/// (without a second notification).
pub async fn delete<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    event_id: &str,
    query: &str,
) -> Result<(), Problem> {
    events::check_event_id(event_id)?;
    let calendar = calendar_param(query)?;
    let cal = Calendar::new(svc, user)?;
    match cal.delete(&calendar, event_id).await {
        Ok(()) => announce(
            svc,
            EventType::EventDeleted,
            user,
            &json!({"id": event_id, "calendar_id": calendar, "summary": null, "start": null, "end": null}),
        ),
        Err(Failure::Google(GoogleStatus { status: 410, .. })) => Ok(()),
        Err(f) => Err(f.into()),
    }
}
