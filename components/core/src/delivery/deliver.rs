//! Delivery to the REST service, and the dead letter when it cannot be done.

use super::claim::{DELIVERED_TTL_MS, claim_key, with_retries};
use super::*;
use crate::delivery::cloudevent::CloudEvent;
use crate::log::{self, Level};
use crate::outbound::Outbound;
use crate::rest::client::RestClient;
use crate::services::Services;

/// Delivers to `POST /notifications` (the REST client retries with backoff); after the
/// last try the event goes to the dead-letter list with the error.
pub async fn deliver<O: Outbound>(svc: &Services<'_, O>, event: &CloudEvent) -> Outcome {
    let result = match RestClient::configured(svc.cfg, svc.http) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    #[test]
    fn a_failed_delivery_is_dead_lettered_before_its_claim_is_done() {
        let vars = vars();
        let user = UserId::parse("u1").unwrap();
        let e = CloudEvent::new(EventType::EventCreated, &user, json!({}));
        let mut vars = vars;
        vars.insert("rest_service_url".into(), "http://rest".into());
        // The REST service refuses every try, and Redis refuses the dead letter every time.
        let s = crate::testing::Flaky::default();
        s.lpush.set(u32::MAX);
        let http = crate::testing::Scripted::default()
            .answer(503, "")
            .answer(503, "")
            .answer(503, "");
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &http,
            store: &s,
        };
        let outcome = crate::testing::block(handle(&svc, &e));
        // Not lost: the claim is given back and the stream entry stays for a retry.
        assert_eq!(outcome, Outcome::InFlight);
        assert_eq!(s.get(&claim_key(&e.id)).unwrap(), None);

        // With the dead letter stored, the claim is done.
        let s = crate::testing::Flaky::default();
        s.lpush.set(2);
        let http = crate::testing::Scripted::default()
            .answer(503, "")
            .answer(503, "")
            .answer(503, "");
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &http,
            store: &s,
        };
        let outcome = crate::testing::block(handle(&svc, &e));
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
        let s = crate::testing::Flaky::default();
        s.set_ex.set(3);
        let http = crate::testing::Scripted::default().answer(202, "{}");
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &http,
            store: &s,
        };
        assert_eq!(crate::testing::block(handle(&svc, &e)), Outcome::Delivered);
        assert_eq!(
            s.get(&claim_key(&e.id)).unwrap().as_deref(),
            Some(&b"done"[..])
        );
    }

    fn vars() -> std::collections::HashMap<String, String> {
        use base64::Engine as _;
        [(
            "token_encryption_key".to_string(),
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )]
        .into()
    }
}
