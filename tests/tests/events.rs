//! The events API (issue 4) end to end: the built `events` component in the test host,
//! a real `redis-server`, the fake Google Calendar and the fake REST service.
//!
//! Users are connected through the real OAuth flow (`/auth/url` → consent → callback)
//! unless a test needs a particular stored credential record, which it then seeds
//! encrypted with the test key, exactly as the service stores them.

mod common;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use common::{Api, App, Connected, Subscription, cipher, enc, eventually, stream_events};
use gcal_core::{AccessToken, RefreshToken};
use gcal_tests::fakes::google::Route as GoogleRoute;
use gcal_tests::fakes::{Fault, Faulty as _};
use redis::Commands as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const USER: &str = "u1";
const EMAIL: &str = "u1@example.com";

/// The fields of our `Event`, exactly.
const EVENT_FIELDS: [&str; 16] = [
    "id",
    "summary",
    "description",
    "location",
    "start",
    "end",
    "status",
    "html_link",
    "created",
    "updated",
    "attendees",
    "organizer",
    "conference",
    "recurrence",
    "recurring_event_id",
    "calendar_id",
];

// ------------------------------------------------------------------ the client side

/// The events routes and connecting a user, asserted, on the shared client.
trait EventsApi {
    /// `GET /events/{user}?{query}`, asserted to succeed.
    async fn list(&self, user: &str, query: &str) -> Value;
    /// `POST /events/{user}`, asserted to be 201.
    async fn create(&self, user: &str, body: &Value) -> Value;
    /// The whole OAuth flow for `user` (added to the REST service with `email` and
    /// `time_zone`); returns the tokens Google issued. The fake's account is the email.
    async fn connect(&self, user: &str, email: &str, time_zone: Option<&str>) -> Connected;
}

impl EventsApi for Api<'_> {
    async fn list(&self, user: &str, query: &str) -> Value {
        let r = self.get(&format!("/events/{user}?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {} {}", r.text, self.app.logs());
        r.json()
    }

    async fn create(&self, user: &str, body: &Value) -> Value {
        let r = self.post(&format!("/events/{user}"), body).await;
        assert_eq!(r.status, 201, "{body}: {} {}", r.text, self.app.logs());
        r.json()
    }

    async fn connect(&self, user: &str, email: &str, time_zone: Option<&str>) -> Connected {
        self.app.rest.add_user(user, Some(email), time_zone);
        common::connect(self, user).await
    }
}

/// Stores a credential record for `user` (added to REST with `email` as its account)
/// directly, with fresh Google tokens whose stored expiry is `expires_in` from now.
fn seed(app: &App, user: &str, email: &str, expires_in: ChronoDuration) -> (String, String) {
    app.rest.add_user(user, Some(email), None);
    let (access, refresh) = app.google.issue_tokens_for(email, &[CALENDAR_EVENTS]);
    let c = cipher();
    let now = Utc::now();
    app.rest.set_credentials(
        user,
        json!({
            "provider": "google",
            "access_token_enc": c.encrypt(&AccessToken::new(access.clone()), user).unwrap(),
            "refresh_token_enc": c.encrypt(&RefreshToken::new(refresh.clone()), user).unwrap(),
            "expires_at": (now + expires_in).to_rfc3339(),
            "scopes": [CALENDAR_EVENTS],
            "status": "active",
            "updated_at": now.to_rfc3339(),
        }),
    );
    (access, refresh)
}

/// The `Authorization` header of each Calendar API call Google has seen, in order (a
/// call without one is left out).
fn calendar_bearers(app: &App) -> Vec<String> {
    app.google
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/calendar/v3/"))
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

/// The plaintext of an `_enc` field of the stored record.
fn stored_token(app: &App, user: &str, field: &str) -> String {
    let record = app.rest.credentials(user).expect("a credential record");
    let enc = record[field].as_str().expect(field);
    let clear = match field {
        "access_token_enc" => cipher().decrypt(enc, user).map(AccessToken::into_secret),
        _ => cipher().decrypt(enc, user).map(RefreshToken::into_secret),
    };
    clear.expect("decrypts with the key and the user id")
}

fn timed(summary: &str, start: &str, end: &str, zone: Option<&str>) -> Value {
    let when = |t: &str| match zone {
        Some(z) => json!({"dateTime": t, "timeZone": z}),
        None => json!({"dateTime": t}),
    };
    json!({"summary": summary, "start": when(start), "end": when(end)})
}

/// Creates an event at the fake behind the service's back; returns its id.
fn direct(app: &App, account: &str, summary: &str, start: &str, end: &str) -> String {
    direct_with(app, account, json!({"summary": summary}), start, end)
}

fn direct_with(app: &App, account: &str, mut event: Value, start: &str, end: &str) -> String {
    event["start"] = json!({"dateTime": start});
    event["end"] = json!({"dateTime": end});
    let stored = app
        .google
        .insert_event_direct(account, "primary", event)
        .expect("the fake accepts the event");
    stored["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {list}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn summaries(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {list}"))
        .iter()
        .map(|e| e["summary"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Events stored at the fake for `account`'s primary calendar that are not deleted.
fn live_events(app: &App, account: &str) -> Vec<Value> {
    app.google
        .events(account, "primary")
        .into_iter()
        .filter(|e| e["status"] != "cancelled")
        .collect()
}

/// Calendar API requests the fake received with this method whose path ends in `suffix`.
fn google_requests(app: &App, method: &str, suffix: &str) -> usize {
    app.google
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with("/calendar/v3/"))
        .filter(|r| r.path.ends_with(suffix))
        .count()
}

/// The last `events.list` query the fake received.
fn last_list_query(app: &App) -> Vec<(String, String)> {
    app.google
        .requests()
        .iter()
        .rev()
        .find(|r| r.method == "GET" && r.path.ends_with("/events"))
        .expect("an events.list request")
        .query_pairs()
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

// ------------------------------------------------------------------ Redis side

/// The `calendar.event.*` CloudEvents in the stream, oldest first.
fn event_messages(app: &App) -> Vec<Value> {
    stream_events(app)
        .into_iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("calendar.event."))
        })
        .collect()
}

/// A CloudEvent 1.0 of the events source about `user`'s event `event_id`.
#[track_caller]
fn assert_event_message(m: &Value, kind: &str, user: &str, event_id: &str) {
    assert_eq!(m["specversion"], "1.0", "{m}");
    assert_eq!(m["type"], kind, "{m}");
    assert_eq!(m["source"], "/gcal/events", "{m}");
    assert_eq!(m["subject"], user, "{m}");
    assert_eq!(m["datacontenttype"], "application/json", "{m}");
    assert!(
        uuid::Uuid::parse_str(m["id"].as_str().unwrap_or("")).is_ok(),
        "{m}"
    );
    assert!(
        DateTime::parse_from_rfc3339(m["time"].as_str().unwrap_or("")).is_ok(),
        "{m}"
    );
    let data = m["data"]
        .as_object()
        .unwrap_or_else(|| panic!("data in {m}"));
    let keys: BTreeSet<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["event_id", "calendar_id", "summary", "start", "end"]),
        "{m}"
    );
    assert_eq!(data["event_id"], event_id, "{m}");
    assert_eq!(data["calendar_id"], "primary", "{m}");
}

// ================================================================== list

#[tokio::test]
async fn list_filters_by_time_window_and_text() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let a = direct(
        &app,
        EMAIL,
        "Standup",
        "2026-07-10T09:00:00Z",
        "2026-07-10T09:30:00Z",
    );
    let b = direct(
        &app,
        EMAIL,
        "Planning",
        "2026-07-11T10:00:00Z",
        "2026-07-11T11:00:00Z",
    );
    let c = direct_with(
        &app,
        EMAIL,
        json!({"summary": "Retro", "description": "after the STANDUP"}),
        "2026-07-12T09:00:00Z",
        "2026-07-12T10:00:00Z",
    );
    let d = direct(
        &app,
        EMAIL,
        "Offsite",
        "2026-08-01T08:00:00Z",
        "2026-08-01T17:00:00Z",
    );

    let all = api.list(USER, "").await;
    assert_eq!(
        ids(&all),
        [a.as_str(), b.as_str(), c.as_str(), d.as_str()],
        "{all}"
    );
    for item in all["items"].as_array().unwrap() {
        let keys: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(EVENT_FIELDS), "{item}");
        assert_eq!(item["calendar_id"], "primary", "{item}");
        assert_eq!(item["status"], "confirmed", "{item}");
    }
    for field in ["next_page_token", "next_sync_token", "time_zone"] {
        assert!(all.get(field).is_some(), "{field} in {all}");
    }

    // A window in RFC 3339: only what overlaps it.
    let window = api
        .list(
            USER,
            "time_min=2026-07-10T12:00:00Z&time_max=2026-07-12T00:00:00Z",
        )
        .await;
    assert_eq!(ids(&window), [b.as_str()], "{window}");
    let sent = last_list_query(&app);
    assert_eq!(
        param(&sent, "timeMin").as_deref(),
        Some("2026-07-10T12:00:00+00:00")
    );
    assert_eq!(
        param(&sent, "timeMax").as_deref(),
        Some("2026-07-12T00:00:00+00:00")
    );

    // An event that ends inside the window overlaps it.
    let overlap = api
        .list(
            USER,
            "time_min=2026-07-10T09:15:00%2B00:00&time_max=2026-07-10T12:00:00Z",
        )
        .await;
    assert_eq!(ids(&overlap), [a.as_str()], "{overlap}");

    // Dates are midnight, in `time_zone` when given.
    let dates = api
        .list(USER, "time_min=2026-07-10&time_max=2026-07-12")
        .await;
    assert_eq!(ids(&dates), [a.as_str(), b.as_str()], "{dates}");
    let zoned = api
        .list(
            USER,
            "time_min=2026-07-12&time_max=2026-07-13&time_zone=Europe%2FBerlin",
        )
        .await;
    assert_eq!(ids(&zoned), [c.as_str()], "{zoned}");
    assert_eq!(zoned["time_zone"], "Europe/Berlin", "{zoned}");
    let sent = last_list_query(&app);
    assert_eq!(
        param(&sent, "timeMin").as_deref(),
        Some("2026-07-12T00:00:00+02:00")
    );
    assert_eq!(param(&sent, "timeZone").as_deref(), Some("Europe/Berlin"));

    // Free text, case-insensitive, in summary or description, and percent-encoded on the
    // way to Google.
    let text = api.list(USER, "q=standup").await;
    assert_eq!(ids(&text), [a.as_str(), c.as_str()], "{text}");
    let spaced = api.list(USER, "q=after%20the").await;
    assert_eq!(ids(&spaced), [c.as_str()], "{spaced}");
    assert_eq!(
        param(&last_list_query(&app), "q").as_deref(),
        Some("after the")
    );
    let rd = direct(
        &app,
        EMAIL,
        "R&D + ops",
        "2026-07-13T09:00:00Z",
        "2026-07-13T10:00:00Z",
    );
    let reserved = api.list(USER, "q=r%26d%20%2B%20OPS").await;
    assert_eq!(ids(&reserved), [rd.as_str()], "{reserved}");
    assert_eq!(
        param(&last_list_query(&app), "q").as_deref(),
        Some("r&d + OPS")
    );
    let none = api.list(USER, "q=nothing-matches-this").await;
    assert_eq!(none["items"], json!([]), "{none}");
}

#[tokio::test]
async fn list_pages_through_three_pages_with_every_item_exactly_once() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let mut created = Vec::new();
    for day in 1..=7 {
        created.push(direct(
            &app,
            EMAIL,
            &format!("Event {day}"),
            &format!("2026-09-0{day}T09:00:00Z"),
            &format!("2026-09-0{day}T10:00:00Z"),
        ));
    }

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut query = "max_results=3".to_owned();
    loop {
        let page = api.list(USER, &query).await;
        pages.push(ids(&page).len());
        seen.extend(ids(&page));
        match page["next_page_token"].as_str() {
            Some(token) => {
                assert!(page["next_sync_token"].is_null(), "{page}");
                query = format!("max_results=3&page_token={}", enc(token));
            }
            None => {
                assert!(page["next_sync_token"].is_string(), "{page}");
                break;
            }
        }
        assert!(pages.len() < 10, "pagination does not end: {pages:?}");
    }
    assert_eq!(pages, [3, 3, 1]);
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        created.iter().collect::<HashSet<_>>()
    );
    // The page token went to Google as is.
    let page_tokens = app
        .google
        .requests()
        .iter()
        .filter_map(|r| r.query_param("pageToken"))
        .count();
    assert_eq!(page_tokens, 2);
}

#[tokio::test]
async fn single_events_and_order_by_follow_the_rules() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let late = direct(
        &app,
        EMAIL,
        "Late",
        "2026-07-20T09:00:00Z",
        "2026-07-20T10:00:00Z",
    );
    let early = direct(
        &app,
        EMAIL,
        "Early",
        "2026-07-05T09:00:00Z",
        "2026-07-05T10:00:00Z",
    );
    let middle = direct(
        &app,
        EMAIL,
        "Middle",
        "2026-07-10T09:00:00Z",
        "2026-07-10T10:00:00Z",
    );

    // Default: single events.
    api.list(USER, "").await;
    let sent = last_list_query(&app);
    assert_eq!(param(&sent, "singleEvents").as_deref(), Some("true"));
    assert_eq!(param(&sent, "orderBy"), None);

    // startTime works with the default single_events=true, and sorts.
    let by_start = api.list(USER, "order_by=startTime").await;
    assert_eq!(
        ids(&by_start),
        [early.as_str(), middle.as_str(), late.as_str()],
        "{by_start}"
    );
    let sent = last_list_query(&app);
    assert_eq!(param(&sent, "orderBy").as_deref(), Some("startTime"));
    assert_eq!(param(&sent, "singleEvents").as_deref(), Some("true"));
    let explicit = api
        .list(USER, "order_by=startTime&single_events=true")
        .await;
    assert_eq!(
        ids(&explicit),
        [early.as_str(), middle.as_str(), late.as_str()],
        "{explicit}"
    );

    // updated works with or without single events.
    let by_updated = api.list(USER, "order_by=updated&single_events=false").await;
    assert_eq!(
        ids(&by_updated),
        [late.as_str(), early.as_str(), middle.as_str()],
        "{by_updated}"
    );
    let sent = last_list_query(&app);
    assert_eq!(param(&sent, "orderBy").as_deref(), Some("updated"));
    assert_eq!(param(&sent, "singleEvents").as_deref(), Some("false"));

    // startTime without single events never reaches Google.
    let calls = app.google.api_calls();
    api.get("/events/u1?order_by=startTime&single_events=false")
        .await
        .problem(400, "invalid_query");
    api.get("/events/u1?order_by=created")
        .await
        .problem(400, "invalid_query");
    assert_eq!(app.google.api_calls(), calls);
}

#[tokio::test]
async fn a_sync_token_returns_only_changes_and_an_expired_one_is_410() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let kept = direct(
        &app,
        EMAIL,
        "Kept",
        "2026-07-10T09:00:00Z",
        "2026-07-10T10:00:00Z",
    );
    let doomed = direct(
        &app,
        EMAIL,
        "Doomed",
        "2026-07-11T09:00:00Z",
        "2026-07-11T10:00:00Z",
    );

    let full = api.list(USER, "").await;
    assert_eq!(ids(&full), [kept.as_str(), doomed.as_str()], "{full}");
    let token = full["next_sync_token"]
        .as_str()
        .expect("a sync token")
        .to_owned();

    // Changes made in Google's UI after the full sync.
    let added = direct(
        &app,
        EMAIL,
        "Added",
        "2026-07-12T09:00:00Z",
        "2026-07-12T10:00:00Z",
    );
    app.google
        .delete_event_direct(EMAIL, "primary", &doomed)
        .unwrap();

    let changes = api.list(USER, &format!("sync_token={}", enc(&token))).await;
    let items = changes["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{changes}");
    let by_id = |id: &str| items.iter().find(|e| e["id"] == id).cloned();
    let added_item = by_id(&added).unwrap_or_else(|| panic!("{added} in {changes}"));
    assert_eq!(added_item["summary"], "Added");
    assert_eq!(added_item["status"], "confirmed");
    let deleted_item = by_id(&doomed).unwrap_or_else(|| panic!("{doomed} in {changes}"));
    assert_eq!(deleted_item["status"], "cancelled", "{deleted_item}");
    assert!(by_id(&kept).is_none(), "unchanged event in {changes}");
    assert_eq!(
        param(&last_list_query(&app), "syncToken").as_deref(),
        Some(token.as_str())
    );

    // Nothing changed since: nothing comes back, and the token moves on.
    let next = changes["next_sync_token"]
        .as_str()
        .expect("a new sync token");
    assert_ne!(next, token);
    let quiet = api.list(USER, &format!("sync_token={}", enc(next))).await;
    assert_eq!(quiet["items"], json!([]), "{quiet}");

    // Google forgot the token: the client must do a full sync.
    app.google.invalidate_sync_tokens();
    let body = api
        .get(&format!("/events/u1?sync_token={}", enc(next)))
        .await
        .problem(410, "sync_token_expired");
    assert!(
        body["detail"].as_str().unwrap().contains("full sync"),
        "{body}"
    );
    // A full sync still works and hands out a fresh token.
    let again = api.list(USER, "").await;
    assert_eq!(ids(&again), [kept.as_str(), added.as_str()], "{again}");
    assert!(again["next_sync_token"].is_string());
}

#[tokio::test]
async fn bad_list_parameters_are_400_before_any_call_to_google() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let calls = app.google.api_calls();
    let refreshes = app.google.token_calls("refresh_token");
    let cases = [
        (
            "time_min=2026-07-10T10:00:00Z&time_max=2026-07-10T10:00:00Z",
            "invalid_time_range",
        ),
        (
            "time_min=2026-07-11T10:00:00Z&time_max=2026-07-10T10:00:00Z",
            "invalid_time_range",
        ),
        (
            "time_min=2026-07-11&time_max=2026-07-10",
            "invalid_time_range",
        ),
        ("time_min=yesterday", "invalid_query"),
        ("max_results=0", "invalid_query"),
        ("max_results=2501", "invalid_query"),
        ("max_results=ten", "invalid_query"),
        ("order_by=startTime&single_events=false", "invalid_query"),
        ("single_events=maybe", "invalid_query"),
        ("time_zone=Mars%2FOlympus_Mons", "invalid_time_zone"),
        ("time_zone=", "invalid_time_zone"),
        ("q=a&q=b", "invalid_query"),
        ("max_results=5&max_results=5", "invalid_query"),
        ("sync_token=CPabc&time_min=2026-07-10", "invalid_query"),
        ("sync_token=CPabc&q=x", "invalid_query"),
        ("colour=blue", "invalid_query"),
    ];
    for (query, code) in cases {
        let r = api.get(&format!("/events/u1?{query}")).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str().unwrap_or("")),
            (400, code),
            "{query}: {}",
            r.text
        );
        r.problem(400, code);
    }
    // A bad user id or a missing API token are refused first as well.
    api.get("/events/not%20a%20user")
        .await
        .problem(400, "invalid_user_id");
    let anonymous = api.send(api.request(Method::GET, "/events/u1")).await;
    anonymous.problem(401, "unauthorized");
    assert_eq!(app.google.api_calls(), calls, "{:?}", app.google.requests());
    assert_eq!(app.google.token_calls("refresh_token"), refreshes);
}

// ================================================================== create

#[tokio::test]
async fn creates_timed_and_all_day_events() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;

    let body = json!({
        "summary": "Design review",
        "description": "Bring the mockups",
        "location": "Room 4",
        "start": {"dateTime": "2026-07-10T09:00:00+02:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-07-10T10:30:00+02:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "ann@example.com"}, {"email": "bob@example.com", "optional": true}],
        "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]},
    });
    let r = api.post("/events/u1", &body).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("ratelimit-limit").is_some());
    let ev = r.ok(201);
    let keys: BTreeSet<&str> = ev.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(EVENT_FIELDS), "{ev}");
    assert_eq!(ev["summary"], "Design review");
    assert_eq!(ev["description"], "Bring the mockups");
    assert_eq!(ev["location"], "Room 4");
    assert_eq!(ev["status"], "confirmed");
    assert_eq!(ev["calendar_id"], "primary");
    assert_eq!(ev["start"]["dateTime"], "2026-07-10T09:00:00+02:00", "{ev}");
    assert_eq!(ev["start"]["timeZone"], "Europe/Berlin", "{ev}");
    assert!(
        ev["html_link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://"))
    );
    assert_eq!(ev["attendees"][0]["email"], "ann@example.com");
    assert_eq!(ev["attendees"][1]["optional"], true);
    let id = ev["id"].as_str().unwrap();

    // What reached Google.
    let stored = app
        .google
        .event(EMAIL, "primary", id)
        .expect("stored at Google");
    assert_eq!(stored["summary"], "Design review");
    assert_eq!(stored["location"], "Room 4");
    assert_eq!(
        stored["start"],
        json!({"dateTime": "2026-07-10T09:00:00+02:00", "timeZone": "Europe/Berlin"})
    );
    assert_eq!(
        stored["end"],
        json!({"dateTime": "2026-07-10T10:30:00+02:00", "timeZone": "Europe/Berlin"})
    );
    let emails: Vec<&str> = stored["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ann@example.com", "bob@example.com"]);
    assert_eq!(
        stored["reminders"],
        json!({"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]})
    );

    // All day: dates only, the end date exclusive.
    let day = api
        .create(
            USER,
            &json!({"summary": "Holiday", "start": {"date": "2026-08-01"}, "end": {"date": "2026-08-03"}}),
        )
        .await;
    assert_eq!(day["start"], json!({"date": "2026-08-01"}), "{day}");
    assert_eq!(day["end"], json!({"date": "2026-08-03"}), "{day}");
    let stored = app
        .google
        .event(EMAIL, "primary", day["id"].as_str().unwrap())
        .expect("stored");
    assert_eq!(stored["start"], json!({"date": "2026-08-01"}));
    assert_eq!(stored["end"], json!({"date": "2026-08-03"}));

    // Recurring, with its zone.
    let weekly = api
        .create(
            USER,
            &json!({
                "summary": "Weekly",
                "start": {"dateTime": "2026-07-13T09:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-07-13T09:15:00", "timeZone": "Europe/Berlin"},
                "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
            }),
        )
        .await;
    assert_eq!(weekly["recurrence"], json!(["RRULE:FREQ=WEEKLY;COUNT=4"]));
    assert_eq!(weekly["start"]["dateTime"], "2026-07-13T09:00:00+02:00");

    // A secondary calendar, addressed by calendar_id.
    app.google
        .create_calendar(EMAIL, "team@group.calendar.google.com");
    let team = api
        .create(
            USER,
            &json!({
                "summary": "Team lunch",
                "calendar_id": "team@group.calendar.google.com",
                "start": {"dateTime": "2026-07-10T12:00:00Z"},
                "end": {"dateTime": "2026-07-10T13:00:00Z"},
            }),
        )
        .await;
    assert_eq!(team["calendar_id"], "team@group.calendar.google.com");
    assert_eq!(
        app.google
            .events(EMAIL, "team@group.calendar.google.com")
            .len(),
        1
    );
    let listed = api
        .list(USER, "calendar_id=team%40group.calendar.google.com")
        .await;
    assert_eq!(summaries(&listed), ["Team lunch"], "{listed}");
    assert_eq!(live_events(&app, EMAIL).len(), 3);
}

#[tokio::test]
async fn local_times_are_resolved_in_their_zone_across_dst() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let berlin = |start: &str, end: &str| timed("Local", start, end, Some("Europe/Berlin"));

    // 02:30 does not exist on 2026-03-29 in Berlin (02:00 → 03:00).
    let before = app.google.api_calls();
    let body = api
        .post(
            "/events/u1",
            &berlin("2026-03-29T02:30:00", "2026-03-29T04:00:00"),
        )
        .await
        .problem(400, "nonexistent_local_time");
    assert!(
        body["detail"].as_str().unwrap().contains("Europe/Berlin"),
        "{body}"
    );
    assert_eq!(app.google.api_calls(), before);
    assert!(live_events(&app, EMAIL).is_empty());

    // 02:30 happens twice on 2026-10-25 (03:00 CEST → 02:00 CET): the first one, still
    // on summer time. 03:30 happens once, on winter time.
    let ev = api
        .create(USER, &berlin("2026-10-25T02:30:00", "2026-10-25T03:30:00"))
        .await;
    assert_eq!(ev["start"]["dateTime"], "2026-10-25T02:30:00+02:00", "{ev}");
    assert_eq!(ev["end"]["dateTime"], "2026-10-25T03:30:00+01:00", "{ev}");
    let stored = app
        .google
        .event(EMAIL, "primary", ev["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        stored["start"],
        json!({"dateTime": "2026-10-25T02:30:00+02:00", "timeZone": "Europe/Berlin"})
    );
    assert_eq!(
        stored["end"],
        json!({"dateTime": "2026-10-25T03:30:00+01:00", "timeZone": "Europe/Berlin"})
    );

    // Ordinary summer and winter times.
    let summer = api
        .create(USER, &berlin("2026-07-10T09:00:00", "2026-07-10T10:00"))
        .await;
    assert_eq!(summer["start"]["dateTime"], "2026-07-10T09:00:00+02:00");
    assert_eq!(summer["end"]["dateTime"], "2026-07-10T10:00:00+02:00");
    let winter = api
        .create(USER, &berlin("2026-01-15T09:00:00", "2026-01-15T10:00:00"))
        .await;
    assert_eq!(winter["start"]["dateTime"], "2026-01-15T09:00:00+01:00");

    // An explicit offset wins over the zone's rules (the zone is kept for display).
    let offset = api
        .create(
            USER,
            &timed(
                "Offset",
                "2026-07-10T09:00:00-04:00",
                "2026-07-10T10:00:00-04:00",
                Some("Europe/Berlin"),
            ),
        )
        .await;
    assert_eq!(offset["start"]["dateTime"], "2026-07-10T09:00:00-04:00");
}

#[tokio::test]
async fn a_local_time_without_zone_takes_the_users_time_zone() {
    let app = App::start().await;
    let api = app.api();
    // A user id with `@` and `.`: percent-encoded on the way to the REST service.
    let ann = "ann.lee@example.com";
    api.connect(ann, ann, Some("America/New_York")).await;
    api.connect("u2", "u2@example.com", None).await;

    app.rest.clear_requests();
    let ev = api
        .create(
            ann,
            &timed("Call", "2026-07-10T09:00:00", "2026-07-10T09:30:00", None),
        )
        .await;
    assert_eq!(ev["start"]["dateTime"], "2026-07-10T09:00:00-04:00", "{ev}");
    assert_eq!(ev["end"]["dateTime"], "2026-07-10T09:30:00-04:00", "{ev}");
    let stored = app
        .google
        .event(ann, "primary", ev["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        stored["start"],
        json!({"dateTime": "2026-07-10T09:00:00-04:00", "timeZone": "America/New_York"})
    );
    assert!(
        app.rest
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/users/ann.lee%40example.com"),
        "the user's settings were read"
    );
    // And in winter, the same zone's standard time.
    let winter = api
        .create(
            ann,
            &timed("Call", "2026-01-10T09:00:00", "2026-01-10T09:30:00", None),
        )
        .await;
    assert_eq!(winter["start"]["dateTime"], "2026-01-10T09:00:00-05:00");

    // With an offset, the user's settings are not needed.
    app.rest.clear_requests();
    api.create(
        ann,
        &timed("UTC", "2026-07-10T09:00:00Z", "2026-07-10T09:30:00Z", None),
    )
    .await;
    assert!(
        !app.rest
            .requests()
            .iter()
            .any(|r| r.path == "/users/ann.lee%40example.com"),
        "{:?}",
        app.rest.requests()
    );

    // A user without a time_zone setting: 400, nothing created.
    let before = app.google.api_calls();
    api.post(
        "/events/u2",
        &timed("Call", "2026-07-10T09:00:00", "2026-07-10T09:30:00", None),
    )
    .await
    .problem(400, "missing_time_zone");
    assert_eq!(app.google.api_calls(), before);
    assert!(live_events(&app, "u2@example.com").is_empty());
}

#[tokio::test]
async fn invalid_bodies_are_refused_with_their_codes() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let calls = app.google.api_calls();
    let z = Some("Europe/Berlin");
    let cases = [
        (
            timed("x", "2026-07-10T10:00:00", "2026-07-10T09:00:00", z),
            "invalid_time_range",
        ),
        (
            timed("x", "2026-07-10T10:00:00Z", "2026-07-10T10:00:00Z", None),
            "invalid_time_range",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-10"}}),
            "invalid_time_range",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"dateTime": "2026-07-10T10:00:00Z"}}),
            "invalid_event",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10", "dateTime": "2026-07-10T10:00:00Z"}, "end": {"date": "2026-07-11"}}),
            "invalid_event",
        ),
        (
            json!({"summary": "x", "colour": "red", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
            "unknown_field",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10", "tz": "UTC"}, "end": {"date": "2026-07-11"}}),
            "unknown_field",
        ),
        (
            json!({"start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
            "invalid_event",
        ),
        (
            json!({"summary": "", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
            "invalid_event",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-02-30"}, "end": {"date": "2026-03-01"}}),
            "invalid_event",
        ),
        (
            json!({"summary": "x", "start": {"dateTime": "soon"}, "end": {"dateTime": "later"}}),
            "invalid_event",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}}),
            "invalid_event",
        ),
        (
            timed(
                "x",
                "2026-07-10T09:00:00",
                "2026-07-10T10:00:00",
                Some("Mars/Base"),
            ),
            "invalid_time_zone",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}, "attendees": [{"email": "nobody"}]}),
            "invalid_event",
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"},
                   "reminders": {"useDefault": true, "overrides": [{"method": "popup", "minutes": 10}]}}),
            "invalid_event",
        ),
        (json!(["not", "an", "object"]), "invalid_event"),
    ];
    for (body, code) in cases {
        let r = api.post("/events/u1", &body).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str().unwrap_or("")),
            (400, code),
            "{body}: {}",
            r.text
        );
        r.problem(400, code);
    }
    // Not JSON at all.
    api.send(
        app.api()
            .authed(Method::POST, "/events/u1")
            .header("content-type", "application/json")
            .body("{\"summary\": "),
    )
    .await
    .problem(400, "invalid_event");

    // 70 KiB: too large, whatever it holds.
    let mut big = timed("x", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None);
    big["description"] = json!("a".repeat(70 * 1024));
    api.post("/events/u1", &big)
        .await
        .problem(413, "payload_too_large");

    // JSON only, for POST and PATCH alike.
    let good = timed("x", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None).to_string();
    api.send(
        app.api()
            .authed(Method::POST, "/events/u1")
            .header("content-type", "text/plain")
            .body(good.clone()),
    )
    .await
    .problem(415, "unsupported_media_type");
    api.send(
        app.api()
            .authed(Method::POST, "/events/u1")
            .body(good.clone()),
    )
    .await
    .problem(415, "unsupported_media_type");
    api.send(
        app.api()
            .authed(Method::PATCH, "/events/u1/abcdef12345")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("summary=x"),
    )
    .await
    .problem(415, "unsupported_media_type");

    assert_eq!(app.google.api_calls(), calls, "{:?}", app.google.requests());
    assert!(live_events(&app, EMAIL).is_empty());
    assert!(event_messages(&app).is_empty());
}

#[tokio::test]
async fn the_same_idempotency_key_five_times_in_a_row_makes_one_event() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    api.connect("u2", "u2@example.com", None).await;
    let body = timed("Once", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None);

    let mut statuses = Vec::new();
    let mut ids = BTreeSet::new();
    for _ in 0..5 {
        let r = api.post_with_key("/events/u1", "order-1234", &body).await;
        statuses.push(r.status);
        let ev = r.json();
        assert_eq!(ev["summary"], "Once", "{ev}");
        ids.insert(ev["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, [201, 200, 200, 200, 200]);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.first().unwrap().clone();
    let stored = live_events(&app, EMAIL);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"], id.as_str());
    let created = event_messages(&app);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_event_message(&created[0], "calendar.event.created", USER, &id);

    // The same key with another body is a client error, and changes nothing.
    let other = timed(
        "Twice",
        "2026-07-10T09:00:00Z",
        "2026-07-10T10:00:00Z",
        None,
    );
    api.post_with_key("/events/u1", "order-1234", &other)
        .await
        .problem(422, "idempotency_key_reused");
    assert_eq!(live_events(&app, EMAIL).len(), 1);
    assert_eq!(
        app.google.event(EMAIL, "primary", &id).unwrap()["summary"],
        "Once"
    );

    // Another key is another event; the same key of another user is that user's own.
    let second = api
        .post_with_key("/events/u1", "order-5678", &body)
        .await
        .ok(201);
    assert_ne!(second["id"], id.as_str());
    let theirs = api
        .post_with_key("/events/u2", "order-1234", &body)
        .await
        .ok(201);
    assert_ne!(theirs["id"], id.as_str());
    assert_eq!(live_events(&app, EMAIL).len(), 2);
    assert_eq!(live_events(&app, "u2@example.com").len(), 1);
    assert_eq!(event_messages(&app).len(), 3);

    // Without a key every request is a new event.
    api.create(USER, &body).await;
    api.create(USER, &body).await;
    assert_eq!(live_events(&app, EMAIL).len(), 4);

    // Malformed keys are refused.
    let calls = app.google.api_calls();
    api.post_with_key("/events/u1", &"k".repeat(300), &body)
        .await
        .problem(400, "invalid_request");
    assert_eq!(app.google.api_calls(), calls);
}

#[tokio::test]
async fn the_same_idempotency_key_five_times_at_once_makes_one_event() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let body = timed("Once", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None);

    let results = futures::future::join_all(
        (0..5).map(|_| api.post_with_key("/events/u1", "concurrent-key", &body)),
    )
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 201],
        "{results:?} {}",
        app.logs()
    );
    let ids: BTreeSet<String> = results
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.first().unwrap();
    let stored = live_events(&app, EMAIL);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"], id.as_str());
    let created = event_messages(&app);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_event_message(&created[0], "calendar.event.created", USER, id);
}

// ================================================================== get, patch, delete

#[tokio::test]
async fn get_patch_and_delete_one_event() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let mut body = timed(
        "Review",
        "2026-07-10T09:00:00",
        "2026-07-10T10:00:00",
        Some("Europe/Berlin"),
    );
    body["description"] = json!("keep me");
    let created = api.create(USER, &body).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/events/u1/{id}");

    let got = api.get(&path).await.ok(200);
    assert_eq!(got, created);
    let with_calendar = api
        .get(&format!("{path}?calendar_id=primary"))
        .await
        .ok(200);
    assert_eq!(with_calendar["id"], id.as_str());

    // Partial: only the summary changes.
    let renamed = api
        .patch(&path, &json!({"summary": "Renamed"}))
        .await
        .ok(200);
    assert_eq!(renamed["summary"], "Renamed");
    assert_eq!(renamed["description"], "keep me");
    assert_eq!(renamed["start"], created["start"]);
    let stored = app.google.event(EMAIL, "primary", &id).unwrap();
    assert_eq!(stored["summary"], "Renamed");
    assert_eq!(stored["description"], "keep me");
    assert_eq!(stored["start"]["dateTime"], "2026-07-10T09:00:00+02:00");
    let patch_request = app
        .google
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH at Google");
    assert_eq!(patch_request.json(), Some(json!({"summary": "Renamed"})));

    // Validation applies to the merged event: a start after the stored end is refused
    // before Google sees it, and so is mixing all-day with timed.
    let patches = google_requests(&app, "PATCH", &id);
    api.patch(
        &path,
        &json!({"start": {"dateTime": "2026-07-10T11:00:00", "timeZone": "Europe/Berlin"}}),
    )
    .await
    .problem(400, "invalid_time_range");
    api.patch(&path, &json!({"end": {"date": "2026-07-11"}}))
        .await
        .problem(400, "invalid_event");
    api.patch(&path, &json!({"colour": "red"}))
        .await
        .problem(400, "unknown_field");
    api.patch(&path, &json!({}))
        .await
        .problem(400, "invalid_event");
    api.patch(
        &path,
        &json!({"start": {"dateTime": "2026-03-29T02:30:00", "timeZone": "Europe/Berlin"}}),
    )
    .await
    .problem(400, "nonexistent_local_time");
    assert_eq!(google_requests(&app, "PATCH", &id), patches);
    assert_eq!(
        app.google.event(EMAIL, "primary", &id).unwrap()["start"]["dateTime"],
        "2026-07-10T09:00:00+02:00"
    );

    // Moving both ends is fine; so is moving the end alone to later.
    let moved = api
        .patch(
            &path,
            &json!({
                "start": {"dateTime": "2026-07-10T11:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-07-10T12:00:00", "timeZone": "Europe/Berlin"},
            }),
        )
        .await
        .ok(200);
    assert_eq!(moved["start"]["dateTime"], "2026-07-10T11:00:00+02:00");
    assert_eq!(moved["summary"], "Renamed");
    let longer = api
        .patch(
            &path,
            &json!({"end": {"dateTime": "2026-07-10T13:00:00+02:00"}}),
        )
        .await
        .ok(200);
    assert_eq!(longer["end"]["dateTime"], "2026-07-10T13:00:00+02:00");
    assert_eq!(longer["start"]["dateTime"], "2026-07-10T11:00:00+02:00");

    // Delete: 204, gone from lists, and a second delete is 204 again.
    let r = api.delete(&path).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    let stored = app.google.event(EMAIL, "primary", &id).unwrap();
    assert_eq!(stored["status"], "cancelled");
    assert!(ids(&api.list(USER, "").await).is_empty());
    assert_eq!(api.delete(&path).await.status, 204);
    // Google keeps a deleted event readable as cancelled; it cannot be changed.
    assert_eq!(api.get(&path).await.ok(200)["status"], "cancelled");
    api.patch(&path, &json!({"summary": "Zombie"}))
        .await
        .problem(404, "event_not_found");

    let kinds: Vec<String> = event_messages(&app)
        .iter()
        .map(|m| m["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "calendar.event.created",
            "calendar.event.updated",
            "calendar.event.updated",
            "calendar.event.updated",
            "calendar.event.deleted",
        ]
    );
}

#[tokio::test]
async fn patch_switches_an_event_between_timed_and_all_day() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let ev = api
        .create(
            USER,
            &timed(
                "Shape shifter",
                "2026-07-10T09:00:00",
                "2026-07-10T10:00:00",
                Some("Europe/Berlin"),
            ),
        )
        .await;
    let id = ev["id"].as_str().unwrap().to_owned();
    let path = format!("/events/u1/{id}");

    let all_day = api
        .patch(
            &path,
            &json!({"start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
        )
        .await
        .ok(200);
    assert_eq!(all_day["start"]["date"], "2026-07-10", "{all_day}");
    assert!(all_day["start"].get("dateTime").is_none(), "{all_day}");
    let stored = app.google.event(EMAIL, "primary", &id).unwrap();
    assert_eq!(stored["start"]["date"], "2026-07-10", "{stored}");
    assert!(stored["start"].get("dateTime").is_none(), "{stored}");
    assert!(stored["end"].get("dateTime").is_none(), "{stored}");

    let back = api
        .patch(
            &path,
            &json!({
                "start": {"dateTime": "2026-07-10T14:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-07-10T15:00:00", "timeZone": "Europe/Berlin"},
            }),
        )
        .await
        .ok(200);
    assert_eq!(
        back["start"]["dateTime"], "2026-07-10T14:00:00+02:00",
        "{back}"
    );
    let stored = app.google.event(EMAIL, "primary", &id).unwrap();
    assert!(stored["start"].get("date").is_none(), "{stored}");
    assert!(stored["end"].get("date").is_none(), "{stored}");
    assert_eq!(stored["summary"], "Shape shifter");
}

#[tokio::test]
async fn unknown_events_and_calendars_are_404() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let path = "/events/u1/abcdef0123456789";
    api.get(path).await.problem(404, "event_not_found");
    api.patch(path, &json!({"summary": "x"}))
        .await
        .problem(404, "event_not_found");
    api.delete(path).await.problem(404, "event_not_found");
    api.get("/events/u1?calendar_id=nobody%40example.com")
        .await
        .problem(404, "event_not_found");
    assert!(event_messages(&app).is_empty());

    // Ids that cannot be event ids never reach Google.
    let calls = app.google.api_calls();
    api.get("/events/u1/bad%2Fid")
        .await
        .problem(400, "invalid_request");
    api.get("/events/u1/bad%20id")
        .await
        .problem(400, "invalid_request");
    api.get(&format!("{path}?calendar_id=a&calendar_id=b"))
        .await
        .problem(400, "invalid_query");
    assert_eq!(app.google.api_calls(), calls);
    api.send(app.api().authed(Method::PUT, path))
        .await
        .problem(405, "method_not_allowed");
}

// ================================================================== faults

#[tokio::test]
async fn google_rate_limits_and_transient_errors_are_retried() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;

    // 429, then success: one event, created by the retry with the same id.
    app.google
        .fail_next(GoogleRoute::EventsInsert, Fault::Status(429), 1);
    let ev = api
        .create(
            USER,
            &timed(
                "Retry",
                "2026-07-10T09:00:00Z",
                "2026-07-10T10:00:00Z",
                None,
            ),
        )
        .await;
    let inserts: Vec<Value> = app
        .google
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
        .map(|r| r.json().expect("a JSON body"))
        .collect();
    assert_eq!(inserts.len(), 2, "{inserts:?}");
    assert_eq!(inserts[0]["id"], inserts[1]["id"]);
    assert_eq!(inserts[1]["id"], ev["id"]);
    assert_eq!(live_events(&app, EMAIL).len(), 1);

    // 403 rateLimitExceeded, a 500 and a dropped connection: retried too.
    app.google
        .fail_next(GoogleRoute::EventsList, Fault::RateLimit403, 1);
    assert_eq!(ids(&api.list(USER, "").await).len(), 1);
    app.google
        .fail_next(GoogleRoute::EventsGet, Fault::Status(500), 1);
    let path = format!("/events/u1/{}", ev["id"].as_str().unwrap());
    api.get(&path).await.ok(200);
    app.google.fail_next(GoogleRoute::EventsGet, Fault::Drop, 1);
    api.get(&path).await.ok(200);
    // An answer whose body is cut short (its Content-Length promised more) is retried
    // like a dropped connection, and the retry answers.
    app.google
        .fail_next(GoogleRoute::EventsGet, Fault::CutShort, 1);
    let before = google_requests(&app, "GET", ev["id"].as_str().unwrap());
    api.get(&path).await.ok(200);
    assert_eq!(
        google_requests(&app, "GET", ev["id"].as_str().unwrap()),
        before + 2
    );

    // A 403 that is not a rate limit is not retried.
    let before = google_requests(&app, "GET", ev["id"].as_str().unwrap());
    app.google
        .fail_next(GoogleRoute::EventsGet, Fault::Status(403), 1);
    api.get(&path)
        .await
        .problem(403, "insufficient_permissions");
    assert_eq!(
        google_requests(&app, "GET", ev["id"].as_str().unwrap()),
        before + 1
    );
}

#[tokio::test]
async fn google_failing_for_good_is_503_or_429_within_the_budget() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    let body = timed(
        "Doomed",
        "2026-07-10T09:00:00Z",
        "2026-07-10T10:00:00Z",
        None,
    );

    app.google.set_down(true);
    let started = Instant::now();
    let r = api.post("/events/u1", &body).await;
    let took = started.elapsed();
    r.problem(503, "upstream_unavailable");
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let tries = google_requests(&app, "POST", "/events");
    assert!((2..=3).contains(&tries), "{tries} tries");
    assert!(event_messages(&app).is_empty());
    app.google.set_down(false);
    assert!(live_events(&app, EMAIL).is_empty());

    // Rate limited for good: 429 with Retry-After, at most 3 tries.
    app.google
        .fail_next(GoogleRoute::Calendar, Fault::Status(429), 10);
    let before = app.google.api_calls();
    let started = Instant::now();
    let r = api.get("/events/u1").await;
    let took = started.elapsed();
    r.problem(429, "upstream_rate_limited");
    let retry_after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1, "{retry_after}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let tries = app.google.api_calls() - before;
    assert!((2..=3).contains(&tries), "{tries} tries");
    app.google.clear_faults();
    api.list(USER, "").await;
}

#[tokio::test]
async fn google_not_answering_is_a_503_after_one_timeout_not_a_hang() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;

    // Google accepts the connection and never answers in time. Each try waits for the
    // outbound timeout (10 s), so retrying would hold the caller for 30 s and more.
    app.google.fail_next(
        GoogleRoute::Calendar,
        Fault::Slow(Duration::from_secs(60)),
        3,
    );
    let started = Instant::now();
    let r = api.get("/events/u1").await;
    let took = started.elapsed();
    r.problem(503, "upstream_unavailable");
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(app.google.api_calls(), 1);
}

#[tokio::test]
async fn a_401_from_google_refreshes_once_and_retries() {
    let app = App::start().await;
    let api = app.api();
    let connected = api.connect(USER, EMAIL, None).await;
    assert_eq!(app.google.token_calls("refresh_token"), 0);

    // Google rejects the token once.
    app.google
        .fail_next(GoogleRoute::Calendar, Fault::Unauthorized, 1);
    api.list(USER, "").await;
    assert_eq!(app.google.token_calls("refresh_token"), 1);
    let refreshed = stored_token(&app, USER, "access_token_enc");
    assert_ne!(refreshed, connected.access);
    assert!(app.google.access_token_valid(&refreshed));
    assert_eq!(
        stored_token(&app, USER, "refresh_token_enc"),
        connected.refresh
    );
    // The new token is cached: no more refreshes.
    api.list(USER, "").await;
    api.create(
        USER,
        &timed(
            "After",
            "2026-07-10T09:00:00Z",
            "2026-07-10T10:00:00Z",
            None,
        ),
    )
    .await;
    assert_eq!(app.google.token_calls("refresh_token"), 1);

    // The token expires at Google before we expect it to.
    app.google.expire_access_token(&refreshed);
    api.list(USER, "").await;
    assert_eq!(app.google.token_calls("refresh_token"), 2);

    // A freshly refreshed token rejected again: no loop, a clear answer.
    app.google
        .fail_next(GoogleRoute::Calendar, Fault::Unauthorized, 2);
    api.get("/events/u1")
        .await
        .problem(401, "reauthorization_required");
    assert_eq!(app.google.token_calls("refresh_token"), 3);
}

#[tokio::test]
async fn an_expired_stored_access_token_is_refreshed_once() {
    let app = App::start().await;
    let api = app.api();
    let (old_access, refresh) = seed(&app, USER, EMAIL, ChronoDuration::seconds(-30));
    app.google.expire_access_token(&old_access);
    // Another user's token expires in 30 s: within the 60 s margin, refreshed first.
    let (soon_access, _) = seed(&app, "u2", "u2@example.com", ChronoDuration::seconds(30));

    api.list(USER, "").await;
    assert_eq!(app.google.token_calls("refresh_token"), 1);
    let record = app.rest.credentials(USER).unwrap();
    assert_eq!(record["status"], "active");
    let expires: DateTime<Utc> = record["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires > Utc::now() + ChronoDuration::minutes(30),
        "{record}"
    );
    let new_access = stored_token(&app, USER, "access_token_enc");
    assert_ne!(new_access, old_access);
    assert!(app.google.access_token_valid(&new_access));
    assert_eq!(stored_token(&app, USER, "refresh_token_enc"), refresh);
    // Cached from now on.
    api.list(USER, "").await;
    api.list(USER, "").await;
    assert_eq!(app.google.token_calls("refresh_token"), 1);

    api.list("u2", "").await;
    assert_eq!(app.google.token_calls("refresh_token"), 2);
    assert_ne!(stored_token(&app, "u2", "access_token_enc"), soon_access);
    let used = calendar_bearers(&app);
    assert!(
        !used.contains(&format!("Bearer {old_access}")),
        "the expired token was sent"
    );
}

/// Issue 16, item 1: a refresh that returns a token living less than the 60 s margin is
/// not cached, and the token Google refused leaves the cache, so the next request does
/// not send it again (before, it did, and paid a 401, a refresh and a retry each time).
#[tokio::test]
async fn a_token_google_rejected_is_never_sent_again() {
    let app = App::start().await;
    let api = app.api();
    let (first, _) = seed(&app, USER, EMAIL, ChronoDuration::hours(1));
    api.list(USER, "").await;
    // From now on Google's tokens live 30 s, within the margin; the cached one is refused.
    app.google.set_access_token_lifetime(30);
    app.google.expire_access_token(&first);
    api.list(USER, "").await;
    app.google.clear_requests();

    api.list(USER, "").await;
    let sent = calendar_bearers(&app);
    assert_eq!(
        sent.len(),
        1,
        "one Calendar call, no 401 and retry: {sent:?}"
    );
    assert_ne!(
        sent[0],
        format!("Bearer {first}"),
        "the refused token was sent again"
    );
    let token = sent[0].trim_start_matches("Bearer ");
    assert!(app.google.access_token_valid(token));
}

#[tokio::test]
async fn twenty_concurrent_requests_with_an_expired_token_refresh_once() {
    let app = App::start().await;
    let api = app.api();
    let (old_access, _) = seed(&app, USER, EMAIL, ChronoDuration::seconds(-30));
    app.google.expire_access_token(&old_access);

    let results = futures::future::join_all((0..20).map(|_| api.get("/events/u1"))).await;
    for r in &results {
        assert_eq!(r.status, 200, "{} {}", r.text, app.logs());
    }
    assert_eq!(app.google.token_calls("refresh_token"), 1);
    // Everyone used the one new token.
    let new_access = stored_token(&app, USER, "access_token_enc");
    let bearer = format!("Bearer {new_access}");
    let calls: Vec<_> = app
        .google
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/calendar/v3/"))
        .collect();
    assert_eq!(calls.len(), 20);
    assert!(
        calls
            .iter()
            .all(|r| r.header("authorization") == Some(bearer.as_str()))
    );
}

#[tokio::test]
async fn a_revoked_grant_asks_for_reauthorization_and_says_so_once() {
    let app = App::start().await;
    let api = app.api();
    let connected = api.connect(USER, EMAIL, None).await;
    api.list(USER, "").await;

    // The user revoked access in their Google account: the access token stops working
    // and the refresh token is refused with invalid_grant.
    app.google.revoke_refresh_token(&connected.refresh);
    api.get("/events/u1")
        .await
        .problem(401, "reauthorization_required");
    assert_eq!(app.google.token_calls("refresh_token"), 1);
    let record = app.rest.credentials(USER).unwrap();
    assert_eq!(record["status"], "invalid", "{record}");
    let failed: Vec<Value> = stream_events(&app)
        .into_iter()
        .filter(|e| e["type"] == "calendar.auth.refresh_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["subject"], USER);
    assert_eq!(failed[0]["source"], "/gcal/auth");
    assert_eq!(failed[0]["specversion"], "1.0");
    let text = failed[0].to_string();
    assert!(!text.contains(&connected.refresh) && !text.contains(&connected.access));

    // From now on: refused without asking Google again.
    let calls = app.google.api_calls();
    api.post(
        "/events/u1",
        &timed("x", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None),
    )
    .await
    .problem(401, "reauthorization_required");
    assert_eq!(app.google.token_calls("refresh_token"), 1);
    assert_eq!(app.google.api_calls(), calls);

    // The same through an expired stored token rather than a 401.
    let (access, refresh) = seed(&app, "u2", "u2@example.com", ChronoDuration::seconds(-1));
    app.google.expire_access_token(&access);
    app.google.revoke_refresh_token(&refresh);
    api.get("/events/u2")
        .await
        .problem(401, "reauthorization_required");
    assert_eq!(app.rest.credentials("u2").unwrap()["status"], "invalid");
    let subjects: Vec<Value> = stream_events(&app)
        .into_iter()
        .filter(|e| e["type"] == "calendar.auth.refresh_failed")
        .map(|e| e["subject"].clone())
        .collect();
    assert_eq!(subjects, [json!(USER), json!("u2")]);
}

#[tokio::test]
async fn the_rest_service_down_does_not_matter_while_the_token_is_cached() {
    let app = App::start().await;
    let api = app.api();
    api.connect(USER, EMAIL, None).await;
    api.list(USER, "").await;

    app.rest.set_down(true);
    api.list(USER, "").await;
    let ev = api
        .create(
            USER,
            &timed(
                "Cached",
                "2026-07-10T09:00:00Z",
                "2026-07-10T10:00:00Z",
                None,
            ),
        )
        .await;
    api.patch(
        &format!("/events/u1/{}", ev["id"].as_str().unwrap()),
        &json!({"summary": "Still cached"}),
    )
    .await
    .ok(200);

    // What does need the REST service is a clear 503, not a hang.
    let started = Instant::now();
    api.post(
        "/events/u1",
        &timed("Local", "2026-07-10T09:00:00", "2026-07-10T10:00:00", None),
    )
    .await
    .problem(503, "rest_unavailable");
    app.redis()
        .del::<_, ()>(format!("gcal:token:{USER}"))
        .unwrap();
    api.get("/events/u1").await.problem(503, "rest_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    app.rest.set_down(false);
    api.list(USER, "").await;
}

#[tokio::test]
async fn redis_down_is_a_503_problem_and_recovers() {
    let app = App::start().await;
    {
        let api = app.api();
        api.connect(USER, EMAIL, None).await;
        api.list(USER, "").await;
    }
    app.kill_redis();
    {
        let api = app.api();
        let started = Instant::now();
        api.get("/events/u1")
            .await
            .problem(503, "redis_unavailable");
        api.post(
            "/events/u1",
            &timed("x", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None),
        )
        .await
        .problem(503, "redis_unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let logs = app.logs();
        assert!(!logs.contains("panicked"), "{logs}");
    }
    app.restart_redis();
    let api = app.api();
    // The token cache is gone with Redis: the REST service provides it again.
    api.list(USER, "").await;
    api.create(
        USER,
        &timed("Back", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None),
    )
    .await;
}

// ================================================================== rate limit

#[tokio::test]
async fn the_request_after_the_limit_is_429_for_that_user_only() {
    let app = App::start_with(|cfg| cfg.variable("rate_limit_per_minute", "5")).await;
    let api = app.api();
    // Seeded rather than connected: the auth routes count against the same budget.
    seed(&app, USER, EMAIL, ChronoDuration::hours(1));
    seed(&app, "u2", "u2@example.com", ChronoDuration::hours(1));

    // The budget is per calendar minute: start early in one so all six requests share it.
    let second = Utc::now().timestamp() % 60;
    if second > 45 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let minute = Utc::now().timestamp() / 60;

    let mut remaining = Vec::new();
    for _ in 0..5 {
        let r = api.get("/events/u1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("ratelimit-limit"), Some("5"));
        remaining.push(r.header("ratelimit-remaining").unwrap_or("").to_owned());
    }
    assert_eq!(remaining, ["4", "3", "2", "1", "0"]);

    let calls = app.google.api_calls();
    let r = api.get("/events/u1").await;
    r.problem(429, "rate_limited");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("ratelimit-limit"), Some("5"));
    let retry_after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Writes count too, and nothing past the limit reaches Google.
    api.post(
        "/events/u1",
        &timed("x", "2026-07-10T09:00:00Z", "2026-07-10T10:00:00Z", None),
    )
    .await
    .problem(429, "rate_limited");
    // The budget is the user's across the API, the auth routes included.
    api.get("/auth/status/u1")
        .await
        .problem(429, "rate_limited");
    assert_eq!(app.google.api_calls(), calls);
    assert_eq!(
        Utc::now().timestamp() / 60,
        minute,
        "the test crossed a minute boundary"
    );

    // Another user has their own budget.
    let r = api.get("/events/u2").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("ratelimit-remaining"), Some("4"));
}

// ================================================================== notifications

#[tokio::test]
async fn every_write_publishes_exactly_one_cloudevent() {
    let app = App::start().await;
    let api = app.api();
    let connected = api.connect(USER, EMAIL, None).await;
    let sub = Subscription::start(&app, &app.channel).await;

    let created = api
        .create(
            USER,
            &timed(
                "Launch",
                "2026-07-10T09:00:00Z",
                "2026-07-10T10:00:00Z",
                None,
            ),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/events/u1/{id}");
    let updated = api
        .patch(&path, &json!({"summary": "Launch v2"}))
        .await
        .ok(200);
    assert_eq!(api.delete(&path).await.status, 204);
    // Reads and failed writes publish nothing.
    api.get(&path).await.ok(200);
    api.list(USER, "").await;
    api.post("/events/u1", &json!({"summary": "no times"}))
        .await
        .problem(400, "invalid_event");
    api.patch(&path, &json!({"summary": "gone"}))
        .await
        .problem(404, "event_not_found");
    api.delete(&path).await;

    let messages = event_messages(&app);
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert_event_message(&messages[0], "calendar.event.created", USER, &id);
    assert_eq!(messages[0]["data"]["summary"], "Launch");
    assert_eq!(messages[0]["data"]["start"], created["start"]);
    assert_eq!(messages[0]["data"]["end"], created["end"]);
    assert_event_message(&messages[1], "calendar.event.updated", USER, &id);
    assert_eq!(messages[1]["data"]["summary"], "Launch v2");
    assert_eq!(messages[1]["data"]["start"], updated["start"]);
    assert_eq!(messages[1]["data"]["end"], updated["end"]);
    assert_event_message(&messages[2], "calendar.event.deleted", USER, &id);
    let unique: HashSet<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), 3);

    // The same three messages on the channel.
    let arrived = eventually(Duration::from_secs(5), || sub.messages().len() >= 3).await;
    assert!(arrived, "{:?}", sub.messages());
    assert_eq!(sub.messages(), messages);

    for m in &messages {
        let text = m.to_string();
        assert!(!text.contains(&connected.access) && !text.contains(&connected.refresh));
        assert!(!text.contains("token"), "{text}");
    }
}

#[tokio::test]
async fn no_token_or_key_in_logs_bodies_or_redis() {
    let app = App::start().await;
    let api = app.api();
    let first = api.connect(USER, EMAIL, None).await;
    let second = api.connect("u2", "u2@example.com", None).await;

    // Ordinary traffic, failures included.
    let ev = api
        .create(
            USER,
            &timed(
                "Secretless",
                "2026-07-10T09:00:00Z",
                "2026-07-10T10:00:00Z",
                None,
            ),
        )
        .await;
    let path = format!("/events/u1/{}", ev["id"].as_str().unwrap());
    api.list(USER, "q=Secretless").await;
    api.patch(&path, &json!({"summary": "Still secretless"}))
        .await
        .ok(200);
    api.post("/events/u1", &json!({"summary": 1}))
        .await
        .problem(400, "invalid_event");
    api.get("/events/u1/nosuchevent1")
        .await
        .problem(404, "event_not_found");
    // A refresh, and an upstream failure.
    app.google
        .fail_next(GoogleRoute::Calendar, Fault::Unauthorized, 1);
    api.list(USER, "").await;
    let refreshed = stored_token(&app, USER, "access_token_enc");
    app.google.set_down(true);
    api.get(&path).await.problem(503, "upstream_unavailable");
    app.google.set_down(false);
    // A revoked grant.
    app.google.revoke_refresh_token(&second.refresh);
    api.get("/events/u2")
        .await
        .problem(401, "reauthorization_required");
    api.delete(&path).await;

    let mut secrets = first.secrets();
    secrets.extend(second.secrets());
    secrets.push(("refreshed access token", refreshed));
    api.assert_no_secrets(&secrets, &[]);
}
