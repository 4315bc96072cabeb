//! Draining the event stream with the consumer group.

use super::*;
use crate::delivery::cloudevent::STREAM;
use crate::outbound::Outbound;
use crate::services::Services;
use crate::store::StoreError;
use crate::store::Stream;

/// The consumer group of every updates replica: each stream entry goes to one of them.
pub const GROUP: &str = "gcal-updates";

const CONSUMER: &str = "updates";

/// A stream entry read but not acknowledged for this long is taken over by the next
/// drain. Taking one over early cannot deliver it twice (the delivery claim decides);
/// it only lets entries stranded by a failure (Redis gone mid-drain, a reader that died)
/// be retried in seconds rather than minutes.
const STALE_ENTRY_MS: u64 = 10_000;

/// Entries per drain round, and rounds per message, so one invocation stays bounded.
const BATCH: u64 = 50;

const MAX_ROUNDS: u32 = 20;

/// Drains the stream for the group: stale entries of dead readers first, then new ones.
/// An entry is acknowledged once handled (or found malformed or already delivered).
pub async fn drain<O: Outbound, S: Stream + ?Sized>(
    svc: &Services<'_, O>,
    stream: &S,
) -> Result<usize, StoreError> {
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
