//! Dead letters: listing and replaying them.

use crate::delivery::DeliveryError;
use crate::delivery::cloudevent::CloudEvent;
use crate::log::{self, Level};
use crate::outbound::Outbound;
use crate::rest::client::RestClient;
use crate::services::Services;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The dead-letter list and its bound.
pub const DLQ: &str = "gcal:dlq";

pub const DLQ_MAX_LEN: u64 = 10_000;

/// A dead-letter entry: the event and why it could not be delivered, in words
/// (`error`) and by kind (`error_kind`, a stable snake_case name).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event: CloudEvent,
    pub error: String,
    /// `unknown` on letters stored before kinds were recorded.
    #[serde(default = "unknown_kind")]
    pub error_kind: String,
    pub failed_at: String,
}

fn unknown_kind() -> String {
    "unknown".to_owned()
}

impl DeadLetter {
    /// The letter for `event`, failed now with `error`.
    pub fn new(event: &CloudEvent, error: &DeliveryError) -> DeadLetter {
        DeadLetter {
            event: event.clone(),
            error: error.to_string(),
            error_kind: error.kind().to_owned(),
            failed_at: chrono::Utc::now().to_rfc3339(),
        }
    }
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
pub async fn replay<O: Outbound>(svc: &Services<'_, O>, max: u64) -> Result<Value, DeliveryError> {
    let rest = RestClient::configured(svc.cfg, svc.http)?;
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
                .map_err(DeliveryError::from),
            Err(_) => {
                log::emit(
                    Level::Warn,
                    "unreadable dead letter left on the list",
                    &[("bytes", raw.len().into())],
                );
                Err(DeliveryError::Unreadable)
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
                error = Some(e.to_string());
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
pub fn dead_letters(store: &dyn Store, n: u64) -> Result<Value, StoreError> {
    let (items, len) = store.lrange(DLQ, n)?;
    let entries: Vec<Value> = items
        .iter()
        .filter_map(|raw| serde_json::from_slice::<DeadLetter>(raw).ok())
        .map(|l| {
            json!({"event": l.event, "error": l.error, "error_kind": l.error_kind, "failed_at": l.failed_at})
        })
        .collect();
    Ok(json!({"length": len, "entries": entries}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{CloudEvent, EventType};
    use crate::model::user_id::UserId;
    use crate::testing::{MemoryStore, rest_vars};
    use serde_json::json;

    /// Three dead letters on `store`, oldest first; their events.
    fn three_letters(store: &dyn Store) -> Vec<CloudEvent> {
        let user = UserId::parse("u1").unwrap();
        (0..3)
            .map(|i| {
                let event = CloudEvent::new(EventType::EventCreated, &user, json!({"n": i}));
                let letter = DeadLetter::new(
                    &event,
                    &DeliveryError::Rest(crate::rest::client::RestError::ServerError(503)),
                );
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
    fn posted(http: &crate::testing::Scripted) -> Vec<String> {
        http.seen
            .borrow()
            .iter()
            .map(|r| r.headers()["idempotency-key"].to_str().unwrap().to_owned())
            .collect()
    }

    /// One replay against `store`, with the REST service answering as `http` is scripted.
    fn replay_with(
        vars: &std::collections::HashMap<String, String>,
        http: &crate::testing::Scripted,
        store: &dyn Store,
        max: u64,
    ) -> Value {
        let svc = Services {
            cfg: &crate::config::Config::new(vars),
            http,
            store,
        };
        crate::testing::block(replay(&svc, max)).unwrap()
    }

    #[test]
    fn a_refused_dead_letter_does_not_block_the_ones_behind_it() {
        let vars = rest_vars();
        let s = MemoryStore::default();
        let e = three_letters(&s);
        // The REST service refuses the oldest (a 4xx is not retried) and takes the rest.
        let http = crate::testing::Scripted::default()
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
        let http = crate::testing::Scripted::default().answer(202, "{}");
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
        let http = crate::testing::Scripted::default();
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
        let http = crate::testing::Scripted::default()
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
        let http = crate::testing::Scripted::default();
        let r = replay_with(&vars, &http, &s, 1000);
        let mut tried = posted(&http);
        tried.dedup();
        assert_eq!(tried, ids[..n]);
        assert_eq!(r["failed"], n, "{r}");
        assert_eq!(r["remaining"], 9, "{r}");
        // The tried ones went to the newest end: the next replay starts with the others.
        let rotated: Vec<&str> = ids[n..].iter().chain(&ids[..n]).copied().collect();
        assert_eq!(listed(&s), rotated);
        let http = crate::testing::Scripted::default()
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

    #[test]
    fn a_replay_that_dies_while_posting_loses_nothing() {
        let vars = rest_vars();
        let s = MemoryStore::default();
        let e = three_letters(&s);
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &crate::testing::Hangs,
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
            let s = crate::testing::Flaky::default();
            let e = three_letters(&s);
            s.list_changes_left.set(Some(changes));
            // The first and the last are refused, the middle one taken.
            let http = crate::testing::Scripted::default()
                .answer(422, "{}")
                .answer(202, "{}")
                .answer(422, "{}");
            let svc = Services {
                cfg: &crate::config::Config::new(&vars),
                http: &http,
                store: &s,
            };
            let r = crate::testing::block(replay(&svc, 1000));
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
}
