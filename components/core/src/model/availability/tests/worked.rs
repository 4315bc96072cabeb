//! Slots worked out by hand.

use super::*;
use chrono::{NaiveTime, TimeDelta, Weekday};
use chrono_tz::Tz;

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// Monday to Friday.
fn weekdays(start: NaiveTime, end: NaiveTime, time_zone: Option<Tz>) -> Option<WorkingHours> {
    Some(WorkingHours {
        start,
        end,
        days: WEEKDAYS.to_vec(),
        time_zone,
    })
}

fn query(window: Interval, duration: i64, interval: i64, buffer: i64) -> SlotQuery {
    SlotQuery {
        window,
        duration: TimeDelta::minutes(duration),
        interval: TimeDelta::minutes(interval),
        buffer: TimeDelta::minutes(buffer),
        working_hours: None,
        max_slots: 1000,
    }
}

fn person(id: &str, zone: Option<Tz>, busy: &[(&str, &str)]) -> ParticipantBusy {
    ParticipantBusy {
        user_id: user(id),
        busy: busy.iter().map(|(a, b)| iv(a, b)).collect(),
        time_zone: zone,
    }
}

/// `[(date, ["HH:MM", ...])]` as UTC slots of `minutes`.
fn expected(days: &[(&str, &[&str])], minutes: i64) -> Vec<Interval> {
    days.iter()
        .flat_map(|(date, times)| {
            times.iter().map(move |t| {
                let start = at(&format!("{date}T{t}:00Z"));
                Interval {
                    start,
                    end: start + TimeDelta::minutes(minutes),
                }
            })
        })
        .collect()
}

/// Ann in Berlin, Bob in New York and Chandra in Kolkata, 07:00-21:00 on weekdays, each in
/// their own zone, from Monday 2026-10-19 to Tuesday 2026-11-03 (UTC): Europe leaves summer
/// time on 2026-10-25, the US on 2026-11-01.
///
/// In UTC: Kolkata (+05:30) works 01:30-15:30 all along; New York works 11:00-01:00 on EDT
/// (-04:00) and 12:00-02:00 from 2026-11-01 on EST (-05:00); Berlin works 05:00-19:00 on
/// CEST and 06:00-20:00 on CET. So everyone is at work 11:00-15:30 until 2026-10-30 and
/// 12:00-15:30 on 2026-11-02. With 60-minute slots every 30 minutes: 11:00 .. 14:30 (eight
/// a day), then 12:00 .. 14:30 (six).
///
/// Busy, with a 10-minute buffer:
/// - Ann 2026-10-21 12:10-12:50 → blocks 12:00-13:00: slots 11:30, 12:00 and 12:30 go;
///   11:00 (ends 12:00) and 13:00 stay.
/// - Bob 2026-10-28 14:00-16:00 → blocks 13:50-16:10: 13:00 and later go.
/// - Chandra all of Friday 2026-10-30 in Kolkata (18:30 UTC the day before to 18:30): no
///   slot that day.
#[test]
fn three_zones_over_two_dst_changes() {
    let window = iv("2026-10-19T00:00:00Z", "2026-11-03T00:00:00Z");
    let mut q = query(window, 60, 30, 10);
    q.working_hours = weekdays(hm(7, 0), hm(21, 0), None);
    let people = [
        person(
            "ann",
            Some(chrono_tz::Europe::Berlin),
            &[("2026-10-21T12:10:00Z", "2026-10-21T12:50:00Z")],
        ),
        person(
            "bob",
            Some(chrono_tz::America::New_York),
            &[("2026-10-28T14:00:00Z", "2026-10-28T16:00:00Z")],
        ),
        person(
            "chandra",
            Some(chrono_tz::Asia::Kolkata),
            &[("2026-10-29T18:30:00Z", "2026-10-30T18:30:00Z")],
        ),
    ];
    let full: &[&str] = &[
        "11:00", "11:30", "12:00", "12:30", "13:00", "13:30", "14:00", "14:30",
    ];
    let want = expected(
        &[
            ("2026-10-19", full),
            ("2026-10-20", full),
            ("2026-10-21", &["11:00", "13:00", "13:30", "14:00", "14:30"]),
            ("2026-10-22", full),
            ("2026-10-23", full),
            ("2026-10-26", full),
            ("2026-10-27", full),
            ("2026-10-28", &["11:00", "11:30", "12:00", "12:30"]),
            ("2026-10-29", full),
            (
                "2026-11-02",
                &["12:00", "12:30", "13:00", "13:30", "14:00", "14:30"],
            ),
        ],
        60,
    );
    assert_eq!(want.len(), 71);
    assert_eq!(compute_slots(&q, &people).unwrap(), want);
    // The participants' order does not matter; max_slots cuts the same list.
    let reversed: Vec<_> = people.iter().rev().cloned().collect();
    q.max_slots = 10;
    assert_eq!(compute_slots(&q, &reversed).unwrap(), want[..10].to_vec());
}

/// Berlin and New York, 09:00-17:00 in their own zones. In UTC Berlin works 07:00-15:00
/// on CEST (until 2026-10-25) and 08:00-16:00 on CET; New York 13:00-21:00 on EDT. The
/// common time grows from 13:00-15:00 on Friday 2026-10-23 to 13:00-16:00 on Monday
/// 2026-10-26, the week the two zones are five hours apart instead of six.
#[test]
fn berlin_and_new_york_across_the_european_change() {
    let mut q = query(
        iv("2026-10-19T00:00:00Z", "2026-10-27T00:00:00Z"),
        60,
        60,
        0,
    );
    q.working_hours = weekdays(hm(9, 0), hm(17, 0), None);
    let people = [
        person("ann", Some(chrono_tz::Europe::Berlin), &[]),
        person("bob", Some(chrono_tz::America::New_York), &[]),
    ];
    let two: &[&str] = &["13:00", "14:00"];
    let want = expected(
        &[
            ("2026-10-19", two),
            ("2026-10-20", two),
            ("2026-10-21", two),
            ("2026-10-22", two),
            ("2026-10-23", two),
            ("2026-10-26", &["13:00", "14:00", "15:00"]),
        ],
        60,
    );
    assert_eq!(compute_slots(&q, &people).unwrap(), want);
}

/// `working_hours.time_zone` overrides every participant's own zone: all three work
/// 09:00-17:00 Berlin time, which is 07:00-15:00 UTC on Friday 2026-10-23 and 08:00-16:00
/// on Monday 2026-10-26: one 8-hour slot on each side of the change.
#[test]
fn one_zone_for_all_keeps_eight_hour_days() {
    let mut q = query(
        iv("2026-10-23T00:00:00Z", "2026-10-27T00:00:00Z"),
        480,
        60,
        0,
    );
    q.working_hours = weekdays(hm(9, 0), hm(17, 0), Some(chrono_tz::Europe::Berlin));
    let people = [
        person("ann", Some(chrono_tz::Asia::Kolkata), &[]),
        person("bob", None, &[]),
        person("chandra", Some(chrono_tz::America::New_York), &[]),
    ];
    assert_eq!(
        compute_slots(&q, &people).unwrap(),
        vec![
            iv("2026-10-23T07:00:00Z", "2026-10-23T15:00:00Z"),
            iv("2026-10-26T08:00:00Z", "2026-10-26T16:00:00Z")
        ]
    );
}

/// The grid starts at `time_min` (10:07), not at a round hour; busy time just before the
/// window still blocks through the buffer.
#[test]
fn grid_from_time_min_and_buffers_at_the_edge() {
    let q = query(
        iv("2026-01-05T10:07:00Z", "2026-01-05T12:07:00Z"),
        30,
        20,
        5,
    );
    let free = [person("ann", None, &[])];
    let starts = |slots: Vec<Interval>| {
        slots
            .iter()
            .map(|s| s.start.format("%H:%M").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        starts(compute_slots(&q, &free).unwrap()),
        ["10:07", "10:27", "10:47", "11:07", "11:27"]
    );
    // 09:50-10:04 widened to 10:09 blocks 10:07; 10:30-10:40 widened to 10:25-10:45 blocks
    // 10:27 (and would block 10:07); 11:57-12:30 widened from 11:52 blocks 11:27 (ends 11:57).
    let busy = [person(
        "ann",
        None,
        &[
            ("2026-01-05T10:30:00Z", "2026-01-05T10:40:00Z"),
            ("2026-01-05T09:50:00Z", "2026-01-05T10:04:00Z"),
            ("2026-01-05T11:57:00Z", "2026-01-05T12:30:00Z"),
        ],
    )];
    assert_eq!(
        starts(compute_slots(&q, &busy).unwrap()),
        ["10:47", "11:07"]
    );
    let mut one = q.clone();
    one.max_slots = 1;
    assert_eq!(starts(compute_slots(&one, &busy).unwrap()), ["10:47"]);
}

#[test]
fn no_working_hours_means_the_whole_day_across_midnight() {
    let q = query(
        iv("2026-01-05T22:00:00Z", "2026-01-06T02:00:00Z"),
        240,
        15,
        0,
    );
    let people = [
        person("ann", Some(chrono_tz::Asia::Kolkata), &[]),
        person("bob", None, &[]),
    ];
    assert_eq!(compute_slots(&q, &people).unwrap(), vec![q.window]);
}

#[test]
fn missing_zone_is_an_error_naming_the_participant() {
    let mut q = query(
        iv("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"),
        30,
        15,
        0,
    );
    q.working_hours = weekdays(hm(9, 0), hm(17, 0), None);
    // Even when an earlier participant leaves no free time at all.
    let people = [
        person(
            "ann",
            Some(chrono_tz::UTC),
            &[("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z")],
        ),
        person("bob", None, &[]),
    ];
    assert_eq!(
        compute_slots(&q, &people),
        Err(AvailabilityError::MissingTimeZone {
            user_id: "bob".into()
        })
    );
}

#[test]
fn a_slot_longer_than_any_free_stretch_fits_nowhere() {
    let mut q = query(
        iv("2026-01-05T00:00:00Z", "2026-01-10T00:00:00Z"),
        600,
        15,
        0,
    );
    q.working_hours = weekdays(hm(9, 0), hm(17, 0), Some(chrono_tz::UTC));
    assert_eq!(
        compute_slots(&q, &[person("ann", None, &[])]).unwrap(),
        vec![]
    );
    q.duration = TimeDelta::minutes(480);
    assert_eq!(
        compute_slots(&q, &[person("ann", None, &[])])
            .unwrap()
            .len(),
        5
    );
}
