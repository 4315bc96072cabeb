//! What clients send and get: user ids, event input and its validation, time zones, the
//! Event we answer with, query parameters, and the availability request with its slot
//! arithmetic.

pub mod availability;
pub mod calendars;
pub mod event;
pub mod freebusy;
pub mod params;
pub mod user_id;
