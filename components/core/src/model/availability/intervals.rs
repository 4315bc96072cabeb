//! Half-open UTC intervals and the linear-time set operations on sorted, disjoint lists of
//! them that availability is made of.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// `[start, end)` in UTC. Serializes as `{"start", "end"}` in RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    /// `None` unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Interval { start, end })
    }

    /// Two RFC 3339 instants (any offset), as Google sends busy periods.
    pub fn parse_rfc3339(start: &str, end: &str) -> Option<Self> {
        let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
        Self::new(parse(start)?, parse(end)?)
    }

    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether the two share any instant (touching ends do not overlap).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside `self`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn contains(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// Sorts and coalesces: the result is ascending, disjoint and non-touching (intervals that
/// overlap or meet end to start become one). Empty or inverted intervals are dropped.
pub fn merge_busy(mut busy: Vec<Interval>) -> Vec<Interval> {
    busy.retain(|i| i.start < i.end);
    busy.sort_unstable();
    let mut out: Vec<Interval> = Vec::with_capacity(busy.len());
    for i in busy {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// Each interval widened by `buffer` on both sides, then merged. Saturates at chrono's
/// range instead of overflowing.
pub fn widen(busy: &[Interval], buffer: TimeDelta) -> Vec<Interval> {
    let widened = busy
        .iter()
        .map(|i| Interval {
            start: i
                .start
                .checked_sub_signed(buffer)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end: i
                .end
                .checked_add_signed(buffer)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
        .collect();
    merge_busy(widened)
}

/// `a ∩ b` for two sorted, disjoint lists; linear in their lengths.
pub fn intersect(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if let Some(both) = Interval::new(a[i].start.max(b[j].start), a[i].end.min(b[j].end)) {
            out.push(both);
        }
        if a[i].end <= b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// `a \ b` for two sorted, disjoint lists; linear in their lengths.
pub fn subtract(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut j = 0;
    for &iv in a {
        let mut cursor = iv.start;
        // Intervals of `b` that end before this one starts can never matter again.
        while j < b.len() && b[j].end <= iv.start {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].start < iv.end {
            if let Some(free) = Interval::new(cursor, b[k].start) {
                out.push(free);
            }
            cursor = cursor.max(b[k].end);
            k += 1;
        }
        if let Some(free) = Interval::new(cursor, iv.end) {
            out.push(free);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).single().unwrap()
    }

    fn iv(a: (u32, u32), b: (u32, u32)) -> Interval {
        Interval::new(t(a.0, a.1), t(b.0, b.1)).unwrap()
    }

    #[test]
    fn merge_sorts_coalesces_overlapping_and_touching_and_drops_empty() {
        let empty = Interval {
            start: t(5, 0),
            end: t(5, 0),
        };
        let inverted = Interval {
            start: t(6, 0),
            end: t(5, 0),
        };
        let merged = merge_busy(vec![
            iv((13, 0), (14, 0)),
            iv((9, 0), (10, 0)),
            iv((9, 30), (9, 45)),
            iv((10, 0), (11, 0)),
            empty,
            inverted,
            iv((13, 30), (15, 0)),
        ]);
        assert_eq!(merged, vec![iv((9, 0), (11, 0)), iv((13, 0), (15, 0))]);
    }

    #[test]
    fn widen_grows_both_sides_and_merges_what_now_meets() {
        let w = widen(
            &[iv((9, 0), (10, 0)), iv((10, 20), (11, 0))],
            TimeDelta::minutes(10),
        );
        assert_eq!(w, vec![iv((8, 50), (11, 10))]);
        assert_eq!(
            widen(&[iv((9, 0), (10, 0))], TimeDelta::zero()),
            vec![iv((9, 0), (10, 0))]
        );
    }

    #[test]
    fn intersect_and_subtract_worked_example() {
        let a = [iv((8, 0), (12, 0)), iv((13, 0), (17, 0))];
        let b = [
            iv((9, 0), (10, 0)),
            iv((11, 30), (13, 30)),
            iv((16, 0), (18, 0)),
        ];
        assert_eq!(
            intersect(&a, &b),
            vec![
                iv((9, 0), (10, 0)),
                iv((11, 30), (12, 0)),
                iv((13, 0), (13, 30)),
                iv((16, 0), (17, 0))
            ]
        );
        assert_eq!(
            subtract(&a, &b),
            vec![
                iv((8, 0), (9, 0)),
                iv((10, 0), (11, 30)),
                iv((13, 30), (16, 0))
            ]
        );
        // One long busy interval spanning several free ones.
        assert_eq!(subtract(&a, &[iv((7, 0), (20, 0))]), vec![]);
        assert_eq!(subtract(&a, &[]), a.to_vec());
        assert_eq!(intersect(&a, &[]), vec![]);
    }

    #[test]
    fn overlap_is_half_open() {
        assert!(!iv((9, 0), (10, 0)).overlaps(&iv((10, 0), (11, 0))));
        assert!(iv((9, 0), (10, 1)).overlaps(&iv((10, 0), (11, 0))));
        assert!(iv((9, 0), (11, 0)).contains(&iv((9, 0), (11, 0))));
    }

    #[test]
    fn rfc3339_busy_periods_with_any_offset() {
        let i =
            Interval::parse_rfc3339("2026-01-05T10:00:00+01:00", "2026-01-05T10:30:00Z").unwrap();
        assert_eq!(i, iv((9, 0), (10, 30)));
        assert_eq!(
            Interval::parse_rfc3339("2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z"),
            None
        );
        assert_eq!(
            Interval::parse_rfc3339("soon", "2026-01-05T10:00:00Z"),
            None
        );
    }
}
