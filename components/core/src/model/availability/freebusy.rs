//! Splitting one participant's calendars into `freebusy.query` batches and merging the
//! answers into one busy list.

use super::intervals::{Interval, merge_busy};
use std::collections::HashMap;

/// Google answers `freebusy.query` for at most this many calendars at a time.
pub const FREEBUSY_MAX_CALENDARS: usize = 50;

/// The calendar ids in batches of at most [`FREEBUSY_MAX_CALENDARS`], in order; none empty.
pub fn calendar_chunks(calendar_ids: &[String]) -> impl Iterator<Item = &[String]> {
    calendar_ids.chunks(FREEBUSY_MAX_CALENDARS)
}

/// One calendar's entry in a `freebusy.query` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarBusy {
    pub busy: Vec<Interval>,
    /// Google's `errors[].reason` (`notFound`, `internalError`, ...).
    pub errors: Vec<String>,
}

/// A calendar that cannot be counted: Google reported errors for it, or did not answer for
/// it at all (`"missing"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFailure {
    pub calendar_id: String,
    pub reasons: Vec<String>,
}

/// Joins the answers of every batch (calendar id → entry) into one merged busy list for the
/// calendars `asked`. Any asked calendar with errors or without an entry makes the whole
/// result an error listing those calendars in the order asked: availability is never
/// computed from partial data. Entries nobody asked for are ignored.
pub fn merge_freebusy(
    asked: &[String],
    answers: impl IntoIterator<Item = (String, CalendarBusy)>,
) -> Result<Vec<Interval>, Vec<CalendarFailure>> {
    let mut answers: HashMap<String, CalendarBusy> = answers.into_iter().collect();
    let mut busy = Vec::new();
    let mut failures = Vec::new();
    for id in asked {
        match answers.remove(id) {
            Some(entry) if entry.errors.is_empty() => busy.extend(entry.busy),
            Some(entry) => failures.push(CalendarFailure {
                calendar_id: id.clone(),
                reasons: entry.errors,
            }),
            None => failures.push(CalendarFailure {
                calendar_id: id.clone(),
                reasons: vec!["missing".to_owned()],
            }),
        }
    }
    if failures.is_empty() {
        Ok(merge_busy(busy))
    } else {
        Err(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: &str, b: &str) -> Interval {
        Interval::parse_rfc3339(a, b).unwrap()
    }

    #[test]
    fn chunks_of_fifty() {
        let ids: Vec<String> = (0..120).map(|i| format!("c{i}@example.com")).collect();
        let sizes: Vec<usize> = calendar_chunks(&ids).map(<[String]>::len).collect();
        assert_eq!(sizes, vec![50, 50, 20]);
        let back: Vec<String> = calendar_chunks(&ids).flatten().cloned().collect();
        assert_eq!(back, ids);
        assert_eq!(calendar_chunks(&ids[..50]).count(), 1);
        assert_eq!(calendar_chunks(&[]).count(), 0);
    }

    #[test]
    fn answers_of_several_batches_merge_into_one_sorted_list() {
        let asked = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let entry = |busy| CalendarBusy {
            busy,
            errors: vec![],
        };
        let answers = vec![
            (
                "a".to_owned(),
                entry(vec![iv("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z")]),
            ),
            (
                "b".to_owned(),
                entry(vec![iv("2026-01-05T09:00:00Z", "2026-01-05T10:30:00Z")]),
            ),
            (
                "c".to_owned(),
                entry(vec![iv("2026-01-05T13:00:00Z", "2026-01-05T14:00:00Z")]),
            ),
            (
                "unasked".to_owned(),
                entry(vec![iv("2026-01-05T20:00:00Z", "2026-01-05T21:00:00Z")]),
            ),
        ];
        assert_eq!(
            merge_freebusy(&asked, answers),
            Ok(vec![
                iv("2026-01-05T09:00:00Z", "2026-01-05T11:00:00Z"),
                iv("2026-01-05T13:00:00Z", "2026-01-05T14:00:00Z"),
            ])
        );
    }

    #[test]
    fn an_error_or_a_missing_calendar_fails_the_whole_participant() {
        let asked = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let answers = vec![
            ("a".to_owned(), CalendarBusy::default()),
            (
                "b".to_owned(),
                CalendarBusy {
                    busy: vec![],
                    errors: vec!["notFound".to_owned()],
                },
            ),
        ];
        assert_eq!(
            merge_freebusy(&asked, answers),
            Err(vec![
                CalendarFailure {
                    calendar_id: "b".into(),
                    reasons: vec!["notFound".into()]
                },
                CalendarFailure {
                    calendar_id: "c".into(),
                    reasons: vec!["missing".into()]
                },
            ])
        );
    }
}
