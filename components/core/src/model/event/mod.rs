//! Events: validation of what clients send, time zones, and the mapping between our
//! `Event` and Google's event JSON.

use crate::http::problem::{Code, Problem};

mod answer;
mod attendees;
mod conference;
mod google;
mod ids;
mod input;
mod query;
mod time;

pub use answer::*;
pub use attendees::*;
pub use conference::*;
pub use google::{Event, GoogleEvent, GooglePage};
pub use ids::*;
pub use input::*;
pub use query::*;
pub use time::*;

pub(crate) const MAX_SUMMARY: usize = 1024;

pub(crate) const MAX_DESCRIPTION: usize = 8192;

pub(crate) const MAX_LOCATION: usize = 1024;

pub(crate) const MAX_ATTENDEES: usize = 100;

pub(crate) const MAX_RECURRENCE: usize = 20;

pub(crate) const MAX_OVERRIDES: usize = 5;

pub(crate) const MAX_CALENDAR_ID: usize = 256;

pub const DEFAULT_CALENDAR: &str = "primary";

pub(crate) fn bad(code: Code, detail: impl Into<String>) -> Problem {
    Problem::new(code, detail)
}

pub(crate) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod meeting_tests;
