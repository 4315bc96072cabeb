//! Delivery to the REST service, and the dead letter when it cannot be done.

use super::claim::{DELIVERED_TTL_MS, claim_key, with_retries};
use super::*;
use crate::delivery::cloudevent::CloudEvent;
use crate::log::{self, Level};
use crate::outbound::Outbound;
use crate::rest::client::RestClient;
use crate::services::Services;
use crate::store::StoreError;

/// Delivers to `POST /notifications` (the REST client retries with backoff); after the
/// last try the event goes to the dead-letter list with the error and its kind.
pub async fn deliver<O: Outbound>(svc: &Services<'_, O>, event: &CloudEvent) -> Outcome {
    let result = match RestClient::configured(svc.cfg, svc.http) {
        Ok(rest) => rest
            .post_notification(event)
            .await
            .map_err(DeliveryError::from),
        Err(e) => Err(e.into()),
    };
    let Err(error) = result else {
        if mark_done(svc, event).await.is_err() {
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
        return Outcome::Delivered;
    };
    dead_letter(svc, event, &error).await
}

/// The dead letter first, then the claim: a claim marked done without its dead letter
/// stored would lose the event.
async fn dead_letter<O: Outbound>(
    svc: &Services<'_, O>,
    event: &CloudEvent,
    error: &DeliveryError,
) -> Outcome {
    let letter = serde_json::to_vec(&DeadLetter::new(event, error)).unwrap_or_default();
    let pushed = with_retries(svc, || svc.store.lpush_capped(DLQ, &letter, DLQ_MAX_LEN)).await;
    let stored = pushed.is_ok();
    if stored {
        let _ = mark_done(svc, event).await;
    } else {
        // Not stored: give the claim back and leave the entry to a later reader.
        let _ = svc.store.del(&claim_key(&event.id));
    }
    log::emit(
        Level::Error,
        if stored {
            "notification dead-lettered"
        } else {
            "notification failed and could not be dead-lettered; left for a retry"
        },
        &[
            ("event_id", event.id.clone().into()),
            ("error", error.to_string().into()),
            ("error_kind", error.kind().into()),
            ("stored", stored.into()),
        ],
    );
    if stored {
        Outcome::DeadLettered
    } else {
        Outcome::InFlight
    }
}

/// Records the event's claim as done (with retries).
async fn mark_done<O: Outbound>(
    svc: &Services<'_, O>,
    event: &CloudEvent,
) -> Result<(), StoreError> {
    let key = claim_key(&event.id);
    with_retries(svc, || {
        svc.store.set_ex(&key, b"done", DELIVERED_TTL_MS / 1000)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::testing::{Flaky, Scripted, block, created_event, rest_vars};

    /// One event handled against `store`, with the REST service answering as scripted.
    fn handled(store: &Flaky, answers: &[u16]) -> (CloudEvent, Outcome) {
        let vars = rest_vars();
        let e = created_event();
        let http = answers
            .iter()
            .fold(Scripted::default(), |h, s| h.answer(*s, "{}"));
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &http,
            store,
        };
        let outcome = block(handle(&svc, &e));
        (e, outcome)
    }

    #[test]
    fn a_failed_delivery_is_dead_lettered_before_its_claim_is_done() {
        // The REST service refuses every try, and Redis refuses the dead letter every time.
        let s = Flaky::default();
        s.lpush.set(u32::MAX);
        let (e, outcome) = handled(&s, &[503, 503, 503]);
        // Not lost: the claim is given back and the stream entry stays for a retry.
        assert_eq!(outcome, Outcome::InFlight);
        assert_eq!(s.get(&claim_key(&e.id)).unwrap(), None);

        // With the dead letter stored, the claim is done.
        let s = Flaky::default();
        s.lpush.set(2);
        let (e, outcome) = handled(&s, &[503, 503, 503]);
        assert_eq!(outcome, Outcome::DeadLettered);
        let (letters, n) = s.lrange(DLQ, 10).unwrap();
        assert_eq!(n, 1);
        let letter: DeadLetter = serde_json::from_slice(&letters[0]).unwrap();
        assert_eq!(letter.error_kind, "rest_server_error");
        assert_eq!(
            letter.error,
            "the user-data service is unavailable (status 503)"
        );
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
    }

    #[test]
    fn a_delivery_is_recorded_even_if_redis_fails_for_a_moment() {
        let s = Flaky::default();
        s.set_ex.set(3);
        let (e, outcome) = handled(&s, &[202]);
        assert_eq!(outcome, Outcome::Delivered);
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
    }
}
