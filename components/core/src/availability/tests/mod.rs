//! Worked examples: request validation and slots computed by hand.

mod request;
mod worked;

use super::*;
use chrono::{DateTime, Utc};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn iv(a: &str, b: &str) -> Interval {
    Interval::new(at(a), at(b)).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}
