//! The fault and chaos control both fakes share: what a test injects (queued [`Fault`]s
//! per route, "down", seeded chaos) and the record of every request, decided for each
//! request in one place. A fake says only which routes a request belongs to and what its
//! service's error answers look like.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::server::Incoming;
use super::{Fault, Recorded};

/// What a fake does with one request, once [`FaultControl::admit`] has waited any delay.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Handle it normally.
    Handle,
    /// The fake is down: answer 503 as the service does when unavailable.
    Down,
    /// Answer with this fault instead of handling it (never `Slow`).
    Fail(Fault),
    /// Close the connection without answering.
    Drop,
    /// Handle it, then cut the answer's body short ([`super::server::cut_short`]).
    CutShort,
}

/// Faults, "down" and chaos for one fake, and every request it received. `R` is the
/// fake's route (endpoint group) type.
#[derive(Debug)]
pub struct FaultControl<R> {
    inner: Mutex<Inner<R>>,
    /// The transient errors chaos picks from (the service's usual 5xx and 429).
    transient: &'static [Fault],
}

#[derive(Debug)]
struct Inner<R> {
    requests: Vec<Recorded>,
    queues: HashMap<R, VecDeque<Fault>>,
    down: bool,
    chaos: Option<Chaos>,
}

impl<R: Hash + Eq + Copy> FaultControl<R> {
    pub(crate) fn new(transient: &'static [Fault]) -> Self {
        FaultControl {
            inner: Mutex::new(Inner {
                requests: Vec::new(),
                queues: HashMap::new(),
                down: false,
                chaos: None,
            }),
            transient,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<R>> {
        // A panicking test thread must not poison the fake for the others.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `req` and decides what to do with it. `chain` lists the routes whose
    /// queues it takes a fault from, most specific first. "Down" wins over queued faults
    /// (and does not consume them); a queued fault wins over chaos. Waits the chaos delay
    /// or a [`Fault::Slow`] before returning.
    pub(crate) async fn admit(&self, req: &Incoming, chain: &[R]) -> Admission {
        let (delay, fault) = {
            let mut s = self.lock();
            s.requests.push(Recorded::from_incoming(req));
            if s.down {
                return Admission::Down;
            }
            let queued = chain
                .iter()
                .find_map(|route| s.queues.get_mut(route).and_then(VecDeque::pop_front));
            match queued {
                Some(fault) => (Duration::ZERO, Some(fault)),
                None => s
                    .chaos
                    .as_mut()
                    .map_or((Duration::ZERO, None), |c| c.decide(self.transient)),
            }
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match fault {
            None => Admission::Handle,
            Some(Fault::Drop) => Admission::Drop,
            Some(Fault::CutShort) => Admission::CutShort,
            Some(Fault::Slow(delay)) => {
                tokio::time::sleep(delay).await;
                Admission::Handle
            }
            Some(fault) => Admission::Fail(fault),
        }
    }

    /// Every request received so far, in order (faulted ones included).
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub(crate) fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Queues `fault` for the next `times` requests of `route`.
    pub(crate) fn fail_next(&self, route: R, fault: Fault, times: usize) {
        let mut s = self.lock();
        let queue = s.queues.entry(route).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Drops every queued fault.
    pub(crate) fn clear_faults(&self) {
        self.lock().queues.clear();
    }

    /// While down, every request is answered 503 with the service's error body.
    pub(crate) fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// From now on every request waits up to `max_latency`, and about `rate` of them are
    /// answered with one of the service's transient errors without being handled.
    /// Reproducible: the choices come from an RNG seeded with `seed`.
    pub(crate) fn set_chaos(&self, rate: f64, max_latency: Duration, seed: u64) {
        self.lock().chaos = Some(Chaos::new(rate, max_latency, seed));
    }

    /// Ends [`set_chaos`](Self::set_chaos).
    pub(crate) fn clear_chaos(&self) {
        self.lock().chaos = None;
    }

    /// Errors injected by chaos so far (since the last `set_chaos`).
    pub(crate) fn chaos_injected(&self) -> u64 {
        self.lock().chaos.as_ref().map_or(0, |c| c.injected)
    }
}

/// Random latency and transient errors for load tests.
#[derive(Debug)]
struct Chaos {
    rate: f64,
    max_latency: Duration,
    rng: rand::rngs::StdRng,
    /// Errors injected so far.
    injected: u64,
}

impl Chaos {
    fn new(rate: f64, max_latency: Duration, seed: u64) -> Chaos {
        use rand::SeedableRng as _;
        Chaos {
            rate: rate.clamp(0.0, 1.0),
            max_latency,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            injected: 0,
        }
    }

    /// For one request: how long to wait first, and the error to answer with (one of
    /// `errors`, equally likely), if any.
    fn decide(&mut self, errors: &[Fault]) -> (Duration, Option<Fault>) {
        use rand::Rng as _;
        let max = u64::try_from(self.max_latency.as_micros()).unwrap_or(u64::MAX);
        let delay = Duration::from_micros(self.rng.random_range(0..=max));
        let fault = if !errors.is_empty() && self.rng.random_bool(self.rate) {
            self.injected += 1;
            Some(errors[self.rng.random_range(0..errors.len())].clone())
        } else {
            None
        };
        (delay, fault)
    }
}

/// What a test does with a fake's faults and requests, the same on every fake (each has
/// one [`FaultControl`]).
pub trait Faulty {
    /// The fake's endpoint groups.
    type Route: Hash + Eq + Copy;

    fn control(&self) -> &FaultControl<Self::Route>;

    /// Every request received so far, in order (faulted ones included).
    fn requests(&self) -> Vec<Recorded> {
        self.control().requests()
    }

    fn clear_requests(&self) {
        self.control().clear_requests();
    }

    /// Queues `fault` for the next `times` requests of `route`. A request takes the
    /// first queued fault of its most specific route, then of any broader group it
    /// belongs to, then of the fake's `Route::Any`.
    fn fail_next(&self, route: Self::Route, fault: Fault, times: usize) {
        self.control().fail_next(route, fault, times);
    }

    /// Drops every queued fault.
    fn clear_faults(&self) {
        self.control().clear_faults();
    }

    /// While down, every request is answered 503 with the service's error body; wins
    /// over queued faults and does not consume them.
    fn set_down(&self, down: bool) {
        self.control().set_down(down);
    }

    /// From now on every request waits up to `max_latency`, and about `rate` of them are
    /// answered with one of the service's transient errors (5xx, 429; Google also 403
    /// `rateLimitExceeded`) without being handled. Reproducible: seeded with `seed`.
    fn set_chaos(&self, rate: f64, max_latency: Duration, seed: u64) {
        self.control().set_chaos(rate, max_latency, seed);
    }

    fn clear_chaos(&self) {
        self.control().clear_chaos();
    }

    /// Errors injected by chaos so far (since the last `set_chaos`).
    fn chaos_injected(&self) -> u64 {
        self.control().chaos_injected()
    }
}
