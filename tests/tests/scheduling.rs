//! SPEC section 8 through the real `.wasm` files: the calendar list and its pages,
//! free/busy over several calendars with a calendar error, availability of three people in
//! three zones over a week with a DST change, a participant who is not connected, a grant
//! without the scopes, and bad input refused before any outbound call.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{Api, App, connect, enc};
use gcal_tests::fakes::Faulty as _;
use gcal_tests::fakes::google::{AccessRole, CALENDAR_EVENTS_SCOPE, CalendarListEntry};
use serde_json::{Value, json};

/// Connects `user`, a REST user with `email` and `zone`, through the browser flow.
async fn join(api: &Api<'_>, user: &str, email: &str, zone: Option<&str>) {
    api.app.rest.add_user(user, Some(email), zone);
    connect(api, user).await;
}

/// `GET path`: the status and the JSON body.
async fn get(api: &Api<'_>, path: &str) -> (u16, Value) {
    let r = api.get(path).await;
    (r.status, r.json())
}

/// `POST /availability` is 422 `participant_unavailable` listing exactly `participants`.
async fn assert_unavailable(api: &Api<'_>, body: &Value, participants: Value) {
    let p = api
        .post("/availability", body)
        .await
        .problem(422, "participant_unavailable");
    assert_eq!(p["participants"], participants, "{body}");
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("RFC 3339").to_utc()
}

fn event(start: &str, end: &str) -> Value {
    json!({"summary": "busy", "start": {"dateTime": start}, "end": {"dateTime": end}})
}

#[tokio::test]
async fn the_calendar_list_has_every_calendar_with_boolean_flags_and_pages() {
    let app = App::start().await;
    let api = app.api();
    join(&api, "ann", "ann@example.com", Some("Europe/Berlin")).await;
    app.google.add_calendar(
        "ann@example.com",
        CalendarListEntry::new("team@group.example.com", "Team")
            .role(AccessRole::Reader)
            .time_zone("America/New_York")
            .description("the team"),
    );
    app.google.add_calendar(
        "ann@example.com",
        CalendarListEntry::new("hidden@group.example.com", "Old").hidden(true),
    );

    let (status, all) = get(&api, "/calendars/ann").await;
    assert_eq!(status, 200, "{all}");
    let ids: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&"ann@example.com"), "{all}");
    assert!(ids.contains(&"team@group.example.com"), "{all}");
    assert!(
        !ids.contains(&"hidden@group.example.com"),
        "hidden unless asked: {all}"
    );
    assert_eq!(all["next_page_token"], Value::Null);
    let team = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["id"] == "team@group.example.com")
        .expect("the team calendar");
    assert_eq!(team["access_role"], "reader");
    assert_eq!(team["time_zone"], "America/New_York");
    assert_eq!(team["description"], "the team");
    for flag in ["primary", "selected", "hidden"] {
        for c in all["items"].as_array().expect("items") {
            assert!(c[flag].is_boolean(), "{flag} of {c}");
        }
    }
    let primary: Vec<&Value> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|c| c["primary"] == true)
        .collect();
    assert_eq!(primary.len(), 1, "{all}");

    let (_, with_hidden) = get(&api, "/calendars/ann?show_hidden=true").await;
    assert_eq!(with_hidden["items"].as_array().expect("items").len(), 3);
    let (_, writers) = get(&api, "/calendars/ann?min_access_role=writer").await;
    assert!(
        writers["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|c| c["id"] != "team@group.example.com"),
        "{writers}"
    );

    // One page at a time when asked: the pages together are the whole list.
    let mut seen = Vec::new();
    let mut path = "/calendars/ann?max_results=1&show_hidden=true".to_owned();
    loop {
        let (status, page) = get(&api, &path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["items"].as_array().expect("items").len(), 1, "{page}");
        seen.push(page["items"][0]["id"].as_str().expect("id").to_owned());
        match page["next_page_token"].as_str() {
            Some(t) => {
                path = format!(
                    "/calendars/ann?max_results=1&show_hidden=true&page_token={}",
                    enc(t)
                )
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "ann@example.com",
            "hidden@group.example.com",
            "team@group.example.com"
        ]
    );

    let (status, bad) = get(&api, "/calendars/ann?min_access_role=boss").await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_query")));
}

#[tokio::test]
async fn free_busy_over_two_calendars_reports_the_calendar_google_cannot_read() {
    let app = App::start().await;
    let api = app.api();
    join(&api, "bob", "bob@example.com", None).await;
    app.google.add_calendar(
        "bob@example.com",
        CalendarListEntry::new("side@example.com", "Side"),
    );
    for (cal, s, e) in [
        ("primary", "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"),
        ("primary", "2026-03-24T09:30:00Z", "2026-03-24T11:00:00Z"),
        (
            "side@example.com",
            "2026-03-25T15:00:00Z",
            "2026-03-25T16:00:00Z",
        ),
    ] {
        app.google
            .insert_event_direct("bob@example.com", cal, event(s, e))
            .expect("seeded");
    }
    let mut free = event("2026-03-26T09:00:00Z", "2026-03-26T10:00:00Z");
    free["transparency"] = json!("transparent");
    app.google
        .insert_event_direct("bob@example.com", "primary", free)
        .expect("seeded");

    let query = "time_min=2026-03-23T00:00:00Z&time_max=2026-03-30T00:00:00Z";
    let (status, fb) = get(
        &api,
        &format!("/freebusy/bob?{query}&calendar_ids=primary,side@example.com,nobody@example.com"),
    )
    .await;
    assert_eq!(status, 200, "{fb}");
    assert_eq!(fb["time_min"], "2026-03-23T00:00:00Z");
    assert_eq!(fb["time_max"], "2026-03-30T00:00:00Z");
    assert_eq!(
        fb["calendars"]["primary"],
        json!({"busy": [{"start": "2026-03-24T09:00:00Z", "end": "2026-03-24T11:00:00Z"}]})
    );
    assert_eq!(
        fb["calendars"]["side@example.com"],
        json!({"busy": [{"start": "2026-03-25T15:00:00Z", "end": "2026-03-25T16:00:00Z"}]})
    );
    assert_eq!(
        fb["calendars"]["nobody@example.com"],
        json!({"errors": [{"reason": "notFound"}]}),
        "an error, and no busy that would read as free"
    );

    // In a zone when asked.
    let (_, zoned) = get(
        &api,
        &format!("/freebusy/bob?{query}&time_zone=Europe/Berlin"),
    )
    .await;
    assert_eq!(
        zoned["calendars"]["primary"]["busy"][0]["start"],
        "2026-03-24T10:00:00+01:00"
    );

    for (q, code) in [
        ("time_min=2026-03-23T00:00:00Z", "invalid_query"),
        (
            "time_min=2026-03-30T00:00:00Z&time_max=2026-03-23T00:00:00Z",
            "invalid_time_range",
        ),
        ("time_min=2026-01-01&time_max=2026-04-02", "window_too_long"),
    ] {
        let (status, p) = get(&api, &format!("/freebusy/bob?{q}")).await;
        assert_eq!((status, p["code"].as_str()), (400, Some(code)), "{q}: {p}");
    }
}

/// Ann in Berlin, Raj in Kolkata, Nia in New York, each working 08:00-20:00 on weekdays
/// in their own zone (from the REST service), over the week of 2 to 10 March 2026. New
/// York moves to daylight-saving time on Sunday 8 March, Berlin and Kolkata do not:
/// - Berlin (UTC+1) works 07:00-19:00 UTC, Kolkata (UTC+5:30) 02:30-14:30 UTC;
/// - New York works 13:00-01:00 UTC under EST (UTC-5), 12:00-24:00 UTC under EDT (UTC-4).
///
/// So the common hours are 13:00-14:30 UTC on 2-6 March and 12:00-14:30 UTC on 9 March.
#[tokio::test]
async fn availability_of_three_zones_follows_the_dst_change_of_one() {
    let app = App::start().await;
    let api = app.api();
    join(&api, "ann", "ann@example.com", Some("Europe/Berlin")).await;
    join(&api, "raj", "raj@example.com", Some("Asia/Kolkata")).await;
    join(&api, "nia", "nia@example.com", Some("America/New_York")).await;
    // Ann is busy 13:30-14:00 UTC on Tuesday; Raj 12:00-12:20 UTC on Monday 9 March.
    app.google
        .insert_event_direct(
            "ann@example.com",
            "primary",
            event("2026-03-03T13:30:00Z", "2026-03-03T14:00:00Z"),
        )
        .expect("seeded");
    app.google
        .insert_event_direct(
            "raj@example.com",
            "primary",
            event("2026-03-09T17:30:00+05:30", "2026-03-09T17:50:00+05:30"),
        )
        .expect("seeded");
    let body = json!({
        "participants": [{"user_id": "ann"}, {"user_id": "raj"}, {"user_id": "nia"}],
        "time_min": "2026-03-02T00:00:00Z",
        "time_max": "2026-03-10T00:00:00Z",
        "duration_minutes": 30,
        "interval_minutes": 30,
        "working_hours": {"start": "08:00", "end": "20:00",
            "days": ["mon", "tue", "wed", "thu", "fri"]},
    });
    let got = api.post("/availability", &body).await.ok(200);

    let mut want = Vec::new();
    let slot = |s: DateTime<Utc>| {
        json!({"start": s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "end": (s + Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
    };
    for day in 2..=6 {
        for (h, m) in [(13, 0), (13, 30), (14, 0)] {
            let s = Utc.with_ymd_and_hms(2026, 3, day, h, m, 0).unwrap();
            if s != at("2026-03-03T13:30:00Z") {
                want.push(slot(s));
            }
        }
    }
    // 12:00 and 12:30 collide with Raj's 12:00-12:20 only at 12:00.
    for (h, m) in [(12, 30), (13, 0), (13, 30), (14, 0)] {
        want.push(slot(Utc.with_ymd_and_hms(2026, 3, 9, h, m, 0).unwrap()));
    }
    assert_eq!(got["slots"], Value::Array(want), "{got}");
    assert_eq!(got["participants"]["nia"]["time_zone"], "America/New_York");
    assert_eq!(
        got["participants"]["raj"]["busy"],
        json!([{"start": "2026-03-09T12:00:00Z", "end": "2026-03-09T12:20:00Z"}])
    );
    assert_eq!(got["participants"]["nia"]["busy"], json!([]));

    // A buffer of 30 minutes keeps clear of Ann's meeting on both sides.
    let mut buffered = body.clone();
    buffered["buffer_minutes"] = json!(30);
    let got = api.post("/availability", &buffered).await.ok(200);
    let tuesday: Vec<&str> = got["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(|s| s["start"].as_str())
        .filter(|s| s.starts_with("2026-03-03"))
        .collect();
    assert!(
        tuesday.is_empty(),
        "13:00 ends at 13:30 but the buffer needs 14:00: {tuesday:?}"
    );
}

#[tokio::test]
async fn a_participant_who_cannot_be_asked_makes_it_422_naming_exactly_them() {
    let app = App::start().await;
    let api = app.api();
    join(&api, "ann", "ann@example.com", Some("Europe/Berlin")).await;
    app.rest
        .add_user("ghost", Some("ghost@example.com"), Some("UTC"));
    let body = json!({
        "participants": [{"user_id": "ann"}, {"user_id": "ghost"}],
        "time_min": "2026-03-02T00:00:00Z", "time_max": "2026-03-03T00:00:00Z",
        "duration_minutes": 60,
    });
    assert_unavailable(
        &api,
        &body,
        json!([{"user_id": "ghost", "code": "not_authorized"}]),
    )
    .await;

    // A calendar Google cannot read is no better than no answer.
    let body = json!({
        "participants": [{"user_id": "ann", "calendar_ids": ["primary", "gone@example.com"]}],
        "time_min": "2026-03-02T00:00:00Z", "time_max": "2026-03-03T00:00:00Z",
        "duration_minutes": 60,
    });
    assert_unavailable(
        &api,
        &body,
        json!([{"user_id": "ann", "code": "calendar_error"}]),
    )
    .await;
}

#[tokio::test]
async fn a_grant_without_the_scope_is_403_insufficient_scope_naming_it() {
    let app = App::start_with(|c| c.variable("google_scopes", CALENDAR_EVENTS_SCOPE)).await;
    let api = app.api();
    join(&api, "ann", "ann@example.com", Some("UTC")).await;
    for (path, scope) in [
        ("/calendars/ann", "calendar.calendarlist.readonly"),
        (
            "/freebusy/ann?time_min=2026-03-02&time_max=2026-03-03",
            "calendar.freebusy",
        ),
    ] {
        let p = api.get(path).await.problem(403, "insufficient_scope");
        assert_eq!(
            p["scope"],
            format!("https://www.googleapis.com/auth/{scope}"),
            "{path}"
        );
    }
    let body = json!({"participants": [{"user_id": "ann"}],
        "time_min": "2026-03-02T00:00:00Z", "time_max": "2026-03-03T00:00:00Z",
        "duration_minutes": 60});
    assert_unavailable(
        &api,
        &body,
        json!([{"user_id": "ann", "code": "insufficient_scope"}]),
    )
    .await;
}

#[tokio::test]
async fn bad_availability_requests_are_400_before_any_outbound_call() {
    let app = App::start().await;
    let api = app.api();
    let base = json!({"participants": [{"user_id": "ann"}],
        "time_min": "2026-03-02T00:00:00Z", "time_max": "2026-03-03T00:00:00Z",
        "duration_minutes": 60});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"user_id": format!("u{i}")}))
        .collect();
    let cases = [
        (
            with("time_max", json!("2026-04-03T00:00:00Z")),
            "window_too_long",
        ),
        (
            with("time_max", json!("2026-03-01T00:00:00Z")),
            "invalid_time_range",
        ),
        (with("participants", json!(many)), "too_many_participants"),
        (
            with("participants", json!([{"user_id": "a b"}])),
            "invalid_user_id",
        ),
        (with("duration_minutes", json!(4)), "invalid_duration"),
        (
            with(
                "working_hours",
                json!({"start": "09:00", "end": "17:00", "days": ["moon"]}),
            ),
            "unknown_weekday",
        ),
        (
            with(
                "working_hours",
                json!({"start": "17:00", "end": "09:00", "days": ["mon"]}),
            ),
            "invalid_working_hours",
        ),
        (
            with(
                "working_hours",
                json!({"start": "09:00", "end": "17:00", "days": ["mon"], "time_zone": "Mars/Base"}),
            ),
            "invalid_time_zone",
        ),
        (with("colour", json!("red")), "unknown_field"),
    ];
    let calls = app.google.api_calls();
    let rest_calls = app.rest.requests().len();
    for (body, want) in cases {
        api.post("/availability", &body).await.problem(400, want);
    }
    assert_eq!(
        app.google.api_calls(),
        calls,
        "no Google call for bad input"
    );
    assert_eq!(
        app.rest.requests().len(),
        rest_calls,
        "no REST call for bad input"
    );

    let r = api
        .send(
            api.request(reqwest::Method::POST, "/availability")
                .json(&base),
        )
        .await;
    assert_eq!(r.status, 401, "the API token is required");
    api.get("/availability")
        .await
        .problem(405, "method_not_allowed");
}
