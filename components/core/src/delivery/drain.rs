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

/// An entry whose claim another reader holds (the pub/sub copy of the same event, being
/// delivered) is waited for, in steps of this long, at most this many steps per drain in
/// all: the usual race settles at once, and a drain never waits more than 2 s however
/// many entries are held.
const HELD_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);
const HELD_WAIT_STEPS: u32 = 20;

/// [`handle`], and while another reader holds the event's claim, again after a short
/// wait, as long as this drain's wait budget lasts.
async fn settle<O: Outbound>(
    svc: &Services<'_, O>,
    event: &CloudEvent,
    budget: &mut u32,
) -> Outcome {
    let mut outcome = handle(svc, event).await;
    while outcome == Outcome::Held && *budget > 0 {
        *budget -= 1;
        svc.http.sleep(HELD_WAIT_STEP).await;
        outcome = handle(svc, event).await;
    }
    outcome
}

/// What one drain did: entries read (new ones and ones taken over from a dead reader),
/// their outcomes, and whether it stopped at its bound with entries possibly left.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drained {
    pub entries: usize,
    pub taken_over: usize,
    pub delivered: usize,
    pub synced: usize,
    pub duplicates: usize,
    pub dead_lettered: usize,
    pub dropped: usize,
    pub malformed: usize,
    /// Not settled (a failed sync, another reader's claim): left pending for a later drain.
    pub left_pending: usize,
    /// The drain stopped at its bound (`MAX_ROUNDS` batches): more entries may wait.
    pub more: bool,
}

impl Drained {
    fn count(&mut self, outcome: Outcome) {
        let n = match outcome {
            Outcome::Delivered => &mut self.delivered,
            Outcome::Synced => &mut self.synced,
            Outcome::Duplicate => &mut self.duplicates,
            Outcome::DeadLettered => &mut self.dead_lettered,
            Outcome::Dropped => &mut self.dropped,
            Outcome::Malformed => &mut self.malformed,
            Outcome::InFlight | Outcome::Held => &mut self.left_pending,
        };
        *n += 1;
        self.entries += 1;
    }
}

/// Drains the stream for the group: stale entries of dead readers first, then new ones.
/// An entry is acknowledged once handled (or found malformed or already delivered).
/// Bounded: at most `MAX_ROUNDS` batches of `BATCH` new entries.
pub async fn drain<O: Outbound, S: Stream + ?Sized>(
    svc: &Services<'_, O>,
    stream: &S,
) -> Result<Drained, StoreError> {
    stream.ensure_group(STREAM, GROUP)?;
    let mut report = Drained {
        more: true,
        ..Drained::default()
    };
    let mut wait_steps = HELD_WAIT_STEPS;
    for round in 0..MAX_ROUNDS {
        let mut batch = if round == 0 {
            stream.claim_stale(STREAM, GROUP, CONSUMER, STALE_ENTRY_MS, BATCH)?
        } else {
            Vec::new()
        };
        report.taken_over += batch.len();
        batch.extend(stream.read_new(STREAM, GROUP, CONSUMER, BATCH)?);
        if batch.is_empty() {
            report.more = false;
            break;
        }
        for (id, payload) in batch {
            let outcome = match parse(svc.store, &payload) {
                Some(event) => settle(svc, &event, &mut wait_steps).await,
                None => Outcome::Malformed,
            };
            if !matches!(outcome, Outcome::InFlight | Outcome::Held) {
                stream.ack(STREAM, GROUP, &id)?;
            }
            report.count(outcome);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::claim::claim_key;
    use crate::store::Store;
    use crate::testing::{Flaky, Scripted, block, created_event, rest_vars};

    /// Another reader holds the claim and finishes while this one waits: settled as a
    /// duplicate; a holder that never finishes costs at most the drain's budget in all.
    #[test]
    fn a_held_claim_is_waited_for_within_the_drains_budget() {
        struct HolderFinishes<'a>(&'a Flaky, String);
        impl Outbound for HolderFinishes<'_> {
            async fn send(
                &self,
                _: crate::outbound::HttpRequest,
            ) -> Result<crate::outbound::HttpResponse, crate::outbound::TransportError>
            {
                Err(crate::outbound::TransportError::Connect)
            }
            async fn sleep(&self, _: std::time::Duration) {
                self.0.set_ex(&self.1, b"done", 60).unwrap();
            }
        }
        let vars = rest_vars();
        let cfg = crate::config::Config::new(&vars);
        let e = created_event();
        let s = Flaky::default();
        s.set_nx_px(&claim_key(&e.id), b"pending", 60_000).unwrap();
        let http = HolderFinishes(&s, claim_key(&e.id));
        let svc = Services {
            cfg: &cfg,
            http: &http,
            store: &s,
        };
        let mut budget = HELD_WAIT_STEPS;
        assert_eq!(block(settle(&svc, &e, &mut budget)), Outcome::Duplicate);
        assert_eq!(budget, HELD_WAIT_STEPS - 1);

        let s = Flaky::default();
        s.set_nx_px(&claim_key(&e.id), b"pending", 60_000).unwrap();
        let http = Scripted::default();
        let svc = Services {
            cfg: &cfg,
            http: &http,
            store: &s,
        };
        let mut budget = HELD_WAIT_STEPS;
        assert_eq!(block(settle(&svc, &e, &mut budget)), Outcome::Held);
        assert_eq!(block(settle(&svc, &e, &mut budget)), Outcome::Held);
        assert_eq!(budget, 0);
        assert_eq!(
            http.slept.borrow().len(),
            HELD_WAIT_STEPS as usize,
            "2 s in all"
        );
        assert!(http.seen.borrow().is_empty(), "nothing delivered");
    }
}
