//! What clients send and get: user ids, event input and its validation, time zones, the
//! Event we answer with, query parameters.

pub mod event;
pub mod user_id;
