//! Worked examples (request validation, slots computed by hand) and property tests
//! against a brute-force oracle.

mod props;
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
