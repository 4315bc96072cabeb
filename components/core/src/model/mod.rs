//! What clients send and get: user ids, event input and its validation, time zones, the
//! Event we answer with, query parameters, and the availability request with its slot
//! arithmetic.

// Pure, and not yet behind a route: `POST /availability` (issue 14) wires it.
#[allow(dead_code, unused_imports)]
pub mod availability;
pub mod event;
pub mod user_id;
