//! The updates component's work: deliver every CloudEvent to the REST service exactly
//! once per event id (pub/sub is fast, the stream is the record), dead-letter what cannot
//! be delivered, and turn `calendar.changed` into an incremental sync.

use crate::config::{self, defaults};
use crate::events;
use crate::google::{Calendar, Failure, GoogleStatus};
use crate::http::Outbound;
use crate::ids::UserId;
use crate::log::{self, Level};
use crate::notify::{self, CloudEvent, EventType, STREAM};
use crate::problem::{Code, Problem};
use crate::rest::RestClient;
use crate::store::{Store, Stream};
use crate::tokens::Services;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The consumer group of every updates replica: each stream entry goes to one of them.
pub const GROUP: &str = "gcal-updates";
const CONSUMER: &str = "updates";
/// The dead-letter list and its bound.
pub const DLQ: &str = "gcal:dlq";
pub const DLQ_MAX_LEN: u64 = 10_000;
/// Dropped malformed messages, counted.
pub const MALFORMED: &str = "gcal:stats:malformed";
/// A delivery claim held this long without finishing is given up (its holder died).
const CLAIM_PENDING_MS: u64 = 60_000;
/// A stream entry read but not acknowledged for this long is taken over by the next
/// drain. Taking one over early cannot deliver it twice (the delivery claim decides);
/// it only lets entries stranded by a failure (Redis gone mid-drain, a reader that died)
/// be retried in seconds rather than minutes.
const STALE_ENTRY_MS: u64 = 10_000;
/// Delivered ids are remembered this long (duplicate deliveries are refused meanwhile).
const DELIVERED_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// Entries per drain round, and rounds per message, so one invocation stays bounded.
const BATCH: u64 = 50;
const MAX_ROUNDS: u32 = 20;
/// Pages of one sync, at most.
const MAX_SYNC_PAGES: u32 = 20;

/// What a handled message or stream entry came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Another reader has (or had) it.
    Duplicate,
    /// Still claimed by a reader that may be working on it: leave it pending.
    InFlight,
    DeadLettered,
    Synced,
    /// A sync that fails the same way every time (logged, not retried).
    Dropped,
    Malformed,
}

/// A dead-letter entry: the event and why it could not be delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event: CloudEvent,
    pub error: String,
    pub failed_at: String,
}

/// Parses a message; `None` (counted and logged) when it is not a CloudEvent of ours.
pub fn parse(store: &dyn Store, payload: &[u8]) -> Option<CloudEvent> {
    let parsed: Option<CloudEvent> =
        serde_json::from_slice(payload)
            .ok()
            .filter(|e: &CloudEvent| {
                e.specversion == "1.0"
                    && !e.id.is_empty()
                    && e.id.len() <= 128
                    && (e.type_.starts_with("calendar.event.")
                        || e.type_.starts_with("calendar.auth.")
                        || e.type_ == EventType::CalendarChanged.as_str())
                    && UserId::parse(&e.subject).is_ok()
            });
    if parsed.is_none() {
        let _ = store.incr_ex(MALFORMED, 30 * 24 * 3600);
        log::emit(
            Level::Warn,
            "malformed message dropped",
            &[("bytes", payload.len().into())],
        );
    }
    parsed
}

/// Handles one event: `calendar.changed` syncs, everything else is delivered.
pub async fn handle<O: Outbound>(svc: &Services<'_, O>, event: &CloudEvent) -> Outcome {
    if event.type_ == EventType::CalendarChanged.as_str() {
        return match claim(svc.store, event) {
            Claim::Mine => match sync_exclusive(svc, event).await {
                Ok(n) => {
                    finish(svc.store, event);
                    log::emit(
                        Level::Info,
                        "calendar synced",
                        &[("event_id", event.id.clone().into()), ("changes", n.into())],
                    );
                    Outcome::Synced
                }
                Err(p) if !retryable(&p) => {
                    // Retrying cannot help (the user disconnected, the calendar is gone):
                    // the next change after a reconnect syncs from the stored token.
                    finish(svc.store, event);
                    log::emit(
                        Level::Error,
                        "sync dropped",
                        &[
                            ("event_id", event.id.clone().into()),
                            ("code", p.code.as_str().into()),
                        ],
                    );
                    Outcome::Dropped
                }
                Err(p) => {
                    // Let a later reader retry the sync: release the claim.
                    let _ = svc.store.del(&claim_key(&event.id));
                    log::emit(
                        Level::Warn,
                        "sync failed; will retry",
                        &[
                            ("event_id", event.id.clone().into()),
                            ("code", p.code.as_str().into()),
                        ],
                    );
                    Outcome::InFlight
                }
            },
            Claim::Done => Outcome::Duplicate,
            Claim::Pending => Outcome::InFlight,
        };
    }
    match claim(svc.store, event) {
        Claim::Mine => deliver(svc, event).await,
        Claim::Done => Outcome::Duplicate,
        Claim::Pending => Outcome::InFlight,
    }
}

enum Claim {
    Mine,
    Pending,
    Done,
}

fn claim_key(id: &str) -> String {
    format!("gcal:delivered:{id}")
}

/// First reader of an id wins; a claim of a reader that died expires after a minute.
fn claim(store: &dyn Store, event: &CloudEvent) -> Claim {
    let key = claim_key(&event.id);
    match store.set_nx_px(&key, b"pending", CLAIM_PENDING_MS) {
        Ok(true) => Claim::Mine,
        Ok(false) => match store.get(&key) {
            Ok(Some(v)) if v == b"done" => Claim::Done,
            _ => Claim::Pending,
        },
        Err(_) => Claim::Pending,
    }
}

fn finish(store: &dyn Store, event: &CloudEvent) {
    let _ = store.set_ex(&claim_key(&event.id), b"done", DELIVERED_TTL_MS / 1000);
}

/// Tries to record an outcome in Redis this many times (with backoff), so that a Redis
/// restart while a delivery was on its way does not leave the claim "pending": a claim
/// that expires would let the entry be delivered a second time.
const RECORD_TRIES: u32 = 6;
const RECORD_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

async fn with_retries<O: Outbound>(
    svc: &Services<'_, O>,
    mut op: impl FnMut() -> Result<(), Problem>,
) -> Result<(), Problem> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op() {
            Ok(()) => return Ok(()),
            Err(p) if attempt >= RECORD_TRIES => return Err(p),
            Err(_) => {
                svc.http
                    .sleep(crate::http::backoff(attempt, RECORD_BACKOFF))
                    .await
            }
        }
    }
}

/// Delivers to `POST /notifications` (the REST client retries with backoff); after the
/// last try the event goes to the dead-letter list with the error.
pub async fn deliver<O: Outbound>(svc: &Services<'_, O>, event: &CloudEvent) -> Outcome {
    let result = match RestClient::from_vars(svc.vars, svc.http) {
        Ok(rest) => rest
            .post_notification(event)
            .await
            .map_err(|e| e.to_string()),
        Err(p) => Err(p.to_string()),
    };
    match result {
        Ok(()) => {
            let key = claim_key(&event.id);
            let recorded = with_retries(svc, || {
                svc.store.set_ex(&key, b"done", DELIVERED_TTL_MS / 1000)
            })
            .await;
            if recorded.is_err() {
                // The claim expires as "pending"; the REST service's Idempotency-Key
                // dedupes the redelivery that may follow.
                log::emit(
                    Level::Warn,
                    "delivery not recorded",
                    &[("event_id", event.id.clone().into())],
                );
            }
            log::emit(
                Level::Info,
                "notification delivered",
                &[
                    ("event_id", event.id.clone().into()),
                    ("event_type", event.type_.clone().into()),
                ],
            );
            Outcome::Delivered
        }
        Err(error) => {
            let letter = DeadLetter {
                event: event.clone(),
                error: error.clone(),
                failed_at: chrono::Utc::now().to_rfc3339(),
            };
            let letter = serde_json::to_vec(&letter).unwrap_or_default();
            // The dead letter first, then the claim: a claim marked done without its dead
            // letter stored would lose the event.
            let pushed =
                with_retries(svc, || svc.store.lpush_capped(DLQ, &letter, DLQ_MAX_LEN)).await;
            if pushed.is_err() {
                // Not stored: give the claim back and leave the entry to a later reader.
                let _ = svc.store.del(&claim_key(&event.id));
                log::emit(
                    Level::Error,
                    "notification failed and could not be dead-lettered; left for a retry",
                    &[
                        ("event_id", event.id.clone().into()),
                        ("error", error.into()),
                    ],
                );
                return Outcome::InFlight;
            }
            let key = claim_key(&event.id);
            let _ = with_retries(svc, || {
                svc.store.set_ex(&key, b"done", DELIVERED_TTL_MS / 1000)
            })
            .await;
            log::emit(
                Level::Error,
                "notification dead-lettered",
                &[
                    ("event_id", event.id.clone().into()),
                    ("error", error.into()),
                    ("stored", true.into()),
                ],
            );
            Outcome::DeadLettered
        }
    }
}

/// Drains the stream for the group: stale entries of dead readers first, then new ones.
/// An entry is acknowledged once handled (or found malformed or already delivered).
pub async fn drain<O: Outbound, S: Stream + ?Sized>(
    svc: &Services<'_, O>,
    stream: &S,
) -> Result<usize, Problem> {
    stream.ensure_group(STREAM, GROUP)?;
    let mut handled = 0;
    for round in 0..MAX_ROUNDS {
        let mut batch = if round == 0 {
            stream.claim_stale(STREAM, GROUP, CONSUMER, STALE_ENTRY_MS, BATCH)?
        } else {
            Vec::new()
        };
        batch.extend(stream.read_new(STREAM, GROUP, CONSUMER, BATCH)?);
        if batch.is_empty() {
            break;
        }
        for (id, payload) in batch {
            let outcome = match parse(svc.store, &payload) {
                Some(event) => handle(svc, &event).await,
                None => Outcome::Malformed,
            };
            if outcome != Outcome::InFlight {
                stream.ack(STREAM, GROUP, &id)?;
            }
            handled += 1;
        }
    }
    Ok(handled)
}

/// A replay stops after this many failed letters in a row (see [`replay`]).
pub const REPLAY_FAILURES_IN_A_ROW: u32 = 5;

/// Redelivers dead letters, oldest first, each at most once per replay: as many as the
/// list held when the replay began (at most `max`). Answers `replayed` (delivered and
/// removed), `failed` (tried, not delivered, moved to the newest end), `remaining` (the
/// list's length afterwards) and `error` (the last failure, or null).
///
/// Nothing is lost on a fault: a letter is only looked at (`LRANGE -1 -1`) while it is
/// posted, and removed (`LREM` of exactly those bytes) only after the REST service took
/// it. One it refuses is moved to the other end in one atomic step (it never leaves the
/// list) and the replay goes on with the next, so one letter cannot block the rest. If
/// the component dies, the request times out or Redis fails at any point, every letter
/// not yet delivered is still on the list; a delivered one whose removal failed stays
/// too and is delivered again by the next replay.
///
/// After [`REPLAY_FAILURES_IN_A_ROW`] failures in a row the replay stops early: the REST
/// service is down rather than refusing single letters, and trying every letter against
/// it (three tries each, or a whole timeout) would outlast the request. Those tried went
/// to the newest end, so the next replay starts with letters not yet tried.
///
/// A letter that cannot be read (not a [`DeadLetter`]) is left on the list like a
/// refused one, logged and counted in `failed`; an operator can inspect it in Redis.
///
/// Concurrency: two replays at once may both post the same oldest letter (and a replay
/// may repeat a delivery whose removal failed). That is safe only because every delivery
/// carries `Idempotency-Key` = the CloudEvent's `id` ([`RestClient::post_notification`]),
/// by which the REST service deduplicates (SPEC section 4); the second removal then finds
/// nothing to remove, and the rotation only moves the letter it posted.
pub async fn replay<O: Outbound>(svc: &Services<'_, O>, max: u64) -> Result<Value, Problem> {
    let rest = RestClient::from_vars(svc.vars, svc.http)?;
    let (_, at_start) = svc.store.lrange(DLQ, 1)?;
    let mut replayed = 0u64;
    let mut failed = 0u64;
    let mut error: Option<String> = None;
    let mut in_a_row = 0u32;
    for _ in 0..at_start.min(max) {
        if in_a_row >= REPLAY_FAILURES_IN_A_ROW {
            break;
        }
        let Some(raw) = svc.store.oldest(DLQ)? else {
            break;
        };
        let outcome = match serde_json::from_slice::<DeadLetter>(&raw) {
            Ok(letter) => rest
                .post_notification(&letter.event)
                .await
                .map_err(|e| e.to_string()),
            Err(_) => {
                log::emit(
                    Level::Warn,
                    "unreadable dead letter left on the list",
                    &[("bytes", raw.len().into())],
                );
                Err("a dead letter could not be read; it was left on the list".to_owned())
            }
        };
        match outcome {
            Ok(()) => {
                // Another replay may have removed it already (it delivered it too).
                svc.store.remove_oldest_eq(DLQ, &raw)?;
                replayed += 1;
                in_a_row = 0;
            }
            Err(e) => {
                // If it is no longer the oldest, another replay moved or removed it.
                svc.store.rotate_oldest_if_eq(DLQ, &raw)?;
                failed += 1;
                in_a_row += 1;
                error = Some(e);
            }
        }
    }
    let (_, remaining) = svc.store.lrange(DLQ, 1)?;
    Ok(json!({
        "replayed": replayed,
        "remaining": remaining,
        "failed": failed,
        "error": error,
    }))
}

/// The newest dead letters (ids, types, errors; the events themselves carry no tokens).
pub fn dead_letters(store: &dyn Store, n: u64) -> Result<Value, Problem> {
    let (items, len) = store.lrange(DLQ, n)?;
    let entries: Vec<Value> = items
        .iter()
        .filter_map(|raw| serde_json::from_slice::<DeadLetter>(raw).ok())
        .map(|l| json!({"event": l.event, "error": l.error, "failed_at": l.failed_at}))
        .collect();
    Ok(json!({"length": len, "entries": entries}))
}

// ------------------------------------------------------------------ sync

/// A sync holds its calendar's lock at most this long (a reader that died lets go).
const SYNC_LOCK_MS: u64 = 60_000;
/// How long a sync waits for another sync of the same calendar to finish.
const SYNC_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);
const SYNC_WAIT_STEPS: u32 = 100;

fn sync_lock_key(user: &UserId, calendar: &str) -> String {
    format!("gcal:lock:sync:{user}:{calendar}")
}

/// Whether a failed sync may succeed later (Google, the REST service or Redis
/// unavailable, a busy lock); the rest (no or revoked credentials, an unknown calendar,
/// a refused request) fails the same way every time.
fn retryable(p: &Problem) -> bool {
    !matches!(
        p.code,
        Code::NotAuthorized
            | Code::ReauthorizationRequired
            | Code::UserNotFound
            | Code::InvalidUserId
            | Code::InvalidRequest
            | Code::InvalidQuery
            | Code::NotFound
            | Code::EventNotFound
            | Code::InsufficientPermissions
    )
}

/// [`sync`] under the calendar's lock. Two readers syncing from the same stored token at
/// once (two pushes for one change, taken by two replicas) would announce every change
/// twice; one at a time, the second reads from the token the first stored.
async fn sync_exclusive<O: Outbound>(
    svc: &Services<'_, O>,
    changed: &CloudEvent,
) -> Result<usize, Problem> {
    let (user, calendar) = target(changed)?;
    let lock = sync_lock_key(&user, &calendar);
    let me = uuid::Uuid::new_v4().to_string();
    for _ in 0..SYNC_WAIT_STEPS {
        if svc.store.set_nx_px(&lock, me.as_bytes(), SYNC_LOCK_MS)? {
            let result = sync(svc, changed).await;
            let _ = svc.store.del_if_eq(&lock, me.as_bytes());
            return result;
        }
        svc.http.sleep(SYNC_WAIT_STEP).await;
    }
    Err(Problem::new(
        Code::UpstreamUnavailable,
        "another sync of this calendar did not finish in time",
    ))
}

/// The user and calendar a `calendar.changed` is about.
fn target(changed: &CloudEvent) -> Result<(UserId, String), Problem> {
    let user = UserId::parse(&changed.subject)?;
    let calendar = changed
        .data
        .get("calendar_id")
        .and_then(Value::as_str)
        .unwrap_or(events::DEFAULT_CALENDAR)
        .to_owned();
    events::check_calendar_id(&calendar)?;
    Ok((user, calendar))
}

#[derive(Debug, Serialize, Deserialize)]
struct SyncState {
    token: String,
    synced_at: chrono::DateTime<chrono::Utc>,
}

fn sync_key(user: &UserId, calendar: &str) -> String {
    format!("gcal:sync:{user}:{calendar}")
}

/// Sync state outlives quiet periods but not abandoned users.
const SYNC_TTL_SECS: u64 = 30 * 24 * 3600;

/// Incremental sync from the stored token; on 410 (or no token) a full listing that only
/// re-establishes the token, announcing events updated since the last sync. Each change
/// becomes a `calendar.event.updated` or `calendar.event.deleted` CloudEvent (published,
/// so it is delivered like any other).
pub async fn sync<O: Outbound>(
    svc: &Services<'_, O>,
    changed: &CloudEvent,
) -> Result<usize, Problem> {
    let (user, calendar) = target(changed)?;
    let key = sync_key(&user, &calendar);
    let state: Option<SyncState> = svc
        .store
        .get(&key)?
        .and_then(|raw| serde_json::from_slice(&raw).ok());
    let cal = Calendar::new(svc, &user)?;
    let started = chrono::Utc::now();
    let (changes, token) = match &state {
        Some(s) => match list_all(&cal, &calendar, Some(&s.token)).await {
            Ok(r) => r,
            Err(Failure::Google(GoogleStatus { status: 410, .. })) => {
                let (all, token) = list_all(&cal, &calendar, None)
                    .await
                    .map_err(Problem::from)?;
                let since = s.synced_at;
                let recent = all
                    .into_iter()
                    .filter(|e| {
                        e.get("updated")
                            .and_then(Value::as_str)
                            .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok())
                            .is_some_and(|u| u >= since)
                    })
                    .collect();
                (recent, token)
            }
            Err(f) => return Err(f.into()),
        },
        None => {
            let (_, token) = list_all(&cal, &calendar, None)
                .await
                .map_err(Problem::from)?;
            (Vec::new(), token)
        }
    };
    let channel = config::or_default(svc.vars, "events_channel", defaults::EVENTS_CHANNEL)?;
    for g in &changes {
        let event = events::from_google(g, &calendar);
        let kind = if g["status"] == "cancelled" {
            EventType::EventDeleted
        } else {
            EventType::EventUpdated
        };
        notify::publish(
            svc.store,
            &channel,
            &CloudEvent::new(kind, &user, events::notification_data(&event)),
        )?;
    }
    if let Some(token) = token {
        let state = SyncState {
            token,
            synced_at: started,
        };
        svc.store.set_ex(
            &key,
            &serde_json::to_vec(&state).unwrap_or_default(),
            SYNC_TTL_SECS,
        )?;
    }
    Ok(changes.len())
}

/// Establishes the sync token without announcing anything (when a watch starts).
pub async fn baseline<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    calendar: &str,
) -> Result<(), Problem> {
    let key = sync_key(user, calendar);
    if svc.store.get(&key)?.is_some() {
        return Ok(());
    }
    let cal = Calendar::new(svc, user)?;
    let (_, token) = list_all(&cal, calendar, None)
        .await
        .map_err(Problem::from)?;
    if let Some(token) = token {
        let state = SyncState {
            token,
            synced_at: chrono::Utc::now(),
        };
        svc.store.set_ex(
            &key,
            &serde_json::to_vec(&state).unwrap_or_default(),
            SYNC_TTL_SECS,
        )?;
    }
    Ok(())
}

/// Every page of a listing (bounded), with the final sync token.
async fn list_all<O: Outbound>(
    cal: &Calendar<'_, '_, O>,
    calendar: &str,
    sync_token: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), Failure> {
    let mut items = Vec::new();
    let mut page_token: Option<String> = None;
    for _ in 0..MAX_SYNC_PAGES {
        let mut q: Vec<(&str, String)> = vec![
            ("maxResults", "2500".into()),
            ("singleEvents", "false".into()),
        ];
        match sync_token {
            Some(t) => q.push(("syncToken", t.to_owned())),
            None => q.push(("showDeleted", "false".into())),
        }
        if let Some(p) = &page_token {
            q.push(("pageToken", p.clone()));
        }
        let page = cal.list(calendar, &q).await?;
        if let Some(a) = page["items"].as_array() {
            items.extend(a.iter().cloned());
        }
        match page.get("nextPageToken").and_then(Value::as_str) {
            Some(p) => page_token = Some(p.to_owned()),
            None => {
                let token = page
                    .get("nextSyncToken")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                return Ok((items, token));
            }
        }
    }
    Err(Failure::Problem(Problem::new(
        Code::UpstreamError,
        "the calendar has more changes than one sync reads; the next change continues",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn malformed_messages_are_counted_and_good_ones_parse() {
        let s = MemoryStore::default();
        let user = UserId::parse("u1").unwrap();
        let good = CloudEvent::new(EventType::EventCreated, &user, json!({}));
        assert_eq!(parse(&s, &good.to_json()).unwrap().id, good.id);
        let mut wrong_type = good.clone();
        wrong_type.type_ = "something.else".into();
        let mut bad_subject = good.clone();
        bad_subject.subject = "../x".into();
        for bad in [
            b"not json".to_vec(),
            b"{}".to_vec(),
            wrong_type.to_json(),
            bad_subject.to_json(),
            br#"{"specversion":"1.0"}"#.to_vec(),
        ] {
            assert!(parse(&s, &bad).is_none());
        }
        assert_eq!(s.map.borrow()[MALFORMED], b"5");
    }

    #[test]
    fn an_id_is_claimed_once() {
        let s = MemoryStore::default();
        let user = UserId::parse("u1").unwrap();
        let e = CloudEvent::new(EventType::EventCreated, &user, json!({}));
        assert!(matches!(claim(&s, &e), Claim::Mine));
        assert!(matches!(claim(&s, &e), Claim::Pending));
        finish(&s, &e);
        assert!(matches!(claim(&s, &e), Claim::Done));
    }

    #[test]
    fn a_failed_delivery_is_dead_lettered_before_its_claim_is_done() {
        let vars = vars();
        let user = UserId::parse("u1").unwrap();
        let e = CloudEvent::new(EventType::EventCreated, &user, json!({}));
        let mut vars = vars;
        vars.insert("rest_service_url".into(), "http://rest".into());
        // The REST service refuses every try, and Redis refuses the dead letter every time.
        let s = crate::store::Flaky::default();
        s.lpush.set(u32::MAX);
        let http = crate::rest::tests::Scripted::default()
            .answer(503, "")
            .answer(503, "")
            .answer(503, "");
        let svc = Services {
            vars: &vars,
            http: &http,
            store: &s,
        };
        let outcome = crate::rest::tests::block(handle(&svc, &e));
        // Not lost: the claim is given back and the stream entry stays for a retry.
        assert_eq!(outcome, Outcome::InFlight);
        assert_eq!(s.get(&claim_key(&e.id)).unwrap(), None);

        // With the dead letter stored, the claim is done.
        let s = crate::store::Flaky::default();
        s.lpush.set(2);
        let http = crate::rest::tests::Scripted::default()
            .answer(503, "")
            .answer(503, "")
            .answer(503, "");
        let svc = Services {
            vars: &vars,
            http: &http,
            store: &s,
        };
        let outcome = crate::rest::tests::block(handle(&svc, &e));
        assert_eq!(outcome, Outcome::DeadLettered);
        assert_eq!(s.lrange(DLQ, 10).unwrap().1, 1);
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
    }

    #[test]
    fn a_delivery_is_recorded_even_if_redis_fails_for_a_moment() {
        let mut vars = vars();
        vars.insert("rest_service_url".into(), "http://rest".into());
        let user = UserId::parse("u1").unwrap();
        let e = CloudEvent::new(EventType::EventCreated, &user, json!({}));
        let s = crate::store::Flaky::default();
        s.set_ex.set(3);
        let http = crate::rest::tests::Scripted::default().answer(202, "{}");
        let svc = Services {
            vars: &vars,
            http: &http,
            store: &s,
        };
        assert_eq!(
            crate::rest::tests::block(handle(&svc, &e)),
            Outcome::Delivered
        );
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
    }

    /// Three dead letters on `store`, oldest first; their events.
    fn three_letters(store: &dyn Store) -> Vec<CloudEvent> {
        let user = UserId::parse("u1").unwrap();
        (0..3)
            .map(|i| {
                let event = CloudEvent::new(EventType::EventCreated, &user, json!({"n": i}));
                let letter = DeadLetter {
                    event: event.clone(),
                    error: "the user-data service is unavailable (status 503)".into(),
                    failed_at: chrono::Utc::now().to_rfc3339(),
                };
                store
                    .lpush_capped(DLQ, &serde_json::to_vec(&letter).unwrap(), DLQ_MAX_LEN)
                    .unwrap();
                event
            })
            .collect()
    }

    /// The event ids on the dead-letter list, oldest first.
    fn listed(store: &dyn Store) -> Vec<String> {
        let (items, _) = store.lrange(DLQ, DLQ_MAX_LEN).unwrap();
        items
            .iter()
            .rev()
            .map(|raw| {
                serde_json::from_slice::<DeadLetter>(raw)
                    .map_or_else(|_| "unreadable".to_owned(), |l| l.event.id)
            })
            .collect()
    }

    /// The Idempotency-Key of every request sent.
    fn posted(http: &crate::rest::tests::Scripted) -> Vec<String> {
        http.seen
            .borrow()
            .iter()
            .map(|r| r.headers()["idempotency-key"].to_str().unwrap().to_owned())
            .collect()
    }

    fn rest_vars() -> std::collections::HashMap<String, String> {
        let mut vars = vars();
        vars.insert("rest_service_url".into(), "http://rest".into());
        vars
    }

    /// One replay against `store`, with the REST service answering as `http` is scripted.
    fn replay_with(
        vars: &std::collections::HashMap<String, String>,
        http: &crate::rest::tests::Scripted,
        store: &dyn Store,
        max: u64,
    ) -> Value {
        let svc = Services { vars, http, store };
        crate::rest::tests::block(replay(&svc, max)).unwrap()
    }

    #[test]
    fn a_refused_dead_letter_does_not_block_the_ones_behind_it() {
        let vars = rest_vars();
        let s = MemoryStore::default();
        let e = three_letters(&s);
        // The REST service refuses the oldest (a 4xx is not retried) and takes the rest.
        let http = crate::rest::tests::Scripted::default()
            .answer(422, "{}")
            .answer(202, "{}")
            .answer(202, "{}");
        let r = replay_with(&vars, &http, &s, 1000);
        assert_eq!(r["replayed"], 2, "{r}");
        assert_eq!(r["failed"], 1, "{r}");
        assert_eq!(r["remaining"], 1, "{r}");
        assert!(r["error"].as_str().unwrap().contains("422"), "{r}");
        assert_eq!(
            posted(&http),
            [e[0].id.as_str(), e[1].id.as_str(), e[2].id.as_str()]
        );
        assert_eq!(listed(&s), [e[0].id.as_str()]);

        // Once the REST service takes it, it is delivered and removed; nothing else is sent.
        let http = crate::rest::tests::Scripted::default().answer(202, "{}");
        let r = replay_with(&vars, &http, &s, 1000);
        assert_eq!(
            r,
            json!({"replayed": 1, "remaining": 0, "failed": 0, "error": null})
        );
        assert_eq!(posted(&http), [e[0].id.as_str()]);
        assert!(listed(&s).is_empty());
    }

    #[test]
    fn a_replay_tries_each_letter_once_and_keeps_every_refused_one_in_order() {
        let vars = rest_vars();
        let s = MemoryStore::default();
        let e = three_letters(&s);
        s.lpush_capped(DLQ, b"not a dead letter", DLQ_MAX_LEN)
            .unwrap();
        // Every try refused (the REST client tries a 5xx three times).
        let http = crate::rest::tests::Scripted::default();
        let r = replay_with(&vars, &http, &s, 1000);
        let mut tried = posted(&http);
        tried.dedup();
        assert_eq!(
            tried,
            [e[0].id.as_str(), e[1].id.as_str(), e[2].id.as_str()]
        );
        assert_eq!(r["replayed"], 0, "{r}");
        assert_eq!(r["failed"], 4, "{r}");
        assert_eq!(r["remaining"], 4, "{r}");
        // Rotated once round: the same letters in the same order, the unreadable one kept.
        assert_eq!(
            listed(&s),
            [
                e[0].id.as_str(),
                e[1].id.as_str(),
                e[2].id.as_str(),
                "unreadable"
            ]
        );

        // `max` bounds a replay.
        let http = crate::rest::tests::Scripted::default()
            .answer(202, "{}")
            .answer(202, "{}");
        let r = replay_with(&vars, &http, &s, 2);
        assert_eq!(r["replayed"], 2, "{r}");
        assert_eq!(r["remaining"], 2, "{r}");
        assert_eq!(listed(&s), [e[2].id.as_str(), "unreadable"]);
    }

    #[test]
    fn a_replay_stops_early_when_the_rest_service_is_down_and_the_next_goes_on() {
        let vars = rest_vars();
        let s = MemoryStore::default();
        let mut e = three_letters(&s);
        e.extend(three_letters(&s));
        e.extend(three_letters(&s));
        let ids: Vec<&str> = e.iter().map(|e| e.id.as_str()).collect();
        let n = REPLAY_FAILURES_IN_A_ROW as usize;
        // Down: every try fails.
        let http = crate::rest::tests::Scripted::default();
        let r = replay_with(&vars, &http, &s, 1000);
        let mut tried = posted(&http);
        tried.dedup();
        assert_eq!(tried, ids[..n]);
        assert_eq!(r["failed"], n, "{r}");
        assert_eq!(r["remaining"], 9, "{r}");
        // The tried ones went to the newest end: the next replay starts with the others.
        let rotated: Vec<&str> = ids[n..].iter().chain(&ids[..n]).copied().collect();
        assert_eq!(listed(&s), rotated);
        let http = crate::rest::tests::Scripted::default()
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}")
            .answer(202, "{}");
        let r = replay_with(&vars, &http, &s, 1000);
        assert_eq!(
            r,
            json!({"replayed": 9, "remaining": 0, "failed": 0, "error": null})
        );
        assert_eq!(posted(&http), rotated);
    }

    /// An outbound call that never answers (the request times out, the instance is gone).
    struct Hangs;

    impl Outbound for Hangs {
        async fn send(
            &self,
            _: crate::http::HttpRequest,
        ) -> Result<crate::http::HttpResponse, crate::http::TransportError> {
            std::future::pending().await
        }
        async fn sleep(&self, _: std::time::Duration) {}
    }

    #[test]
    fn a_replay_that_dies_while_posting_loses_nothing() {
        let vars = rest_vars();
        let s = MemoryStore::default();
        let e = three_letters(&s);
        let svc = Services {
            vars: &vars,
            http: &Hangs,
            store: &s,
        };
        // Polled until it waits for the REST service, then dropped: the component died.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut pending = Box::pin(replay(&svc, 1000));
        assert!(pending.as_mut().poll(&mut cx).is_pending());
        drop(pending);
        assert_eq!(
            listed(&s),
            [e[0].id.as_str(), e[1].id.as_str(), e[2].id.as_str()]
        );
    }

    #[test]
    fn redis_failing_mid_replay_leaves_every_undelivered_letter_on_the_list() {
        let vars = rest_vars();
        // Redis goes away after 0, 1, 2, ... list changes of the replay.
        for changes in 0..6 {
            let s = crate::store::Flaky::default();
            let e = three_letters(&s);
            s.list_changes_left.set(Some(changes));
            // The first and the last are refused, the middle one taken.
            let http = crate::rest::tests::Scripted::default()
                .answer(422, "{}")
                .answer(202, "{}")
                .answer(422, "{}");
            let svc = Services {
                vars: &vars,
                http: &http,
                store: &s,
            };
            let r = crate::rest::tests::block(replay(&svc, 1000));
            let left = listed(&s);
            for refused in [e[0].id.as_str(), e[2].id.as_str()] {
                assert_eq!(
                    left.iter().filter(|id| *id == refused).count(),
                    1,
                    "after {changes} list changes: {left:?}, {r:?}"
                );
            }
            // The delivered one is gone at most once, and only after it was delivered.
            assert!(left.len() == 3 || left.len() == 2, "{left:?}");
            if left.len() == 2 {
                assert!(posted(&http).contains(&e[1].id), "{left:?}");
            }
        }
    }

    fn changed() -> CloudEvent {
        let user = UserId::parse("u1").unwrap();
        CloudEvent::new(
            EventType::CalendarChanged,
            &user,
            json!({"calendar_id": "primary", "channel_id": "c1"}),
        )
    }

    fn vars() -> std::collections::HashMap<String, String> {
        use base64::Engine as _;
        [(
            "token_encryption_key".to_string(),
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )]
        .into()
    }

    #[test]
    fn a_sync_waits_for_another_sync_of_its_calendar_and_then_retries_later() {
        let s = MemoryStore::default();
        let http = crate::rest::tests::Scripted::default();
        let vars = vars();
        let svc = Services {
            vars: &vars,
            http: &http,
            store: &s,
        };
        let e = changed();
        let lock = sync_lock_key(&UserId::parse("u1").unwrap(), "primary");
        s.set_ex(&lock, b"someone else", 60).unwrap();
        let outcome = crate::rest::tests::block(handle(&svc, &e));
        assert_eq!(outcome, Outcome::InFlight);
        // It waited its whole budget and never listed alongside the lock holder.
        assert_eq!(http.slept.borrow().len(), SYNC_WAIT_STEPS as usize);
        assert!(http.seen.borrow().is_empty());
        // The claim is released for a later reader; the holder keeps its lock.
        assert_eq!(s.get(&claim_key(&e.id)).unwrap(), None);
        assert_eq!(s.get(&lock).unwrap().as_deref(), Some(&b"someone else"[..]));
    }

    #[test]
    fn a_sync_that_cannot_succeed_is_dropped_and_its_lock_released() {
        let s = MemoryStore::default();
        // The REST service has no credentials for the user (disconnected).
        let http = crate::rest::tests::Scripted::default().answer(404, r#"{"error":"not_found"}"#);
        let vars = vars();
        let svc = Services {
            vars: &vars,
            http: &http,
            store: &s,
        };
        let e = changed();
        assert_eq!(
            crate::rest::tests::block(handle(&svc, &e)),
            Outcome::Dropped
        );
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
        let lock = sync_lock_key(&UserId::parse("u1").unwrap(), "primary");
        assert_eq!(s.get(&lock).unwrap(), None);
        assert!(s.published.borrow().is_empty());
    }

    #[test]
    fn only_failures_that_can_pass_are_retried() {
        for code in [
            Code::RedisUnavailable,
            Code::RestUnavailable,
            Code::UpstreamUnavailable,
            Code::UpstreamRateLimited,
            Code::UpstreamError,
            Code::ConfigMissing,
        ] {
            assert!(retryable(&Problem::new(code, "x")), "{code:?}");
        }
        for code in [
            Code::NotAuthorized,
            Code::ReauthorizationRequired,
            Code::EventNotFound,
            Code::InsufficientPermissions,
        ] {
            assert!(!retryable(&Problem::new(code, "x")), "{code:?}");
        }
    }
}
