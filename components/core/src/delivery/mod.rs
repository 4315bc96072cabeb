//! The updates component's work: deliver every CloudEvent to the REST service exactly
//! once per event id (pub/sub is fast, the stream is the record), dead-letter what cannot
//! be delivered, and turn `calendar.changed` into an incremental sync.

pub(crate) mod channels;
pub(crate) mod claim;
pub(crate) mod cloudevent;
pub(crate) mod dead_letter;
pub(crate) mod deliver;
pub(crate) mod drain;
mod error;
pub(crate) mod sync;
pub(crate) mod user_records;

pub use channels::*;
pub use cloudevent::*;
pub use dead_letter::*;
pub use deliver::*;
pub use drain::*;
pub use error::{ChannelError, DeliveryError, SyncError};
pub use sync::baseline;
pub use user_records::forget_user;

use crate::config::Config;
use crate::log::{self, Level};
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::services::{Runtime, Services};
use crate::store::Store;
use claim::{Claim, claim, claim_key, finish};
use serde_json::Value;
use sync::sync_exclusive;

/// Dropped malformed messages, counted.
pub const MALFORMED: &str = "gcal:stats:malformed";

/// What a handled message or stream entry came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Another reader has (or had) it.
    Duplicate,
    /// Not settled (a failed delivery or sync gave its claim back): leave it pending.
    InFlight,
    /// Claimed by another reader that may be working on it: leave it pending.
    Held,
    DeadLettered,
    Synced,
    /// A sync that fails the same way every time (logged, not retried).
    Dropped,
    Malformed,
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
                Err(e) => sync_failed(svc.store, event, &e),
            },
            Claim::Done => Outcome::Duplicate,
            Claim::Pending => Outcome::Held,
        };
    }
    match claim(svc.store, event) {
        Claim::Mine => deliver(svc, event).await,
        Claim::Done => Outcome::Duplicate,
        Claim::Pending => Outcome::Held,
    }
}

/// A failed sync: dropped if it fails the same way every time (the user disconnected,
/// the calendar is gone; the next change after a reconnect syncs from the stored token),
/// else its claim is released for a later reader to retry.
fn sync_failed(store: &dyn Store, event: &CloudEvent, e: &SyncError) -> Outcome {
    let (level, message, outcome) = if e.is_permanent() {
        finish(store, event);
        (Level::Error, "sync dropped", Outcome::Dropped)
    } else {
        let _ = store.del(&claim_key(&event.id));
        (Level::Warn, "sync failed; will retry", Outcome::InFlight)
    };
    log::emit(
        level,
        message,
        &[
            ("event_id", event.id.clone().into()),
            ("error", e.kind().into()),
        ],
    );
    outcome
}

/// A message of the Redis trigger: handled (delivered, or synced for `calendar.changed`),
/// then the event stream is drained, so a message lost on pub/sub or published while no
/// replica ran is still delivered, once.
pub async fn on_message<R: Runtime>(rt: &R, message: &[u8]) {
    let cfg = Config::new(rt.vars());
    log::set_level(cfg.log_level());
    let started = std::time::Instant::now();
    log_received(message);
    let redis = match cfg
        .redis_address()
        .map_err(crate::store::StoreError::Address)
        .and_then(|a| rt.connect(a))
    {
        Ok(r) => r,
        Err(e) => {
            // The entry stays in the stream; the next message drains it.
            log::emit(
                Level::Error,
                "redis unavailable; message left for a later drain",
                &[("error", e.kind().into())],
            );
            return;
        }
    };
    let svc = Services {
        cfg: &cfg,
        http: rt.http(),
        store: &redis,
    };
    if let Some(event) = parse(&redis, message) {
        let outcome = handle(&svc, &event).await;
        log::emit(
            Level::Info,
            "message handled",
            &[
                ("event_id", event.id.clone().into()),
                ("event_type", event.type_.clone().into()),
                ("outcome", format!("{outcome:?}").to_lowercase().into()),
                (
                    "duration_ms",
                    log::round(started.elapsed().as_secs_f64() * 1000.0).into(),
                ),
                (
                    "upstream",
                    serde_json::to_value(log::take_context().upstream).unwrap_or_default(),
                ),
            ],
        );
        if outcome == Outcome::Synced {
            renew_channel(&svc, &event).await;
        }
    }
    match drain(&svc, &redis).await {
        Ok(d) if d.entries > 0 => log::emit(
            Level::Info,
            "stream drained",
            &[("entries", d.entries.into()), ("more", d.more.into())],
        ),
        Ok(_) => {}
        Err(e) => log::emit(
            Level::Error,
            "stream drain failed",
            &[("error", e.kind().into())],
        ),
    }
}

fn log_received(message: &[u8]) {
    let parsed: Option<Value> = serde_json::from_slice(message).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map_or(Value::Null, Value::from)
    };
    log::emit(
        Level::Info,
        "message received",
        &[
            ("bytes", Value::from(message.len())),
            ("event_id", field("id")),
            ("event_type", field("type")),
        ],
    );
}

/// After a synced `calendar.changed`: renews its channel if it ends soon.
async fn renew_channel<O: Outbound>(svc: &Services<'_, O>, event: &CloudEvent) {
    if event.type_ == EventType::CalendarChanged.as_str()
        && let Some(channel) = event.data.get("channel_id").and_then(Value::as_str)
        && let Err(e) = channels::renew_if_due(svc, channel).await
    {
        log::emit(
            Level::Warn,
            "channel renewal failed",
            &[("error", e.kind().into())],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryStore, created_event};

    #[test]
    fn malformed_messages_are_counted_and_good_ones_parse() {
        let s = MemoryStore::default();
        let good = created_event();
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
}
