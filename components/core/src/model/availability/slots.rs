//! The slot grid: free time common to every participant, walked in `interval` steps.

use super::UserId;
use super::error::AvailabilityError;
use super::hours::working_intervals;
use super::intervals::{Interval, intersect, subtract, widen};
use super::request::SlotQuery;
use chrono::TimeDelta;
use chrono_tz::Tz;

/// What free/busy said about one participant, with the zone their working hours apply in
/// when `working_hours.time_zone` is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantBusy {
    pub user_id: UserId,
    /// In any order, may overlap; merged here.
    pub busy: Vec<Interval>,
    pub time_zone: Option<Tz>,
}

/// The slots `[start, start + duration)` with `start = window.start + k * interval`,
/// `end <= window.end`, inside every participant's working hours (the whole window without
/// working hours) and clear of every participant's busy time widened by `buffer`;
/// ascending, at most `max_slots`.
///
/// Cost: linear in busy intervals plus days per participant, plus the slots returned; free
/// stretches too short for a slot cost one step each.
///
/// The only error is `missing_time_zone`: working hours without `working_hours.time_zone`
/// for a participant without a zone of their own.
pub fn compute_slots(
    query: &SlotQuery,
    participants: &[ParticipantBusy],
) -> Result<Vec<Interval>, AvailabilityError> {
    let zones = participants
        .iter()
        .map(|p| match &query.working_hours {
            None => Ok(None),
            Some(hours) => hours.time_zone.or(p.time_zone).map(Some).ok_or_else(|| {
                AvailabilityError::MissingTimeZone {
                    user_id: p.user_id.to_string(),
                }
            }),
        })
        .collect::<Result<Vec<Option<Tz>>, _>>()?;
    let mut free = vec![query.window];
    for (p, zone) in participants.iter().zip(zones) {
        if free.is_empty() {
            break;
        }
        let allowed = match (&query.working_hours, zone) {
            (Some(hours), Some(zone)) => working_intervals(hours, zone, query.window),
            _ => vec![query.window],
        };
        let blocked = widen(&p.busy, query.buffer);
        free = intersect(&free, &subtract(&allowed, &blocked));
    }
    Ok(walk_grid(query, &free))
}

/// Grid starts inside `free` (sorted, disjoint, within the window) where a whole slot fits.
fn walk_grid(query: &SlotQuery, free: &[Interval]) -> Vec<Interval> {
    let (step, duration) = (query.interval, query.duration);
    let mut out = Vec::new();
    if step <= TimeDelta::zero() || duration <= TimeDelta::zero() || query.max_slots == 0 {
        return out;
    }
    let origin = query.window.start;
    let step_ms = step.num_milliseconds().max(1);
    for stretch in free {
        let offset_ms = (stretch.start - origin).num_milliseconds().max(0);
        let k = offset_ms.div_euclid(step_ms) + i64::from(offset_ms.rem_euclid(step_ms) != 0);
        let Some(mut start) = k
            .checked_mul(step_ms)
            .and_then(|ms| origin.checked_add_signed(TimeDelta::milliseconds(ms)))
        else {
            break;
        };
        // Sub-millisecond remainders: at most one more step.
        while start < stretch.start {
            let Some(next) = start.checked_add_signed(step) else {
                return out;
            };
            start = next;
        }
        while let Some(end) = start.checked_add_signed(duration) {
            if end > stretch.end {
                break;
            }
            out.push(Interval { start, end });
            if out.len() >= query.max_slots {
                return out;
            }
            let Some(next) = start.checked_add_signed(step) else {
                return out;
            };
            start = next;
        }
    }
    out
}
