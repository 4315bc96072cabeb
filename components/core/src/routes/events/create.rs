//! `POST /events/{user_id}`: idempotent creates, announced exactly once per key.

use super::{publish, user_zone};
use crate::delivery::{CloudEvent, EventType};
use crate::google::GoogleError;
use crate::google::calendar::Calendar;
use crate::http::problem::{Code, Problem};
use crate::model::event::{self as events, DEFAULT_CALENDAR, EventInput, WriteQuery};
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::services::Services;
use serde_json::Value;

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// How long a create's announcement claim stays "pending" when its holder never finishes
/// (Redis went away between the publish and the claim's "done").
const ANNOUNCE_PENDING_MS: u64 = 5_000;

/// How long a create waits for another request's pending announcement of the same event.
const ANNOUNCE_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

const ANNOUNCE_WAIT_STEPS: u32 = 20;

/// The `calendar.event.created` of one event, with an id derived from user, calendar and
/// event id: announcing it again (a retry after Redis failed mid-way) repeats the same
/// CloudEvent, which the updates component delivers once.
fn created_event(user: &UserId, calendar: &str, event: &events::Event<'_>) -> CloudEvent {
    use sha2::{Digest, Sha256};
    let data = serde_json::to_value(event.notification()).unwrap_or(Value::Null);
    let mut ce = CloudEvent::new(EventType::EventCreated, user, data);
    let digest = Sha256::new()
        .chain_update(b"calendar.event.created\0")
        .chain_update((user.as_str().len() as u64).to_be_bytes())
        .chain_update(user.as_str().as_bytes())
        .chain_update((calendar.len() as u64).to_be_bytes())
        .chain_update(calendar.as_bytes())
        .chain_update(event.id().as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ce.id = uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string();
    ce
}

/// Announces a created event exactly once per `Idempotency-Key`: the request that claims
/// `claim` publishes, then marks it done. A claim left "pending" (its holder failed
/// between publishing and finishing, or is still at it) is waited for; if it expires, the
/// next request publishes the same CloudEvent again. If it is still pending after the
/// wait, the request fails with a retryable problem rather than answer without the
/// announcement being sure.
async fn announce_once<O: Outbound>(
    svc: &Services<'_, O>,
    claim: &str,
    event: &CloudEvent,
) -> Result<(), Problem> {
    for step in 0..=ANNOUNCE_WAIT_STEPS {
        if svc
            .store
            .set_nx_px(claim, b"pending", ANNOUNCE_PENDING_MS)?
        {
            if let Err(p) = publish(svc, event) {
                // Let a retry announce it; if Redis is gone the claim expires by itself.
                let _ = svc.store.del(claim);
                return Err(p);
            }
            return Ok(svc.store.set_ex(claim, b"done", IDEMPOTENCY_TTL_SECS)?);
        }
        match svc.store.get(claim)? {
            Some(v) if v == b"pending" => {}
            // Done (or the claim just expired: take it on the next step).
            Some(_) => return Ok(()),
            None => continue,
        }
        if step < ANNOUNCE_WAIT_STEPS {
            svc.http.sleep(ANNOUNCE_WAIT_STEP).await;
        }
    }
    let mut p = Problem::new(
        Code::RedisUnavailable,
        "the event exists, but its announcement is not confirmed yet: retry with the same Idempotency-Key",
    );
    p.retry_after = Some(1);
    Err(p)
}

/// `POST /events/{user_id}`: 201 with the new event, or 200 with the event an earlier
/// request with the same `Idempotency-Key` created. Every create carries an id of ours,
/// so Google's retries cannot duplicate it either; a requested conference's `requestId`
/// is derived the same way, so a retried create never makes a second meeting.
pub async fn create_event<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    body: &[u8],
    idempotency_key: Option<&str>,
    query: &WriteQuery,
) -> Result<(u16, Vec<u8>), Problem> {
    let input = EventInput::parse(body)?;
    let zone = user_zone(svc, user, &input).await?;
    let mut google_body = input.for_create(zone.as_deref())?;
    let calendar = input
        .calendar_id
        .clone()
        .unwrap_or_else(|| DEFAULT_CALENDAR.to_owned());
    let seed = match idempotency_key {
        Some(key) => {
            events::check_idempotency_key(key)?;
            key.to_owned()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    if input.conference.is_some() {
        let request_id = events::conference_request_id(user.as_str(), &seed);
        google_body["conferenceData"] = events::conference_create(&request_id);
    }
    let claim = match idempotency_key {
        Some(key) => {
            remember_key(svc, user, key, &calendar, &google_body)?;
            Some(format!("gcal:idem:{user}:{key}:notified"))
        }
        None => None,
    };
    let id = events::idempotent_event_id(user.as_str(), &seed);
    google_body["id"] = Value::from(id.clone());
    let cal = Calendar::new(svc, user)?;
    let (created, resp) = match cal
        .insert_raw(&calendar, &google_body, &query.google_write())
        .await
    {
        Ok(r) => (true, r),
        Err(GoogleError::Conflict { .. }) => (false, cal.get_raw(&calendar, &id).await?),
        Err(f) => return Err(f.into()),
    };
    // Google's bytes read typed, once (no JSON tree of its answer).
    let google = events::GoogleEvent::read(resp.body());
    let event = google.answer(&calendar, None);
    // Exactly one notification per event: with a key, the request holding the Redis claim
    // announces it (a retry after a failure announces the same CloudEvent again); without
    // one, the id is this request's own.
    let announcement = created_event(user, &calendar, &event);
    match &claim {
        Some(k) => announce_once(svc, k, &announcement).await?,
        None => publish(svc, &announcement)?,
    }
    let status = if created || claim.is_none() { 201 } else { 200 };
    Ok((status, serde_json::to_vec(&event).unwrap_or_default()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::cipher::CacheCipher;
    use crate::credentials::provider as tokens;
    use crate::model::event as events;
    use crate::secret::AccessToken;
    use crate::testing::Flaky;
    use crate::testing::{Scripted, block};
    use base64::Engine as _;
    use serde_json::json;
    use std::collections::HashMap;

    fn vars() -> HashMap<String, String> {
        [
            (
                "token_encryption_key".to_string(),
                base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            ),
            ("google_api_origin".to_string(), "http://google".to_string()),
        ]
        .into()
    }

    const BODY: &str = r#"{"summary":"Standup","start":{"dateTime":"2026-07-10T09:00:00+02:00"},"end":{"dateTime":"2026-07-10T09:15:00+02:00"}}"#;

    fn google_event(id: &str) -> String {
        json!({
            "id": id, "summary": "Standup", "status": "confirmed",
            "start": {"dateTime": "2026-07-10T09:00:00+02:00"},
            "end": {"dateTime": "2026-07-10T09:15:00+02:00"},
        })
        .to_string()
    }

    /// Creates with key `k1` against Google answers `answers`; returns the outcome.
    fn create_with(store: &Flaky, answers: &[(u16, String)]) -> Result<(u16, Value), Problem> {
        let vars = vars();
        let user = UserId::parse("u1").unwrap();
        let mut http = Scripted::default();
        for (status, body) in answers {
            http = http.answer(*status, body);
        }
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &http,
            store,
        };
        let query = WriteQuery::parse_create("").unwrap();
        block(create_event(
            &svc,
            &user,
            BODY.as_bytes(),
            Some("k1"),
            &query,
        ))
        .map(|(status, body)| (status, serde_json::from_slice(&body).unwrap()))
    }

    fn store() -> Flaky {
        let s = Flaky::default();
        let cipher = CacheCipher::new(
            crate::config::Config::new(&vars())
                .encryption_key()
                .unwrap(),
        );
        let expires = chrono::Utc::now() + chrono::Duration::seconds(3600);
        let user = UserId::parse("u1").unwrap();
        tokens::cache(
            &s,
            &cipher,
            &user,
            &AccessToken::new("ya29.t".into()),
            expires,
        )
        .unwrap();
        s
    }

    fn announced(s: &Flaky) -> (Vec<CloudEvent>, Vec<CloudEvent>) {
        let parse = |v: &Vec<(String, Vec<u8>)>| -> Vec<CloudEvent> {
            v.iter()
                .map(|(_, p)| serde_json::from_slice(p).unwrap())
                .collect()
        };
        (
            parse(&s.inner.stream.borrow()),
            parse(&s.inner.published.borrow()),
        )
    }

    #[test]
    fn a_create_whose_announcement_failed_fails_and_its_retry_announces_it() {
        let id = events::idempotent_event_id("u1", "k1");
        let s = store();
        // The event is created at Google, then Redis refuses the stream append.
        s.xadd.set(1);
        let first = create_with(&s, &[(200, google_event(&id))]);
        assert_eq!(first.unwrap_err().code, Code::RedisUnavailable);
        assert_eq!(announced(&s).0.len(), 0);
        // The client retries with the same key: Google says 409, the event is announced.
        let conflict =
            r#"{"error":{"code":409,"message":"The requested identifier already exists."}}"#;
        let (status, event) =
            create_with(&s, &[(409, conflict.into()), (200, google_event(&id))]).unwrap();
        assert_eq!((status, event["id"].as_str()), (200, Some(id.as_str())));
        let (stream, published) = announced(&s);
        assert_eq!((stream.len(), published.len()), (1, 1));
        assert_eq!(stream[0].type_, "calendar.event.created");
        assert_eq!(stream[0].data["event_id"], id.as_str());
        // A third time: nothing more.
        create_with(&s, &[(409, conflict.into()), (200, google_event(&id))]).unwrap();
        assert_eq!(announced(&s).0.len(), 1);
    }

    #[test]
    fn an_announcement_repeated_after_a_failure_is_the_same_cloudevent() {
        let id = events::idempotent_event_id("u1", "k1");
        let s = store();
        // The stream has it, the channel does not: the request fails.
        s.publish.set(1);
        let first = create_with(&s, &[(200, google_event(&id))]);
        assert_eq!(first.unwrap_err().code, Code::RedisUnavailable);
        let conflict = r#"{"error":{"code":409,"message":"exists"}}"#;
        create_with(&s, &[(409, conflict.into()), (200, google_event(&id))]).unwrap();
        // Announced twice, as one CloudEvent: the updates component delivers it once.
        let (stream, published) = announced(&s);
        assert_eq!((stream.len(), published.len()), (2, 1));
        assert_eq!(stream[0].id, stream[1].id);
        assert_eq!(stream[1].id, published[0].id);
    }

    #[test]
    fn a_claim_left_pending_is_not_answered_as_announced() {
        let id = events::idempotent_event_id("u1", "k1");
        let s = store();
        // Published, but marking the claim done failed (Redis went away just then).
        s.set_ex.set(1);
        let first = create_with(&s, &[(200, google_event(&id))]);
        assert_eq!(first.unwrap_err().code, Code::RedisUnavailable);
        // While the pending claim lives, a retry waits for it and then fails, retryable.
        let conflict = r#"{"error":{"code":409,"message":"exists"}}"#;
        let second = create_with(&s, &[(409, conflict.into()), (200, google_event(&id))]);
        let p = second.unwrap_err();
        assert_eq!((p.code, p.retry_after), (Code::RedisUnavailable, Some(1)));
        // Once it expires, the retry announces the same CloudEvent again.
        s.inner.map.borrow_mut().remove("gcal:idem:u1:k1:notified");
        create_with(&s, &[(409, conflict.into()), (200, google_event(&id))]).unwrap();
        let (stream, _) = announced(&s);
        assert_eq!(stream.len(), 2);
        assert_eq!(stream[0].id, stream[1].id);
    }
}
