//! The delivery claim of an event id: the first reader wins, and its outcome is recorded
//! with retries.

use crate::delivery::cloudevent::CloudEvent;
use crate::outbound::Outbound;
use crate::services::Services;
use crate::store::{Store, StoreError};

/// A delivery claim held this long without finishing is given up (its holder died).
pub(crate) const CLAIM_PENDING_MS: u64 = 60_000;

/// Delivered ids are remembered this long (duplicate deliveries are refused meanwhile).
pub(crate) const DELIVERED_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

pub(crate) enum Claim {
    Mine,
    Pending,
    Done,
}

pub(crate) fn claim_key(id: &str) -> String {
    format!("gcal:delivered:{id}")
}

/// First reader of an id wins; a claim of a reader that died expires after a minute.
pub(crate) fn claim(store: &dyn Store, event: &CloudEvent) -> Claim {
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

pub(crate) fn finish(store: &dyn Store, event: &CloudEvent) {
    let _ = store.set_ex(&claim_key(&event.id), b"done", DELIVERED_TTL_MS / 1000);
}

/// Tries to record an outcome in Redis this many times (with backoff), so that a Redis
/// restart while a delivery was on its way does not leave the claim "pending": a claim
/// that expires would let the entry be delivered a second time.
pub(crate) const RECORD_TRIES: u32 = 6;

pub(crate) const RECORD_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

pub(crate) async fn with_retries<O: Outbound>(
    svc: &Services<'_, O>,
    mut op: impl FnMut() -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op() {
            Ok(()) => return Ok(()),
            Err(p) if attempt >= RECORD_TRIES => return Err(p),
            Err(_) => {
                svc.http
                    .sleep(crate::outbound::backoff(attempt, RECORD_BACKOFF))
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryStore, created_event};

    #[test]
    fn an_id_is_claimed_once() {
        let s = MemoryStore::default();
        let e = created_event();
        assert!(matches!(claim(&s, &e), Claim::Mine));
        assert!(matches!(claim(&s, &e), Claim::Pending));
        finish(&s, &e);
        assert!(matches!(claim(&s, &e), Claim::Done));
    }
}
