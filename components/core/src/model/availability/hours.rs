//! Working hours as UTC intervals, resolved day by day in an IANA zone.

use super::intervals::{Interval, merge_busy};
use super::request::WorkingHours;
use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// A wall-clock time in `zone` as an instant. A time in a DST gap is read with the offset
/// from before the gap (RFC 5545: `02:30` becomes `03:30` when clocks jump from 02:00 to
/// 03:00); a time that occurs twice is the first occurrence.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.to_utc(),
        LocalResult::Ambiguous(a, b) => a.to_utc().min(b.to_utc()),
        LocalResult::None => {
            // Two days before is before this gap and after the previous transition: zones
            // change offset months apart.
            let before = zone
                .offset_from_utc_datetime(&(local - TimeDelta::days(2)))
                .fix();
            (local - TimeDelta::seconds(i64::from(before.local_minus_utc()))).and_utc()
        }
    }
}

/// The working hours of every local day in `zone` that touches `window`, as sorted,
/// disjoint UTC intervals clipped to `window`.
pub fn working_intervals(hours: &WorkingHours, zone: Tz, window: Interval) -> Vec<Interval> {
    let first = window.start.with_timezone(&zone).date_naive();
    let last = window.end.with_timezone(&zone).date_naive();
    let mut out = Vec::new();
    // One day of slack on each side: a local day that starts before the window can still
    // reach into it, whatever the offset.
    let mut day = first.pred_opt().unwrap_or(first);
    let last = last.succ_opt().unwrap_or(last);
    while day <= last {
        if hours.days.contains(&day.weekday()) {
            let start = resolve_local(zone, day.and_time(hours.start));
            let end = resolve_local(zone, day.and_time(hours.end));
            if let Some(i) = Interval::new(start.max(window.start), end.min(window.end)) {
                out.push(i);
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    // Days never overlap for sane zones; merging keeps the list disjoint regardless.
    merge_busy(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime, Weekday};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn local(d: (i32, u32, u32), h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(d.0, d.1, d.2)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn hours(start: (u32, u32), end: (u32, u32), days: &[Weekday]) -> WorkingHours {
        WorkingHours {
            start: NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap(),
            end: NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap(),
            days: days.to_vec(),
            time_zone: None,
        }
    }

    #[test]
    fn gap_times_use_the_offset_from_before_the_gap() {
        // Berlin 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC); New York 2026-03-08:
        // 02:00 EST becomes 03:00 EDT.
        let (berlin, ny) = (chrono_tz::Europe::Berlin, chrono_tz::America::New_York);
        for (zone, day, h, m, want) in [
            (berlin, (2026, 3, 29), 2, 30, "2026-03-29T01:30:00Z"),
            (berlin, (2026, 3, 29), 2, 0, "2026-03-29T01:00:00Z"),
            (berlin, (2026, 3, 29), 3, 0, "2026-03-29T01:00:00Z"),
            (berlin, (2026, 3, 29), 1, 59, "2026-03-29T00:59:00Z"),
            (ny, (2026, 3, 8), 2, 15, "2026-03-08T07:15:00Z"),
        ] {
            assert_eq!(
                resolve_local(zone, local(day, h, m)),
                at(want),
                "{zone} {h}:{m}"
            );
        }
    }

    #[test]
    fn repeated_times_are_the_first_occurrence() {
        // Berlin 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
        let z = chrono_tz::Europe::Berlin;
        for (h, m, want) in [
            (2, 30, "2026-10-25T00:30:00Z"),
            (3, 0, "2026-10-25T02:00:00Z"),
        ] {
            assert_eq!(resolve_local(z, local((2026, 10, 25), h, m)), at(want));
        }
    }

    #[test]
    fn an_eight_hour_day_stays_eight_hours_across_the_change() {
        let z = chrono_tz::Europe::Berlin;
        let window = Interval::new(at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z")).unwrap();
        let all = [Weekday::Sat, Weekday::Sun, Weekday::Mon];
        let got = working_intervals(&hours((9, 0), (17, 0), &all), z, window);
        let want = [
            ("2026-10-24T07:00:00Z", "2026-10-24T15:00:00Z"),
            ("2026-10-25T08:00:00Z", "2026-10-25T16:00:00Z"),
            ("2026-10-26T08:00:00Z", "2026-10-26T16:00:00Z"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b)| Interval::new(at(a), at(b)).unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(got.iter().all(|i| i.duration() == TimeDelta::hours(8)));
    }

    #[test]
    fn boundaries_inside_the_gap_and_the_overlap() {
        let z = chrono_tz::Europe::Berlin;
        let sun = [Weekday::Sun];
        let spring = Interval::new(at("2026-03-29T00:00:00Z"), at("2026-03-30T00:00:00Z")).unwrap();
        // 02:30 does not exist: the day starts at 03:30 CEST and is 6.5 hours long.
        assert_eq!(
            working_intervals(&hours((2, 30), (10, 0), &sun), z, spring),
            vec![Interval::new(at("2026-03-29T01:30:00Z"), at("2026-03-29T08:00:00Z")).unwrap()]
        );
        let autumn = Interval::new(at("2026-10-24T22:00:00Z"), at("2026-10-26T00:00:00Z")).unwrap();
        // 02:30 exists twice: the first (CEST), so the day is 8.5 hours long.
        assert_eq!(
            working_intervals(&hours((2, 30), (10, 0), &sun), z, autumn),
            vec![Interval::new(at("2026-10-25T00:30:00Z"), at("2026-10-25T09:00:00Z")).unwrap()]
        );
    }

    #[test]
    fn clipped_to_the_window_and_only_on_listed_days() {
        // Kolkata (+05:30) Monday 2026-10-19 09:00-17:00 is 03:30-11:30 UTC.
        let z = chrono_tz::Asia::Kolkata;
        let window = Interval::new(at("2026-10-19T05:00:00Z"), at("2026-10-21T00:00:00Z")).unwrap();
        assert_eq!(
            working_intervals(&hours((9, 0), (17, 0), &[Weekday::Mon]), z, window),
            vec![Interval::new(at("2026-10-19T05:00:00Z"), at("2026-10-19T11:30:00Z")).unwrap()]
        );
    }
}
