//! In-memory Calendar API v3 store: events per (account, calendar), tombstones, change
//! sequence numbers for sync tokens, snapshot pagination, and push channels.
//!
//! Deliberate simplifications (documented in the parent module too):
//! - `events.list` does not expand recurring events: with `singleEvents=true` a recurring
//!   event is returned as is, and it matches a time window when its first start is before
//!   `timeMax` (the `recurrence` module expands them for instances and free/busy; it also
//!   validates `recurrence` on every write);
//! - all-day dates are read as UTC, `dateTime`s without offset in their `timeZone`;
//! - unknown event fields are ignored, like Google does (they are not stored).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::{ALNUM, random_string};
use super::conference::{Conferences, sync_hangout_link};
use super::recurrence::{self, local_instant};

/// Lifetime of a push channel when the request names none: one week, as Google.
pub const CHANNEL_DEFAULT_TTL_SECS: i64 = 7 * 24 * 3600;
/// Default `maxResults` of `events.list`.
pub const DEFAULT_MAX_RESULTS: usize = 250;
/// Time zone of every fake calendar.
pub const CALENDAR_TIME_ZONE: &str = "UTC";

/// Event fields a client may write; anything else in a request body is ignored.
const WRITABLE_FIELDS: &[&str] = &[
    "id",
    "status",
    "summary",
    "description",
    "location",
    "colorId",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "recurringEventId",
    "originalStartTime",
    "transparency",
    "visibility",
    "iCalUID",
    "sequence",
    "attendees",
    "attendeesOmitted",
    "extendedProperties",
    "conferenceData",
    "gadget",
    "anyoneCanAddSelf",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "privateCopy",
    "locked",
    "reminders",
    "source",
    "attachments",
    "eventType",
    "workingLocationProperties",
    "outOfOfficeProperties",
    "focusTimeProperties",
    "birthdayProperties",
];

/// Query parameters that cannot be combined with `syncToken`.
const NOT_WITH_SYNC_TOKEN: &[&str] = &[
    "timeMin",
    "timeMax",
    "q",
    "orderBy",
    "updatedMin",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
];

/// A Calendar API error, rendered by the caller in Google's JSON error shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    fn bad(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(400, reason, message)
    }

    fn invalid_value(value: &str) -> Self {
        ApiError::bad("invalid", format!("Invalid value '{value}'."))
    }

    pub fn not_found() -> Self {
        ApiError::new(404, "notFound", "Not Found")
    }

    fn deleted() -> Self {
        ApiError::new(410, "deleted", "Resource has been deleted")
    }

    pub fn full_sync_required() -> Self {
        ApiError::new(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        )
    }

    fn parse_error() -> Self {
        ApiError::bad("parseError", "Parse Error")
    }
}

/// A push channel opened with `events.watch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub resource_id: String,
    pub resource_uri: String,
    pub address: String,
    pub token: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub expiration_ms: i64,
    pub account: String,
    pub calendar_id: String,
    /// Number of the last message pushed (0 before the first).
    pub message_number: u64,
}

/// An event as stored, with where it lives.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub account: String,
    pub calendar_id: String,
    pub event: Value,
}

#[derive(Debug)]
struct Entry {
    /// Insertion order: the default list order.
    order: u64,
    /// Store sequence number of the last change, for sync tokens.
    seq: u64,
    event: Map<String, Value>,
}

impl Entry {
    fn is_cancelled(&self) -> bool {
        self.event.get("status").and_then(Value::as_str) == Some("cancelled")
    }
}

#[derive(Debug)]
struct Calendar {
    resource_id: String,
    updated: DateTime<Utc>,
    events: BTreeMap<String, Entry>,
    next_order: u64,
}

/// Server-side state of one `nextPageToken`: the snapshot of the whole result.
#[derive(Debug)]
struct Page {
    key: (String, String),
    /// Sorted query parameters of the first request, minus paging ones.
    query: Vec<(String, String)>,
    ids: Arc<Vec<String>>,
    offset: usize,
    sync_seq: u64,
    /// Whether this paginates an incremental sync (then invalidation applies).
    sync: bool,
    epoch: u64,
}

/// What a sync token encodes (opaque to clients).
#[derive(Debug, Serialize, Deserialize)]
struct SyncToken {
    a: String,
    c: String,
    s: u64,
    e: u64,
}

#[derive(Debug, Default)]
pub struct Store {
    calendars: BTreeMap<(String, String), Calendar>,
    /// Global change counter.
    seq: u64,
    /// Bumped by `invalidate_sync_tokens`: tokens of older epochs answer 410.
    epoch: u64,
    pages: HashMap<String, Page>,
    pub channels: BTreeMap<String, Channel>,
    /// Conferences made by `conferenceData.createRequest`.
    pub conferences: Conferences,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Default,
    StartTime,
    Updated,
}

/// Milliseconds, `Z`: the format of Google's `created`/`updated`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Resolves `primary` to the account's primary calendar id (its email).
fn resolve(account: &str, calendar_id: &str) -> String {
    if calendar_id == "primary" {
        account.to_owned()
    } else {
        calendar_id.to_owned()
    }
}

pub(super) fn single(params: &[(String, String)], name: &str) -> Result<Option<String>, ApiError> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = values.next().cloned();
    if values.next().is_some() {
        return Err(ApiError::bad(
            "invalidParameter",
            format!("Parameter {name} may not be repeated."),
        ));
    }
    Ok(first)
}

pub(super) fn parse_bool(
    params: &[(String, String)],
    name: &str,
) -> Result<Option<bool>, ApiError> {
    match single(params, name)?.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid_value(other)),
    }
}

/// `timeMin`/`timeMax`/`updatedMin`: RFC 3339 with a mandatory offset.
pub(super) fn parse_bound(
    params: &[(String, String)],
    name: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match single(params, name)? {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(&text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::bad("badRequest", "Bad Request")),
    }
}

/// Plausible IANA zone name. Without a tz database we only check the shape.
pub fn plausible_time_zone(name: &str) -> bool {
    let shape_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c))
        && name.starts_with(|c: char| c.is_ascii_uppercase());
    shape_ok
        && (matches!(name, "UTC" | "GMT")
            || name
                .split_once('/')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()))
}

/// Send-updates and similar write options, validated like Google.
fn check_write_params(params: &[(String, String)]) -> Result<(), ApiError> {
    if let Some(v) = single(params, "sendUpdates")?
        && !matches!(v.as_str(), "all" | "externalOnly" | "none")
    {
        return Err(ApiError::invalid_value(&v));
    }
    parse_bool(params, "sendNotifications")?;
    parse_bool(params, "supportsAttachments")?;
    if let Some(v) = single(params, "conferenceDataVersion")?
        && !matches!(v.as_str(), "0" | "1")
    {
        return Err(ApiError::invalid_value(&v));
    }
    if let Some(v) = single(params, "maxAttendees")?
        && !matches!(v.parse::<u32>(), Ok(n) if n > 0)
    {
        return Err(ApiError::invalid_value(&v));
    }
    Ok(())
}

/// Event ids: 5..1024 characters of base32hex (lowercase `a-v`, digits).
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'))
}

/// Start or end of an event.
#[derive(Clone, Copy, PartialEq)]
enum When {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

fn parse_local_date_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// Reads `start`/`end`, checking the rules Google applies.
fn parse_when(event: &Map<String, Value>, which: &str, recurring: bool) -> Result<When, ApiError> {
    let Some(value) = event.get(which).filter(|v| !v.is_null()) else {
        return Err(ApiError::bad("required", format!("Missing {which} time.")));
    };
    let invalid = || ApiError::bad("invalid", format!("Invalid {which} time."));
    let Some(obj) = value.as_object() else {
        return Err(invalid());
    };
    let date = obj.get("date").filter(|v| !v.is_null());
    let date_time = obj.get("dateTime").filter(|v| !v.is_null());
    let time_zone = obj.get("timeZone").filter(|v| !v.is_null());
    if let Some(tz) = time_zone
        && !tz.as_str().is_some_and(plausible_time_zone)
    {
        return Err(ApiError::bad(
            "invalid",
            format!("Invalid time zone definition for {which} time."),
        ));
    }
    match (date, date_time) {
        (Some(date), None) => date
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(When::Date)
            .ok_or_else(invalid),
        (None, Some(date_time)) => {
            let text = date_time.as_str().ok_or_else(invalid)?;
            let missing_zone = || {
                ApiError::bad(
                    "required",
                    format!("Missing time zone definition for {which} time."),
                )
            };
            // Google wants an explicit zone on recurring events even with an offset.
            if recurring && time_zone.is_none() {
                return Err(missing_zone());
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(text) {
                return Ok(When::Instant(t.with_timezone(&Utc)));
            }
            let local = parse_local_date_time(text).ok_or_else(invalid)?;
            if time_zone.is_none() {
                return Err(missing_zone());
            }
            Ok(When::Instant(local_instant(
                local,
                time_zone.and_then(Value::as_str),
            )))
        }
        _ => Err(invalid()),
    }
}

fn check_string(event: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    match event.get(name) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(ApiError::parse_error()),
    }
}

fn check_enum(event: &Map<String, Value>, name: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match event.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(Value::String(s)) => Err(ApiError::invalid_value(s)),
        Some(_) => Err(ApiError::parse_error()),
    }
}

/// Validates an event body (after merging, for patches).
fn validate_event(event: &Map<String, Value>) -> Result<(), ApiError> {
    for name in ["summary", "description", "location", "colorId", "iCalUID"] {
        check_string(event, name)?;
    }
    check_enum(event, "status", &["confirmed", "tentative", "cancelled"])?;
    check_enum(event, "transparency", &["opaque", "transparent"])?;
    check_enum(
        event,
        "visibility",
        &["default", "public", "private", "confidential"],
    )?;

    let recurrence = match event.get("recurrence") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(lines)) => lines.clone(),
        Some(_) => return Err(ApiError::parse_error()),
    };
    for line in &recurrence {
        let ok = line.as_str().is_some_and(|l| {
            let upper = l.to_ascii_uppercase();
            ["RRULE:", "EXRULE:", "RDATE", "EXDATE"]
                .iter()
                .any(|p| upper.starts_with(p))
        });
        if !ok {
            return Err(ApiError::bad("invalid", "Invalid recurrence rule."));
        }
    }
    let recurring = !recurrence.is_empty();

    let start = parse_when(event, "start", recurring)?;
    let end = parse_when(event, "end", recurring)?;
    match (start, end) {
        (When::Date(s), When::Date(e)) if e <= s => {
            return Err(ApiError::bad(
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
        (When::Instant(s), When::Instant(e)) if e < s => {
            return Err(ApiError::bad(
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
        (When::Date(_), When::Instant(_)) | (When::Instant(_), When::Date(_)) => {
            return Err(ApiError::bad(
                "invalid",
                "Start and end times must either both be date or both be dateTime.",
            ));
        }
        _ => {}
    }

    match event.get("attendees") {
        None | Some(Value::Null) => {}
        Some(Value::Array(attendees)) => {
            for attendee in attendees {
                let email = attendee.get("email").and_then(Value::as_str);
                match email {
                    None => return Err(ApiError::bad("required", "Missing attendee email.")),
                    Some(e) if !e.contains('@') || e.starts_with('@') || e.ends_with('@') => {
                        return Err(ApiError::bad("invalid", "Invalid attendee email."));
                    }
                    Some(_) => {}
                }
            }
        }
        Some(_) => return Err(ApiError::parse_error()),
    }

    match event.get("reminders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(reminders)) => {
            let use_default = match reminders.get("useDefault") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(ApiError::parse_error()),
            };
            let overrides = match reminders.get("overrides") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(o)) => o.clone(),
                Some(_) => return Err(ApiError::parse_error()),
            };
            if use_default && !overrides.is_empty() {
                return Err(ApiError::bad(
                    "cannotUseDefaultRemindersAndSpecifyOverride",
                    "Cannot specify both default reminders and overrides at the same time.",
                ));
            }
            if overrides.len() > 5 {
                return Err(ApiError::bad(
                    "tooManyReminders",
                    "Too many reminders specified.",
                ));
            }
            for reminder in &overrides {
                let method_ok = matches!(
                    reminder.get("method").and_then(Value::as_str),
                    Some("email" | "popup")
                );
                let minutes_ok = reminder
                    .get("minutes")
                    .and_then(Value::as_i64)
                    .is_some_and(|m| (0..=40320).contains(&m));
                if !method_ok {
                    return Err(ApiError::bad("required", "Missing reminder method."));
                }
                if !minutes_ok {
                    return Err(ApiError::bad("invalid", "Invalid reminder minutes."));
                }
            }
        }
        Some(_) => return Err(ApiError::parse_error()),
    }
    recurrence::validate(event)
}

/// Start instant for ordering and filtering (all-day dates as UTC, local times in their
/// `timeZone`).
fn instant(event: &Map<String, Value>, which: &str) -> Option<DateTime<Utc>> {
    recurrence::instant_of(event, which)
}

fn updated_of(event: &Map<String, Value>) -> Option<DateTime<Utc>> {
    event
        .get("updated")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// JSON merge patch as Google's PATCH applies it: objects merge, `null` clears.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Keeps only writable fields of a client body.
fn writable(body: &Map<String, Value>) -> Map<String, Value> {
    body.iter()
        .filter(|(k, _)| WRITABLE_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What lists show of a deleted event: Google only guarantees the id.
fn tombstone(event: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for name in [
        "kind",
        "etag",
        "id",
        "status",
        "recurringEventId",
        "originalStartTime",
    ] {
        if let Some(v) = event.get(name) {
            out.insert(name.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn encode_sync_token(token: &SyncToken) -> String {
    let json = serde_json::to_vec(token).unwrap_or_default();
    format!(
        "CP{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    )
}

fn decode_sync_token(text: &str) -> Option<SyncToken> {
    let encoded = text.strip_prefix("CP")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Store {
    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The calendar, creating it when it is the account's primary one or `create` is set.
    fn calendar_mut(
        &mut self,
        account: &str,
        calendar_id: &str,
        create: bool,
    ) -> Option<&mut Calendar> {
        let id = resolve(account, calendar_id);
        let key = (account.to_owned(), id.clone());
        if !self.calendars.contains_key(&key) && (create || id == account) {
            self.calendars.insert(
                key.clone(),
                Calendar {
                    resource_id: random_string(ALNUM, 27),
                    updated: Utc::now(),
                    events: BTreeMap::new(),
                    next_order: 0,
                },
            );
        }
        self.calendars.get_mut(&key)
    }

    /// Creates an empty calendar for an account (no-op if it exists).
    pub fn create_calendar(&mut self, account: &str, calendar_id: &str) {
        self.calendar_mut(account, calendar_id, true);
    }

    /// `events.list`.
    pub fn list(
        &mut self,
        account: &str,
        calendar_id: &str,
        params: &[(String, String)],
    ) -> Result<Value, ApiError> {
        let time_min = parse_bound(params, "timeMin")?;
        let time_max = parse_bound(params, "timeMax")?;
        let updated_min = parse_bound(params, "updatedMin")?;
        let q = single(params, "q")?.map(|q| q.to_lowercase());
        let ical_uid = single(params, "iCalUID")?;
        let max_results = match single(params, "maxResults")? {
            None => DEFAULT_MAX_RESULTS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=2500).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad(
                        "invalid",
                        format!("Invalid value '{v}'. Values must be within the range: [1, 2500]"),
                    ));
                }
            },
        };
        let single_events = parse_bool(params, "singleEvents")?.unwrap_or(false);
        let show_deleted = parse_bool(params, "showDeleted")?.unwrap_or(false);
        let order = match single(params, "orderBy")?.as_deref() {
            None => Order::Default,
            Some("startTime") if single_events => Order::StartTime,
            Some("startTime") => {
                return Err(ApiError::bad(
                    "badRequest",
                    "The requested ordering is not available for the particular query.",
                ));
            }
            Some("updated") => Order::Updated,
            Some(other) => return Err(ApiError::invalid_value(other)),
        };
        let time_zone = single(params, "timeZone")?;
        if let Some(tz) = &time_zone
            && !plausible_time_zone(tz)
        {
            return Err(ApiError::invalid_value(tz));
        }
        if let (Some(min), Some(max)) = (time_min, time_max)
            && min >= max
        {
            return Err(ApiError::bad(
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
        let sync_token = single(params, "syncToken")?;
        let page_token = single(params, "pageToken")?;
        if sync_token.is_some()
            && let Some(name) = NOT_WITH_SYNC_TOKEN
                .iter()
                .find(|name| params.iter().any(|(k, _)| k == *name))
        {
            return Err(ApiError::bad(
                "invalid",
                format!("Sync token cannot be used together with {name}."),
            ));
        }
        // A page request may repeat the query or send the page token alone, but must not
        // change the query: every parameter it sends must be one of the first request's.
        let mut query: Vec<(String, String)> = {
            let mut pairs: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| k != "pageToken" && k != "maxResults")
                .cloned()
                .collect();
            pairs.sort();
            pairs
        };

        let key = (account.to_owned(), resolve(account, calendar_id));
        let epoch = self.epoch;
        let current_seq = self.seq;
        if self.calendar_mut(account, calendar_id, false).is_none() {
            return Err(ApiError::not_found());
        }
        let calendar = self.calendars.get(&key).ok_or_else(ApiError::not_found)?;

        let (ids, offset, sync_seq, sync_mode) = if let Some(token) = &page_token {
            let invalid = || ApiError::bad("invalid", "Invalid page token value.");
            let page = self.pages.get(token).ok_or_else(invalid)?;
            if page.key != key || !query.iter().all(|pair| page.query.contains(pair)) {
                return Err(invalid());
            }
            if page.sync && page.epoch != epoch {
                return Err(ApiError::full_sync_required());
            }
            query = page.query.clone();
            (page.ids.clone(), page.offset, page.sync_seq, page.sync)
        } else if let Some(token) = &sync_token {
            let decoded = decode_sync_token(token)
                .ok_or_else(|| ApiError::bad("invalid", "Invalid sync token value."))?;
            if decoded.e != epoch || decoded.a != key.0 || decoded.c != key.1 {
                return Err(ApiError::full_sync_required());
            }
            let mut changed: Vec<(&String, &Entry)> = calendar
                .events
                .iter()
                .filter(|(_, e)| e.seq > decoded.s)
                .collect();
            changed.sort_by_key(|(_, e)| e.seq);
            let ids = changed.into_iter().map(|(id, _)| id.clone()).collect();
            (Arc::new(ids), 0, current_seq, true)
        } else {
            let mut matching: Vec<(&String, &Entry)> = calendar
                .events
                .iter()
                .filter(|(_, entry)| {
                    let ev = &entry.event;
                    if entry.is_cancelled() && !show_deleted && updated_min.is_none() {
                        return false;
                    }
                    let recurring = ev
                        .get("recurrence")
                        .and_then(Value::as_array)
                        .is_some_and(|r| !r.is_empty());
                    if let Some(min) = time_min
                        && !recurring
                        && instant(ev, "end").is_none_or(|end| end <= min)
                    {
                        return false;
                    }
                    if let Some(max) = time_max
                        && instant(ev, "start").is_none_or(|start| start >= max)
                    {
                        return false;
                    }
                    if let Some(min) = updated_min
                        && updated_of(ev).is_none_or(|u| u < min)
                    {
                        return false;
                    }
                    if let Some(uid) = &ical_uid
                        && ev.get("iCalUID").and_then(Value::as_str) != Some(uid.as_str())
                    {
                        return false;
                    }
                    if let Some(q) = &q {
                        let hit = ["summary", "description", "location"].iter().any(|f| {
                            ev.get(*f)
                                .and_then(Value::as_str)
                                .is_some_and(|t| t.to_lowercase().contains(q))
                        });
                        if !hit {
                            return false;
                        }
                    }
                    true
                })
                .collect();
            match order {
                Order::Default => matching.sort_by_key(|(_, e)| e.order),
                Order::StartTime => {
                    matching.sort_by_key(|(_, e)| (instant(&e.event, "start"), e.order))
                }
                Order::Updated => matching.sort_by_key(|(_, e)| (updated_of(&e.event), e.order)),
            }
            let ids = matching.into_iter().map(|(id, _)| id.clone()).collect();
            (Arc::new(ids), 0, current_seq, false)
        };

        let end = (offset + max_results).min(ids.len());
        let items: Vec<Value> = ids[offset.min(end)..end]
            .iter()
            .filter_map(|id| calendar.events.get(id))
            .map(|entry| {
                if entry.is_cancelled() {
                    tombstone(&entry.event)
                } else {
                    Value::Object(entry.event.clone())
                }
            })
            .collect();
        let mut response = json!({
            "kind": "calendar#events",
            "etag": format!("\"{}\"", calendar.updated.timestamp_millis()),
            "summary": key.1,
            "description": "",
            "updated": timestamp(calendar.updated),
            "timeZone": time_zone.unwrap_or_else(|| CALENDAR_TIME_ZONE.to_owned()),
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 30}],
            "items": items,
        });
        if end < ids.len() {
            let token = random_string(ALNUM, 48);
            self.pages.insert(
                token.clone(),
                Page {
                    key,
                    query,
                    ids,
                    offset: end,
                    sync_seq,
                    sync: sync_mode,
                    epoch,
                },
            );
            response["nextPageToken"] = json!(token);
        } else {
            response["nextSyncToken"] = json!(encode_sync_token(&SyncToken {
                a: key.0,
                c: key.1,
                s: sync_seq,
                e: epoch,
            }));
        }
        Ok(response)
    }

    /// `events.insert`; also used for changes made "in Google's UI".
    pub fn insert(
        &mut self,
        account: &str,
        calendar_id: &str,
        body: &Value,
        params: &[(String, String)],
    ) -> Result<Value, ApiError> {
        check_write_params(params)?;
        let body = body.as_object().ok_or_else(ApiError::parse_error)?;
        let mut event = writable(body);
        let id = match event.get("id") {
            None | Some(Value::Null) => random_string(b"abcdefghijklmnopqrstuv0123456789", 26),
            Some(Value::String(id)) if valid_event_id(id) => id.clone(),
            Some(_) => return Err(ApiError::bad("invalid", "Invalid resource id value.")),
        };
        validate_event(&event)?;
        let calendar_key = resolve(account, calendar_id);
        self.conferences
            .prepare(account, &calendar_key, &mut event, params, None, false)?;
        let seq = self.bump();
        let Some(calendar) = self.calendar_mut(account, calendar_id, true) else {
            return Err(ApiError::not_found());
        };
        if calendar.events.contains_key(&id) {
            return Err(ApiError::new(
                409,
                "duplicate",
                "The requested identifier already exists.",
            ));
        }
        let now = Utc::now();
        let eid =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{id} {calendar_key}"));
        let owner = json!({"email": account, "self": true});
        event.insert("kind".into(), json!("calendar#event"));
        event.insert("id".into(), json!(id));
        event.insert("etag".into(), json!(etag(now, seq)));
        event.entry("status").or_insert_with(|| json!("confirmed"));
        event.insert(
            "htmlLink".into(),
            json!(format!("https://www.google.com/calendar/event?eid={eid}")),
        );
        event.insert("created".into(), json!(timestamp(now)));
        event.insert("updated".into(), json!(timestamp(now)));
        event.insert("creator".into(), owner.clone());
        event.insert("organizer".into(), owner);
        event
            .entry("iCalUID")
            .or_insert_with(|| json!(format!("{id}@google.com")));
        event.entry("sequence").or_insert_with(|| json!(0));
        event
            .entry("reminders")
            .or_insert_with(|| json!({"useDefault": true}));
        event.entry("eventType").or_insert_with(|| json!("default"));
        sync_hangout_link(&mut event);
        fill_attendees(&mut event, account);
        calendar.updated = now;
        let order = calendar.next_order;
        calendar.next_order += 1;
        let out = Value::Object(event.clone());
        calendar.events.insert(id, Entry { order, seq, event });
        Ok(out)
    }

    /// `events.get`: deleted events are returned with status `cancelled`.
    pub fn get(
        &mut self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Value, ApiError> {
        let calendar = self
            .calendar_mut(account, calendar_id, false)
            .ok_or_else(ApiError::not_found)?;
        let entry = calendar
            .events
            .get(event_id)
            .ok_or_else(ApiError::not_found)?;
        Ok(Value::Object(entry.event.clone()))
    }

    /// `events.patch` (`replace == false`) and `events.update` (`replace == true`).
    pub fn modify(
        &mut self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
        body: &Value,
        params: &[(String, String)],
        replace: bool,
    ) -> Result<Value, ApiError> {
        check_write_params(params)?;
        let body = body.as_object().ok_or_else(ApiError::parse_error)?;
        let mut changes = writable(body);
        // The id cannot change; Google ignores a matching one.
        match changes.remove("id") {
            Some(Value::String(id)) if id != event_id => {
                return Err(ApiError::bad("invalid", "Invalid resource id value."));
            }
            _ => {}
        }
        let existing = self
            .get(account, calendar_id, event_id)
            .ok()
            .and_then(|e| e.get("conferenceData").cloned());
        self.conferences.prepare(
            account,
            &resolve(account, calendar_id),
            &mut changes,
            params,
            existing.as_ref(),
            replace,
        )?;
        let seq = self.seq + 1;
        let calendar = self
            .calendar_mut(account, calendar_id, false)
            .ok_or_else(ApiError::not_found)?;
        let entry = calendar
            .events
            .get_mut(event_id)
            .ok_or_else(ApiError::not_found)?;
        if entry.is_cancelled() {
            return Err(ApiError::deleted());
        }
        let mut merged = if replace {
            // Keep what the server owns, replace everything a client may write.
            let mut kept: Map<String, Value> = entry
                .event
                .iter()
                .filter(|(k, _)| !WRITABLE_FIELDS.contains(&k.as_str()) || *k == "id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for name in ["iCalUID", "sequence"] {
                if let Some(v) = entry.event.get(name) {
                    kept.insert(name.to_owned(), v.clone());
                }
            }
            kept.extend(changes);
            Value::Object(kept)
        } else {
            let mut target = Value::Object(entry.event.clone());
            merge(&mut target, &Value::Object(changes));
            target
        };
        let Some(event) = merged.as_object_mut() else {
            return Err(ApiError::parse_error());
        };
        event.entry("status").or_insert_with(|| json!("confirmed"));
        validate_event(event)?;
        let rescheduled = ["start", "end", "recurrence", "location"]
            .iter()
            .any(|f| event.get(*f) != entry.event.get(*f));
        let sequence = entry
            .event
            .get("sequence")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if rescheduled {
            event.insert("sequence".into(), json!(sequence + 1));
        } else {
            event.insert("sequence".into(), json!(sequence));
        }
        let now = Utc::now();
        event.insert("updated".into(), json!(timestamp(now)));
        event.insert("etag".into(), json!(etag(now, seq)));
        sync_hangout_link(event);
        fill_attendees(event, account);
        entry.event = event.clone();
        entry.seq = seq;
        calendar.updated = now;
        self.seq = seq;
        Ok(merged)
    }

    /// `events.delete`: the event stays as a `cancelled` tombstone.
    pub fn delete(
        &mut self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
        params: &[(String, String)],
    ) -> Result<(), ApiError> {
        check_write_params(params)?;
        let seq = self.seq + 1;
        let calendar = self
            .calendar_mut(account, calendar_id, false)
            .ok_or_else(ApiError::not_found)?;
        let entry = calendar
            .events
            .get_mut(event_id)
            .ok_or_else(ApiError::not_found)?;
        if entry.is_cancelled() {
            return Err(ApiError::deleted());
        }
        let now = Utc::now();
        entry.event.insert("status".into(), json!("cancelled"));
        entry.event.insert("updated".into(), json!(timestamp(now)));
        entry.event.insert("etag".into(), json!(etag(now, seq)));
        entry.seq = seq;
        calendar.updated = now;
        self.seq = seq;
        Ok(())
    }

    /// `events.watch`.
    pub fn watch(
        &mut self,
        account: &str,
        calendar_id: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let body = body.as_object().ok_or_else(ApiError::parse_error)?;
        let resolved = resolve(account, calendar_id);
        let resource_id = self
            .calendar_mut(account, calendar_id, false)
            .ok_or_else(ApiError::not_found)?
            .resource_id
            .clone();
        let id = match body.get("id") {
            Some(Value::String(id))
                if (1..=64).contains(&id.len())
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_+/=".contains(c)) =>
            {
                id.clone()
            }
            Some(Value::String(_)) => return Err(ApiError::bad("invalid", "Invalid channel id.")),
            _ => return Err(ApiError::bad("required", "Required channel id.")),
        };
        match body.get("type").and_then(Value::as_str) {
            Some("web_hook" | "webhook") => {}
            Some(other) => {
                return Err(ApiError::bad(
                    "invalid",
                    format!("Invalid value for channel type: {other}"),
                ));
            }
            None => return Err(ApiError::bad("required", "Required channel type.")),
        }
        // Google insists on https; the fake accepts http too so tests can receive pushes.
        let address = body
            .get("address")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad("required", "Required channel address."))?;
        let address_ok = url::Url::parse(address)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !address_ok {
            return Err(ApiError::bad(
                "invalid",
                format!("Invalid channel address: {address}"),
            ));
        }
        let token = match body.get("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.len() <= 256 => Some(t.clone()),
            Some(_) => return Err(ApiError::bad("invalid", "Invalid channel token.")),
        };
        let now_ms = Utc::now().timestamp_millis();
        let ttl_ms = match body.get("params").and_then(|p| p.get("ttl")) {
            None | Some(Value::Null) => CHANNEL_DEFAULT_TTL_SECS * 1000,
            Some(v) => v
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or_else(|| v.as_i64())
                .filter(|s| *s > 0)
                .map(|s| s * 1000)
                .ok_or_else(|| ApiError::bad("invalid", "Invalid value for ttl."))?,
        };
        let expiration_ms = match body.get("expiration") {
            None | Some(Value::Null) => now_ms + ttl_ms,
            Some(v) => v
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or_else(|| v.as_i64())
                .filter(|ms| *ms > now_ms)
                .ok_or_else(|| ApiError::bad("invalid", "Invalid channel expiration."))?,
        };
        if self.channels.contains_key(&id) {
            return Err(ApiError::bad(
                "channelIdNotUnique",
                format!("Channel id {id} not unique"),
            ));
        }
        let encoded_calendar =
            percent_encoding::utf8_percent_encode(&resolved, percent_encoding::NON_ALPHANUMERIC);
        let resource_uri = format!(
            "https://www.googleapis.com/calendar/v3/calendars/{encoded_calendar}/events?alt=json"
        );
        let channel = Channel {
            id: id.clone(),
            resource_id: resource_id.clone(),
            resource_uri: resource_uri.clone(),
            address: address.to_owned(),
            token: token.clone(),
            expiration_ms,
            account: account.to_owned(),
            calendar_id: resolved,
            message_number: 0,
        };
        self.channels.insert(id.clone(), channel);
        let mut out = json!({
            "kind": "api#channel",
            "id": id,
            "resourceId": resource_id,
            "resourceUri": resource_uri,
            "expiration": expiration_ms.to_string(),
        });
        if let Some(token) = token {
            out["token"] = json!(token);
        }
        Ok(out)
    }

    /// `channels.stop`.
    pub fn stop(&mut self, account: &str, body: &Value) -> Result<(), ApiError> {
        let body = body.as_object().ok_or_else(ApiError::parse_error)?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad("required", "Required channel id."))?;
        let resource_id = body
            .get("resourceId")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad("required", "Required resourceId."))?;
        let matches = self
            .channels
            .get(id)
            .is_some_and(|c| c.resource_id == resource_id && c.account == account);
        if !matches {
            return Err(ApiError::new(
                404,
                "notFound",
                format!("Channel '{id}' not found for project '000000000000'"),
            ));
        }
        self.channels.remove(id);
        Ok(())
    }

    /// Ids of an account's calendars in the store (its primary included once written).
    pub(super) fn calendar_ids(&self, account: &str) -> Vec<String> {
        self.calendars
            .keys()
            .filter(|(a, _)| a == account)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Every event of a calendar, tombstones included (`None`: no such calendar; an
    /// account's primary always exists).
    pub(super) fn events_of(
        &self,
        account: &str,
        calendar_id: &str,
    ) -> Option<Vec<Map<String, Value>>> {
        let key = (account.to_owned(), resolve(account, calendar_id));
        match self.calendars.get(&key) {
            Some(calendar) => Some(calendar.events.values().map(|e| e.event.clone()).collect()),
            None => (key.1 == account).then(Vec::new),
        }
    }

    /// Changes a stored event behind the API (a new ETag, sequence number and `updated`,
    /// as any change at Google); `change` returns false to leave it untouched.
    pub(super) fn update_events(
        &mut self,
        mut change: impl FnMut(&str, &str, &mut Map<String, Value>) -> bool,
    ) -> usize {
        let mut changed = 0;
        let now = Utc::now();
        for ((account, calendar_id), calendar) in &mut self.calendars {
            for entry in calendar.events.values_mut() {
                let mut event = entry.event.clone();
                if !change(account, calendar_id, &mut event) {
                    continue;
                }
                self.seq += 1;
                event.insert("updated".into(), json!(timestamp(now)));
                event.insert("etag".into(), json!(etag(now, self.seq)));
                sync_hangout_link(&mut event);
                fill_attendees(&mut event, account);
                entry.event = event;
                entry.seq = self.seq;
                calendar.updated = now;
                changed += 1;
            }
        }
        changed
    }

    /// [`update_events`](Self::update_events) for one event (`primary` allowed): the
    /// changed event, or `None` when it does not exist or `change` declined.
    pub(super) fn update_event(
        &mut self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
        mut change: impl FnMut(&mut Map<String, Value>) -> bool,
    ) -> Option<Value> {
        let key = resolve(account, calendar_id);
        let changed = self.update_events(|a, c, event| {
            a == account && c == key && event["id"] == event_id && change(event)
        });
        (changed > 0)
            .then(|| self.get(account, calendar_id, event_id).ok())
            .flatten()
    }

    /// Makes every sync token issued so far answer 410.
    pub fn invalidate_sync_tokens(&mut self) {
        self.epoch += 1;
    }

    /// Every stored event (tombstones included), by account, calendar and insertion order.
    pub fn all_events(&self) -> Vec<StoredEvent> {
        let mut out = Vec::new();
        for ((account, calendar_id), calendar) in &self.calendars {
            let mut entries: Vec<&Entry> = calendar.events.values().collect();
            entries.sort_by_key(|e| e.order);
            out.extend(entries.into_iter().map(|e| StoredEvent {
                account: account.clone(),
                calendar_id: calendar_id.clone(),
                event: Value::Object(e.event.clone()),
            }));
        }
        out
    }
}

fn etag(now: DateTime<Utc>, seq: u64) -> String {
    format!("\"{}{:03}\"", now.timestamp_millis(), seq % 1000)
}

/// Google fills `responseStatus` of attendees it is given without one, and computes the
/// read-only `self` (the calendar's account) and `organizer` flags (shown only when true).
pub(super) fn fill_attendees(event: &mut Map<String, Value>, account: &str) {
    let organizer = event
        .get("organizer")
        .and_then(|o| o.get("email"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(Value::Array(attendees)) = event.get_mut("attendees") {
        for attendee in attendees {
            if let Some(obj) = attendee.as_object_mut() {
                obj.entry("responseStatus")
                    .or_insert_with(|| json!("needsAction"));
                let email = obj
                    .get("email")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let is_self = email.eq_ignore_ascii_case(account);
                let is_organizer = organizer
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(&email));
                for (flag, set) in [("self", is_self), ("organizer", is_organizer)] {
                    if set {
                        obj.insert(flag.into(), json!(true));
                    } else {
                        obj.remove(flag);
                    }
                }
            }
        }
    }
}
