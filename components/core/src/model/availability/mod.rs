//! Multi-person availability (`POST /availability`, SPEC section 8): the validated request,
//! busy-interval arithmetic, free/busy chunking, working hours in each participant's own
//! IANA zone and the slot grid.
//!
//! Everything here is pure: the component fetches free/busy, then calls
//! [`compute_slots`] with what it got.
//!
//! - [`AvailabilityRequest::from_json`] turns the body into a [`AvailabilityRequest`]
//!   (participants plus a [`SlotQuery`]) or an [`AvailabilityError`] with a stable code,
//!   before any outbound call.
//! - [`calendar_chunks`] splits a participant's calendars into `freebusy.query` batches of
//!   at most [`FREEBUSY_MAX_CALENDARS`]; [`merge_freebusy`] joins the answers into one
//!   busy list, or names the calendars that failed (never partial data).
//! - [`compute_slots`] walks the grid.
//!
//! # Local times that do not exist or exist twice
//!
//! Working hours are wall-clock times resolved day by day in the participant's zone (or
//! `working_hours.time_zone`), so a 09:00-17:00 day is 8 hours on both sides of a DST
//! change. On the change day itself:
//! - a boundary in the skipped hour (clocks go forward) is read with the offset from
//!   before the gap, as RFC 5545 does: `02:30` on a day that jumps from 02:00 to 03:00 is
//!   03:30 (the working day is one hour shorter, as the clock on the wall says);
//! - a boundary in the repeated hour (clocks go back) is its first occurrence, the one
//!   still on daylight-saving time, as the events routes resolve such times: someone who
//!   starts or stops work "at 02:30" does so the first time the clock shows it.
//!
//! A date-only `time_min`/`time_max` (`YYYY-MM-DD`, as the events list accepts) is midnight
//! in `working_hours.time_zone` when given, else in UTC, resolved by the same rules.

mod error;
mod freebusy;
mod hours;
mod intervals;
mod request;
mod slots;
#[cfg(test)]
mod tests;

pub use error::AvailabilityError;
pub use freebusy::{CalendarBusy, calendar_chunks, merge_freebusy};
pub use intervals::Interval;
pub use request::{AvailabilityRequest, Participant};
#[cfg(test)]
pub use request::{SlotQuery, WorkingHours};
pub use slots::{ParticipantBusy, compute_slots};

/// The one place this module names the crate's user id type (it may move).
pub use crate::model::user_id::UserId;
