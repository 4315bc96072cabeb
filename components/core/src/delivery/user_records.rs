//! What the service keeps about one user's calendars (push channels and sync state), and
//! how it is all stopped and deleted when the user disconnects: the per-user index
//! `gcal:calendars:{user}` names every calendar with such a record.

use crate::delivery::channels;
use crate::delivery::sync::{SYNC_TTL_SECS, sync_key};
use crate::log::{self, Level};
use crate::model::event::DEFAULT_CALENDAR;
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::services::Services;
use crate::store::{Store, StoreError};

/// Calendars one user's index names, at most (the oldest is dropped beyond).
pub(crate) const MAX_CALENDARS: usize = 250;

pub(crate) fn index_key(user: &UserId) -> String {
    format!("gcal:calendars:{user}")
}

/// The calendars of the index (empty when there is none or it does not parse).
pub(crate) fn calendars(store: &dyn Store, user: &UserId) -> Result<Vec<String>, StoreError> {
    Ok(store
        .get(&index_key(user))?
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default())
}

/// Adds `calendar` to the user's index (when a channel or sync record of it is written)
/// and renews the index's TTL, which is the longest of the records it names: the index
/// outlives every record it names. A lost update (two writes at once) is repaired by the
/// next sync of the calendar.
pub(crate) fn remember(store: &dyn Store, user: &UserId, calendar: &str) -> Result<(), StoreError> {
    let mut all = calendars(store, user)?;
    if !all.iter().any(|c| c == calendar) {
        all.push(calendar.to_owned());
    }
    if all.len() > MAX_CALENDARS {
        all.drain(..all.len() - MAX_CALENDARS);
    }
    let json = serde_json::to_vec(&all).unwrap_or_default();
    store.set_ex(&index_key(user), &json, SYNC_TTL_SECS)
}

/// On disconnect (`DELETE /auth/{user_id}`, before the credentials go, since stopping a
/// channel needs a token): every push channel of the user is stopped at Google (best
/// effort, like the revocation) and its records deleted, and every sync record deleted,
/// so no push for the user reaches the service and no record of theirs is left. The
/// default calendar is always looked at (records written before the index existed).
pub async fn forget_user<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
) -> Result<(), StoreError> {
    let mut all = calendars(svc.store, user)?;
    if !all.iter().any(|c| c == DEFAULT_CALENDAR) {
        all.push(DEFAULT_CALENDAR.to_owned());
    }
    for calendar in &all {
        if let Err(e) = channels::stop(svc, user, calendar).await {
            log::emit(
                Level::Warn,
                "push channel not stopped at Google; its records are deleted anyway",
                &[
                    ("user_id", user.as_str().into()),
                    ("error", e.kind().into()),
                ],
            );
            channels::forget(svc.store, user, calendar)?;
        }
        svc.store.del(&sync_key(user, calendar))?;
    }
    svc.store.del(&index_key(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    #[test]
    fn the_index_names_each_calendar_once_and_is_bounded() {
        let s = MemoryStore::default();
        let u = UserId::parse("u1").unwrap();
        remember(&s, &u, "primary").unwrap();
        remember(&s, &u, "team@example.com").unwrap();
        remember(&s, &u, "primary").unwrap();
        assert_eq!(calendars(&s, &u).unwrap(), ["primary", "team@example.com"]);
        for i in 0..MAX_CALENDARS {
            remember(&s, &u, &format!("c{i}")).unwrap();
        }
        let all = calendars(&s, &u).unwrap();
        assert_eq!(all.len(), MAX_CALENDARS);
        assert_eq!(all[0], "c0", "the oldest went first");
    }
}
