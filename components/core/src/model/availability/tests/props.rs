//! Property tests of `compute_slots` against a brute-force oracle that checks
//! every grid point by wall-clock time: no slot overlaps busy time widened by the buffer,
//! every slot lies inside every participant's working hours, slots ascend on the grid, at
//! most `max_slots`, and adding busy time never adds a slot.
//!
//! Working hours are drawn from 04:00 to 23:59 local time, where none of these zones
//! changes its offset, so reading local wall-clock times is an exact oracle.

use super::super::{Interval, ParticipantBusy, SlotQuery, UserId, WorkingHours, compute_slots};
use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: [Tz; 8] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::America::St_Johns,
    chrono_tz::Pacific::Auckland,
];

const DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

#[derive(Debug, Clone)]
struct Case {
    query: SlotQuery,
    people: Vec<ParticipantBusy>,
    /// More busy time, for the monotonicity property.
    extra: Vec<Interval>,
}

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
}

fn hours() -> impl Strategy<Value = Option<WorkingHours>> {
    let some = (
        240u32..=1200,
        1u32..=1199,
        1u8..128,
        proptest::option::of(0..ZONES.len()),
    )
        .prop_map(|(start, len, mask, zone)| {
            let end = (start + len).min(1439);
            let t = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
            WorkingHours {
                start: t(start),
                end: t(end),
                days: DAYS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, d)| *d)
                    .collect(),
                time_zone: zone.map(|z| ZONES[z]),
            }
        });
    proptest::option::weighted(0.8, some)
}

/// Up to 7 busy intervals around a window of `minutes` from `from`.
fn busy(from: DateTime<Utc>, minutes: i64) -> impl Strategy<Value = Vec<Interval>> {
    let one = (-600..minutes + 600, 1i64..240).prop_map(move |(at, len)| {
        let start = from + TimeDelta::minutes(at);
        Interval {
            start,
            end: start + TimeDelta::minutes(len),
        }
    });
    proptest::collection::vec(one, 0..8)
}

fn case() -> impl Strategy<Value = Case> {
    (
        0i64..365 * 24 * 60,
        0i64..60,
        prop_oneof![1 => 60i64..=24 * 60, 3 => 24 * 60..=7 * 24 * 60i64],
        (
            prop_oneof![5i64..=60, 5i64..=480],
            5i64..=180,
            0i64..=120,
            1usize..=200,
        ),
        hours(),
    )
        .prop_flat_map(
            |(offset, seconds, len, (duration, interval, buffer, max_slots), wh)| {
                let start = origin() + TimeDelta::minutes(offset) + TimeDelta::seconds(seconds);
                let query = SlotQuery {
                    window: Interval {
                        start,
                        end: start + TimeDelta::minutes(len),
                    },
                    duration: TimeDelta::minutes(duration),
                    interval: TimeDelta::minutes(interval),
                    buffer: TimeDelta::minutes(buffer),
                    working_hours: wh,
                    max_slots,
                };
                let person =
                    (0..ZONES.len(), busy(start, len)).prop_map(|(z, busy)| (ZONES[z], busy));
                (
                    Just(query),
                    proptest::collection::vec(person, 1..=3),
                    busy(start, len),
                )
            },
        )
        .prop_map(|(query, people, extra)| Case {
            query,
            extra,
            people: people
                .into_iter()
                .enumerate()
                .map(|(i, (zone, busy))| ParticipantBusy {
                    user_id: UserId::parse(&format!("u{i}")).unwrap(),
                    busy,
                    time_zone: Some(zone),
                })
                .collect(),
        })
}

fn widened(b: &Interval, buffer: TimeDelta) -> Interval {
    Interval {
        start: b.start - buffer,
        end: b.end + buffer,
    }
}

fn clear_of_busy(slot: &Interval, p: &ParticipantBusy, buffer: TimeDelta) -> bool {
    p.busy.iter().all(|b| !widened(b, buffer).overlaps(slot))
}

/// By the wall clock: the slot starts and ends on one listed local day, within the hours.
fn inside_hours(slot: &Interval, p: &ParticipantBusy, wh: &Option<WorkingHours>) -> bool {
    let Some(wh) = wh else { return true };
    let zone = wh.time_zone.or(p.time_zone).unwrap();
    let (a, b) = (
        slot.start.with_timezone(&zone),
        slot.end.with_timezone(&zone),
    );
    a.date_naive() == b.date_naive()
        && wh.days.contains(&a.weekday())
        && a.time() >= wh.start
        && b.time() <= wh.end
}

/// Every grid point, checked on its own.
fn oracle(case: &Case) -> Vec<Interval> {
    let q = &case.query;
    let mut out = Vec::new();
    let mut start = q.window.start;
    while start + q.duration <= q.window.end {
        let slot = Interval {
            start,
            end: start + q.duration,
        };
        if case
            .people
            .iter()
            .all(|p| inside_hours(&slot, p, &q.working_hours) && clear_of_busy(&slot, p, q.buffer))
        {
            out.push(slot);
        }
        start += q.interval;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn slots_are_exactly_the_free_grid_points_up_to_max_slots(case in case()) {
        let got = compute_slots(&case.query, &case.people).unwrap();
        let mut want = oracle(&case);
        want.truncate(case.query.max_slots);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn every_slot_is_free_inside_hours_on_the_grid_and_ascending(case in case()) {
        let q = &case.query;
        let got = compute_slots(q, &case.people).unwrap();
        prop_assert!(got.len() <= q.max_slots);
        for s in &got {
            prop_assert_eq!(s.end - s.start, q.duration);
            prop_assert!(q.window.contains(s));
            let offset = (s.start - q.window.start).num_seconds();
            prop_assert_eq!(offset % q.interval.num_seconds(), 0);
            for p in &case.people {
                prop_assert!(clear_of_busy(s, p, q.buffer), "{s:?} overlaps busy of {}", p.user_id);
                prop_assert!(inside_hours(s, p, &q.working_hours), "{s:?} outside hours of {}", p.user_id);
            }
        }
        prop_assert!(got.windows(2).all(|w| w[0].start < w[1].start));
    }

    #[test]
    fn more_busy_time_never_adds_a_slot(case in case(), who in 0usize..4) {
        // No cut: with one, a slot lost early lets a later one into the first N.
        let mut q = case.query.clone();
        q.max_slots = usize::MAX;
        let before = compute_slots(&q, &case.people).unwrap();
        let mut busier = case.people.clone();
        let n = busier.len();
        busier[who % n].busy.extend(case.extra.iter().copied());
        let after = compute_slots(&q, &busier).unwrap();
        prop_assert!(after.iter().all(|s| before.contains(s)));
        prop_assert!(after.len() <= before.len());
    }
}
