//! `calendar.changed` turned into an incremental sync, one at a time per calendar.

use crate::delivery::SyncError;
use crate::delivery::cloudevent::{self as notify, CloudEvent, EventType};
use crate::google::GoogleError;
use crate::google::calendar::Calendar;
use crate::model::event as events;
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::services::Services;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Pages of one sync, at most.
pub(crate) const MAX_SYNC_PAGES: u32 = 20;

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

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SyncState {
    token: String,
    synced_at: chrono::DateTime<chrono::Utc>,
}

pub(crate) fn sync_key(user: &UserId, calendar: &str) -> String {
    format!("gcal:sync:{user}:{calendar}")
}

/// Sync state outlives quiet periods but not abandoned users.
pub(crate) const SYNC_TTL_SECS: u64 = 30 * 24 * 3600;

/// Incremental sync from the stored token; on 410 (or no token) a full listing that only
/// re-establishes the token, announcing events updated since the last sync. Each change
/// becomes a `calendar.event.updated` or `calendar.event.deleted` CloudEvent (published,
/// so it is delivered like any other).
pub async fn sync<O: Outbound>(
    svc: &Services<'_, O>,
    changed: &CloudEvent,
) -> Result<usize, SyncError> {
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
            Err(SyncError::Google(GoogleError::Gone)) => {
                let (all, token) = list_all(&cal, &calendar, None).await?;
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
            Err(f) => return Err(f),
        },
        None => {
            let (_, token) = list_all(&cal, &calendar, None).await?;
            (Vec::new(), token)
        }
    };
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
    save_token(svc, &key, token, started)?;
    Ok(changes.len())
}

/// Establishes the sync token without announcing anything (when a watch starts).
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
    let (_, token) = list_all(&cal, calendar, None).await?;
    save_token(svc, &key, token, chrono::Utc::now())
}

/// Stores the sync token a listing ended with (if it had one).
fn save_token<O: Outbound>(
    svc: &Services<'_, O>,
    key: &str,
    token: Option<String>,
    synced_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), SyncError> {
    if let Some(token) = token {
        let state = SyncState { token, synced_at };
        let json = serde_json::to_vec(&state).unwrap_or_default();
        svc.store.set_ex(key, &json, SYNC_TTL_SECS)?;
    }
    Ok(())
}

/// Every page of a listing (bounded), with the final sync token.
pub(crate) async fn list_all<O: Outbound>(
    cal: &Calendar<'_, '_, O>,
    calendar: &str,
    sync_token: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), SyncError> {
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
    Err(SyncError::TooManyPages)
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
