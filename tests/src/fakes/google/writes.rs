//! What event writes asked for (`sendUpdates` and friends), and ETag preconditions.
//!
//! Every successful `events.insert`/`patch`/`update`/`delete` is recorded as a
//! [`WriteRecord`], so tests can assert which invitations Google would have sent.
//! `If-Match` on patch, update and delete is checked against the event's current ETag
//! (412 `conditionNotMet` when stale; `*` matches any existing event); `If-None-Match`
//! on `events.get` answers 304 when it matches. Unknown events skip the check (their
//! 404 comes from the store).

use http::Method;
use serde_json::Value;

use super::super::server::Incoming;
use super::calendar::ApiError;
use super::calendar_list::AccessRole;

/// One successful event write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    /// `insert`, `patch`, `update` or `delete`.
    pub method: &'static str,
    pub account: String,
    /// The calendar id as requested (`primary` stays `primary`).
    pub calendar_id: String,
    pub event_id: String,
    /// `sendUpdates` as sent (`None`: absent, Google's default `none`).
    pub send_updates: Option<String>,
    /// The deprecated `sendNotifications`, as sent.
    pub send_notifications: Option<String>,
    pub conference_data_version: Option<String>,
    pub if_match: Option<String>,
    /// Emails of the event's attendees after the write, the account's own excluded:
    /// who `sendUpdates=all` would email.
    pub attendees: Vec<String>,
}

fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

impl WriteRecord {
    pub fn new(
        method: &'static str,
        account: &str,
        calendar_id: &str,
        event_id: &str,
        params: &[(String, String)],
        if_match: Option<&str>,
        event: Option<&Value>,
    ) -> Self {
        let attendees = event
            .and_then(|e| e.get("attendees"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|a| a.get("email").and_then(Value::as_str))
                    .filter(|e| !e.eq_ignore_ascii_case(account))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        WriteRecord {
            method,
            account: account.to_owned(),
            calendar_id: calendar_id.to_owned(),
            event_id: event_id.to_owned(),
            send_updates: param(params, "sendUpdates"),
            send_notifications: param(params, "sendNotifications"),
            conference_data_version: param(params, "conferenceDataVersion"),
            if_match: if_match.map(str::to_owned),
            attendees,
        }
    }
}

/// Whether an `If-Match`/`If-None-Match` list names `etag` (`*` names any).
fn names(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// `If-Match` against the current ETag: 412 `conditionNotMet` when it names another.
pub fn check_if_match(if_match: Option<&str>, current: Option<&str>) -> Result<(), ApiError> {
    match (if_match, current) {
        (Some(header), Some(etag)) if !names(header, etag) => {
            Err(ApiError::new(412, "conditionNotMet", "Precondition Failed"))
        }
        _ => Ok(()),
    }
}

/// Whether `If-None-Match` makes a read 304 Not Modified.
pub fn not_modified(if_none_match: Option<&str>, current: Option<&str>) -> bool {
    matches!((if_none_match, current), (Some(header), Some(etag)) if names(header, etag))
}

impl super::State {
    /// An event write (`event_id` `None`: insert): the account's role on the calendar,
    /// `If-Match`, the store, then the record.
    pub(super) fn write_event(
        &mut self,
        req: &Incoming,
        account: &str,
        calendar: &str,
        event_id: Option<&str>,
        params: &[(String, String)],
        body: impl FnOnce() -> Result<Value, ApiError>,
    ) -> Result<Option<Value>, ApiError> {
        if self.calendar_list.role(account, calendar) < AccessRole::Writer {
            return Err(ApiError::new(
                403,
                "requiredAccessLevel",
                "You need to have writer access to this calendar.",
            ));
        }
        let if_match = req.header("if-match");
        let (method, written) = match event_id {
            None => {
                let created = self.store.insert(account, calendar, &body()?, params)?;
                ("insert", created)
            }
            Some(id) => {
                let current = self.store.get(account, calendar, id).ok();
                let etag = current
                    .as_ref()
                    .and_then(|e| e.get("etag"))
                    .and_then(Value::as_str);
                check_if_match(if_match, etag)?;
                if req.method == Method::DELETE {
                    self.store.delete(account, calendar, id, params)?;
                    ("delete", current.unwrap_or(Value::Null))
                } else {
                    let replace = req.method == Method::PUT;
                    let body = body()?;
                    let changed = self
                        .store
                        .modify(account, calendar, id, &body, params, replace)?;
                    (if replace { "update" } else { "patch" }, changed)
                }
            }
        };
        let id = written
            .get("id")
            .and_then(Value::as_str)
            .or(event_id)
            .unwrap_or_default()
            .to_owned();
        self.writes.push(WriteRecord::new(
            method,
            account,
            calendar,
            &id,
            params,
            if_match,
            Some(&written),
        ));
        Ok((method != "delete").then_some(written))
    }
}
