//! `calendar.changed` turned into an incremental sync, one at a time per calendar.

use crate::delivery::SyncError;
use crate::delivery::cloudevent::{self as notify, CloudEvent, EventType};
use crate::delivery::user_records;
use crate::google::GoogleError;
use crate::google::calendar::Calendar;
use crate::model::event as events;
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::services::Services;
use listing::{End, Plan, SyncState, list_pages};
use serde_json::{Value, json};

mod listing;
#[cfg(test)]
mod paging_tests;

pub(crate) use listing::SYNC_TTL_SECS;

// ------------------------------------------------------------------ sync

/// A sync holds its calendar's lock at most this long (a reader that died lets go).
pub(crate) const SYNC_LOCK_MS: u64 = 60_000;

/// How long a sync waits for another sync of the same calendar to finish.
pub(crate) const SYNC_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

pub(crate) const SYNC_WAIT_STEPS: u32 = 100;

pub(crate) fn sync_lock_key(user: &UserId, calendar: &str) -> String {
    format!("gcal:lock:sync:{user}:{calendar}")
}

/// [`sync`] under the calendar's lock. Two readers syncing from the same stored token at
/// once (two pushes for one change, taken by two replicas) would announce every change
/// twice; one at a time, the second reads from the token the first stored.
pub(crate) async fn sync_exclusive<O: Outbound>(
    svc: &Services<'_, O>,
    changed: &CloudEvent,
) -> Result<usize, SyncError> {
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
    Err(SyncError::Busy)
}

/// The user and calendar a `calendar.changed` is about.
pub(crate) fn target(changed: &CloudEvent) -> Result<(UserId, String), SyncError> {
    let user = UserId::parse(&changed.subject).map_err(|_| SyncError::BadTarget)?;
    let calendar = changed
        .data
        .get("calendar_id")
        .and_then(Value::as_str)
        .unwrap_or(events::DEFAULT_CALENDAR)
        .to_owned();
    events::check_calendar_id(&calendar).map_err(|_| SyncError::BadTarget)?;
    Ok((user, calendar))
}

pub(crate) fn sync_key(user: &UserId, calendar: &str) -> String {
    format!("gcal:sync:{user}:{calendar}")
}

/// Incremental sync from the stored token; on 410 (or no token) a full listing that only
/// re-establishes the token, announcing events updated since the last sync. Each change
/// becomes a `calendar.event.updated` or `calendar.event.deleted` CloudEvent (published,
/// so it is delivered like any other). A listing longer than the page bound announces
/// what it read, stores where it stopped and publishes a `calendar.changed` to continue:
/// the next sync (that message, or a later push or drain) reads on from there.
pub async fn sync<O: Outbound>(
    svc: &Services<'_, O>,
    changed: &CloudEvent,
) -> Result<usize, SyncError> {
    let (user, calendar) = target(changed)?;
    let key = sync_key(&user, &calendar);
    let state = listing::load(svc.store, &key)?;
    let cal = Calendar::new(svc, &user)?;
    let plan = Plan::of(state.as_ref(), chrono::Utc::now());
    let (plan, (items, end)) = match list_pages(&cal, &calendar, &plan).await {
        Err(SyncError::Google(GoogleError::Gone)) => match plan.fallback(chrono::Utc::now()) {
            Some(full) => {
                let read = list_pages(&cal, &calendar, &full).await?;
                (full, read)
            }
            None => return Err(GoogleError::Gone.into()),
        },
        read => (plan, read?),
    };
    let changes = plan.changes(items);
    let channel = svc.cfg.events_channel()?;
    for g in &changes {
        let event = events::from_google(g, &calendar);
        let kind = if g["status"] == "cancelled" {
            EventType::EventDeleted
        } else {
            EventType::EventUpdated
        };
        notify::publish(
            svc.store,
            channel,
            &CloudEvent::new(kind, &user, events::notification_data(&event)),
        )?;
    }
    store_progress(svc, &user, &calendar, &plan, end, state.as_ref())?;
    Ok(changes.len())
}

/// Establishes the sync token without announcing anything (when a watch starts); a
/// baseline longer than the page bound continues in the updates component.
pub async fn baseline<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    calendar: &str,
) -> Result<(), SyncError> {
    let key = sync_key(user, calendar);
    if svc.store.get(&key)?.is_some() {
        return Ok(());
    }
    let cal = Calendar::new(svc, user)?;
    let plan = Plan::of(None, chrono::Utc::now());
    let (_, end) = list_pages(&cal, calendar, &plan).await?;
    store_progress(svc, user, calendar, &plan, end, None)
}

/// Stores the new token, or where a listing stopped (and publishes the `calendar.changed`
/// that continues it, so a quiet calendar does not wait for its next push).
fn store_progress<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    calendar: &str,
    plan: &Plan,
    end: End,
    previous: Option<&SyncState>,
) -> Result<(), SyncError> {
    let more = matches!(end, End::More(_));
    if let Some(next) = plan.next_state(end, previous) {
        listing::save(svc.store, &sync_key(user, calendar), &next)?;
        user_records::remember(svc.store, user, calendar)?;
    }
    if more {
        let channel = svc.cfg.events_channel()?;
        let next = CloudEvent::new(
            EventType::CalendarChanged,
            user,
            json!({"user_id": user.as_str(), "calendar_id": calendar, "continued": true}),
        );
        notify::publish(svc.store, channel, &next)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::CloudEvent;
    use crate::delivery::Outcome;
    use crate::delivery::claim::claim_key;
    use crate::delivery::handle;
    use crate::store::Store;
    use crate::testing::MemoryStore;
    use serde_json::json;

    fn changed() -> CloudEvent {
        let user = UserId::parse("u1").unwrap();
        CloudEvent::new(
            EventType::CalendarChanged,
            &user,
            json!({"calendar_id": "primary", "channel_id": "c1"}),
        )
    }

    /// `calendar.changed` handled against `store`, Google and REST answering as `http`.
    fn handled(store: &MemoryStore, http: &crate::testing::Scripted, e: &CloudEvent) -> Outcome {
        let vars = crate::testing::key_vars();
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http,
            store,
        };
        crate::testing::block(handle(&svc, e))
    }

    #[test]
    fn a_sync_waits_for_another_sync_of_its_calendar_and_then_retries_later() {
        let s = MemoryStore::default();
        let http = crate::testing::Scripted::default();
        let e = changed();
        let lock = sync_lock_key(&UserId::parse("u1").unwrap(), "primary");
        s.set_ex(&lock, b"someone else", 60).unwrap();
        let outcome = handled(&s, &http, &e);
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
        let http = crate::testing::Scripted::default().answer(404, r#"{"error":"not_found"}"#);
        let e = changed();
        assert_eq!(handled(&s, &http, &e), Outcome::Dropped);
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
        let lock = sync_lock_key(&UserId::parse("u1").unwrap(), "primary");
        assert_eq!(s.get(&lock).unwrap(), None);
        assert!(s.published.borrow().is_empty());
    }
}
