//! The fake's `calendarList.list` and `freebusy.query` over real HTTP (issue 14).

use reqwest::Method;
use serde_json::{Value, json};

use super::tests::{api, fake};
use super::*;

const LIST: &str = "/users/me/calendarList";

fn scoped(rest: &str) -> String {
    format!("{SCOPE_PREFIX}{rest}")
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn calendar_list_entries_filters_and_google_omissions() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_LIST_READONLY_SCOPE]);
    let (status, page) = api(&fake, Method::GET, LIST, Some(&access), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["kind"], "calendar#calendarList");
    assert_eq!(ids(&page), vec![DEFAULT_ACCOUNT.to_owned()]);
    let primary = &page["items"][0];
    assert_eq!(primary["primary"], true);
    assert_eq!(primary["selected"], true);
    assert_eq!(primary["accessRole"], "owner");
    assert_eq!(primary["timeZone"], CALENDAR_TIME_ZONE);
    assert!(primary.get("hidden").is_none(), "{primary}");
    assert!(page["nextSyncToken"].is_string());

    fake.add_calendar(
        DEFAULT_ACCOUNT,
        CalendarListEntry::new("team@group.calendar.google.com", "Team")
            .role(AccessRole::Writer)
            .description("the team")
            .time_zone("Europe/Berlin")
            .background_color("#ff0000")
            .selected(false),
    );
    fake.add_calendar(
        DEFAULT_ACCOUNT,
        CalendarListEntry::new("holidays@group.v.calendar.google.com", "Holidays")
            .role(AccessRole::Reader)
            .hidden(true),
    );
    fake.add_calendar(
        DEFAULT_ACCOUNT,
        CalendarListEntry::new("bob@example.com", "Bob")
            .role(AccessRole::FreeBusyReader)
            .owned_by("bob@example.com"),
    );
    let (_, page) = api(&fake, Method::GET, LIST, Some(&access), None).await;
    assert_eq!(
        ids(&page),
        vec![
            DEFAULT_ACCOUNT,
            "team@group.calendar.google.com",
            "bob@example.com"
        ],
        "hidden entries need showHidden"
    );
    let team = &page["items"][1];
    assert_eq!(team["summary"], "Team");
    assert_eq!(team["description"], "the team");
    assert_eq!(team["timeZone"], "Europe/Berlin");
    assert_eq!(team["backgroundColor"], "#ff0000");
    assert_eq!(team["accessRole"], "writer");
    for absent in ["primary", "selected", "hidden", "deleted"] {
        assert!(
            team.get(absent).is_none(),
            "{absent} shown when false: {team}"
        );
    }

    let path = format!("{LIST}?showHidden=true&minAccessRole=reader");
    let (_, page) = api(&fake, Method::GET, &path, Some(&access), None).await;
    assert_eq!(
        ids(&page),
        vec![
            DEFAULT_ACCOUNT,
            "team@group.calendar.google.com",
            "holidays@group.v.calendar.google.com"
        ]
    );
    assert_eq!(page["items"][2]["hidden"], true);
    let path = format!("{LIST}?minAccessRole=writer");
    let (_, page) = api(&fake, Method::GET, &path, Some(&access), None).await;
    assert_eq!(
        ids(&page),
        vec![DEFAULT_ACCOUNT, "team@group.calendar.google.com"]
    );

    assert!(fake.remove_calendar(DEFAULT_ACCOUNT, "team@group.calendar.google.com"));
    assert!(!fake.remove_calendar(DEFAULT_ACCOUNT, "nope@example.com"));
    let (_, page) = api(&fake, Method::GET, LIST, Some(&access), None).await;
    assert!(!ids(&page).contains(&"team@group.calendar.google.com".to_owned()));
    let path = format!("{LIST}?showDeleted=true");
    let (_, page) = api(&fake, Method::GET, &path, Some(&access), None).await;
    assert_eq!(page["items"][1]["deleted"], true, "{page}");

    // A calendar that only exists because of a write is listed as owned.
    fake.create_calendar(DEFAULT_ACCOUNT, "made@group.calendar.google.com");
    let (_, page) = api(&fake, Method::GET, LIST, Some(&access), None).await;
    assert_eq!(
        ids(&page).last().map(String::as_str),
        Some("made@group.calendar.google.com")
    );

    for bad in [
        "minAccessRole=boss",
        "maxResults=0",
        "maxResults=x",
        "showHidden=yes",
    ] {
        let (status, body) = api(
            &fake,
            Method::GET,
            &format!("{LIST}?{bad}"),
            Some(&access),
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["errors"][0]["reason"], "invalid", "{bad}");
    }
}

#[tokio::test]
async fn calendar_list_pages_each_entry_once_and_caps_the_page() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[&scoped("calendar.readonly")]);
    for n in 0..6 {
        fake.add_calendar(
            DEFAULT_ACCOUNT,
            CalendarListEntry::new(&format!("c{n}@group.calendar.google.com"), "c"),
        );
    }
    let mut seen = Vec::new();
    let mut path = format!("{LIST}?maxResults=3&minAccessRole=owner");
    let mut pages = 0;
    loop {
        let (status, page) = api(&fake, Method::GET, &path, Some(&access), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(ids(&page));
        match page["nextPageToken"].as_str() {
            Some(token) => {
                assert!(page.get("nextSyncToken").is_none());
                path = format!("{LIST}?maxResults=3&minAccessRole=owner&pageToken={token}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 7, "{seen:?}");

    // A page token does not continue another query.
    let (_, first) = api(
        &fake,
        Method::GET,
        &format!("{LIST}?maxResults=3"),
        Some(&access),
        None,
    )
    .await;
    let token = first["nextPageToken"].as_str().unwrap();
    let path = format!("{LIST}?maxResults=3&minAccessRole=writer&pageToken={token}");
    assert_eq!(
        api(&fake, Method::GET, &path, Some(&access), None).await.0,
        400
    );

    for n in 6..300 {
        fake.add_calendar(
            DEFAULT_ACCOUNT,
            CalendarListEntry::new(&format!("c{n}@group.calendar.google.com"), "c"),
        );
    }
    let (_, page) = api(&fake, Method::GET, LIST, Some(&access), None).await;
    assert_eq!(ids(&page).len(), calendar_list::CALENDAR_LIST_DEFAULT_PAGE);
    let (_, page) = api(
        &fake,
        Method::GET,
        &format!("{LIST}?maxResults=1000"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(ids(&page).len(), calendar_list::CALENDAR_LIST_MAX_PAGE);
}

#[tokio::test]
async fn scopes_of_the_new_routes_are_checked_like_google() {
    let fake = fake().await;
    let body = json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z",
        "items": [{"id": "primary"}]});
    let (events_only, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    for (method, path, body) in [
        (Method::GET, LIST, None),
        (Method::POST, "/freeBusy", Some(body.clone())),
    ] {
        let (status, error) = api(&fake, method, path, Some(&events_only), body).await;
        assert_eq!(status, 403, "{path}: {error}");
        assert_eq!(
            error["error"]["errors"][0]["reason"],
            "insufficientPermissions"
        );
        assert_eq!(error["error"]["status"], "PERMISSION_DENIED");
    }
    // Each documented scope opens its route, and only its route.
    for scope in [
        "calendar",
        "calendar.readonly",
        "calendar.calendarlist",
        "calendar.calendarlist.readonly",
    ] {
        let (access, _) = fake.issue_tokens(&[&scoped(scope)]);
        assert_eq!(
            api(&fake, Method::GET, LIST, Some(&access), None).await.0,
            200,
            "{scope}"
        );
    }
    for scope in [
        "calendar",
        "calendar.readonly",
        "calendar.freebusy",
        "calendar.events.freebusy",
    ] {
        let (access, _) = fake.issue_tokens(&[&scoped(scope)]);
        let (status, _) = api(
            &fake,
            Method::POST,
            "/freeBusy",
            Some(&access),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 200, "{scope}");
    }
    let (list_only, _) = fake.issue_tokens(&[CALENDAR_LIST_READONLY_SCOPE]);
    assert_eq!(
        api(
            &fake,
            Method::POST,
            "/freeBusy",
            Some(&list_only),
            Some(body.clone())
        )
        .await
        .0,
        403
    );
    let (busy_only, _) = fake.issue_tokens(&[FREEBUSY_SCOPE]);
    assert_eq!(
        api(&fake, Method::GET, LIST, Some(&busy_only), None)
            .await
            .0,
        403
    );
    assert_eq!(
        api(
            &fake,
            Method::GET,
            "/calendars/primary/events",
            Some(&busy_only),
            None
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn consent_to_the_default_scopes_grants_exactly_those() {
    let fake = fake().await;
    let auth = super::tests::auth_url(
        &fake,
        &[
            ("scope", &DEFAULT_SCOPES.join(" ")),
            ("include_granted_scopes", ""),
        ],
    );
    let consent = fake.consent(&auth).expect("consent");
    let (status, tokens) =
        super::tests::exchange(&fake, &consent.code, super::tests::VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let mut granted: Vec<&str> = tokens["scope"].as_str().unwrap().split(' ').collect();
    granted.sort_unstable();
    let mut expected = DEFAULT_SCOPES.to_vec();
    expected.sort_unstable();
    assert_eq!(granted, expected);
    let access = tokens["access_token"].as_str().unwrap();
    let body = json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z"});
    assert_eq!(
        api(&fake, Method::GET, LIST, Some(access), None).await.0,
        200
    );
    assert_eq!(
        api(&fake, Method::POST, "/freeBusy", Some(access), Some(body))
            .await
            .0,
        200
    );
    assert_eq!(
        api(
            &fake,
            Method::GET,
            "/calendars/primary/events",
            Some(access),
            None
        )
        .await
        .0,
        200
    );
}

fn timed(start: &str, end: &str) -> Value {
    json!({"summary": "x", "start": {"dateTime": start}, "end": {"dateTime": end}})
}

async fn freebusy(fake: &FakeGoogle, access: &str, body: Value) -> (u16, Value) {
    api(fake, Method::POST, "/freeBusy", Some(access), Some(body)).await
}

#[tokio::test]
async fn freebusy_merges_busy_time_and_skips_free_cancelled_and_declined_events() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[FREEBUSY_SCOPE]);
    let me = DEFAULT_ACCOUNT;
    let insert = |event: Value| {
        fake.insert_event_direct(me, "primary", event)
            .expect("insert")
    };
    insert(timed("2030-01-07T09:00:00Z", "2030-01-07T10:00:00Z"));
    insert(timed("2030-01-07T09:30:00Z", "2030-01-07T11:00:00Z"));
    insert(timed("2030-01-07T11:00:00Z", "2030-01-07T12:00:00Z"));
    // Local time in its zone: 15:00 Berlin is 14:00 UTC.
    insert(json!({"summary": "zoned",
        "start": {"dateTime": "2030-01-07T15:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-01-07T15:30:00", "timeZone": "Europe/Berlin"}}));
    let mut free = timed("2030-01-07T13:00:00Z", "2030-01-07T14:00:00Z");
    free["transparency"] = json!("transparent");
    insert(free);
    let cancelled = insert(timed("2030-01-07T15:00:00Z", "2030-01-07T16:00:00Z"));
    fake.delete_event_direct(me, "primary", cancelled["id"].as_str().unwrap())
        .unwrap();
    let mut declined = timed("2030-01-07T16:00:00Z", "2030-01-07T17:00:00Z");
    declined["attendees"] = json!([{"email": me, "responseStatus": "declined"},
                                    {"email": "boss@example.com"}]);
    insert(declined);
    // Straddles the window's end: clipped.
    insert(timed("2030-01-07T23:00:00Z", "2030-01-08T02:00:00Z"));
    // Weekly, Monday 07:00 Berlin (06:00 UTC): one occurrence in the window.
    insert(
        json!({"summary": "standup", "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
        "start": {"dateTime": "2029-12-31T07:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2029-12-31T07:15:00", "timeZone": "Europe/Berlin"}}),
    );

    let body = json!({"timeMin": "2030-01-07T00:00:00Z", "timeMax": "2030-01-08T00:00:00Z",
        "items": [{"id": "primary"}, {"id": "nobody@group.calendar.google.com"}]});
    let (status, answer) = freebusy(&fake, &access, body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["kind"], "calendar#freeBusy");
    assert_eq!(answer["timeMin"], "2030-01-07T00:00:00.000Z");
    assert_eq!(answer["timeMax"], "2030-01-08T00:00:00.000Z");
    assert_eq!(
        answer["calendars"]["primary"],
        json!({"busy": [
            {"start": "2030-01-07T06:00:00Z", "end": "2030-01-07T06:15:00Z"},
            {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T12:00:00Z"},
            {"start": "2030-01-07T14:00:00Z", "end": "2030-01-07T14:30:00Z"},
            {"start": "2030-01-07T23:00:00Z", "end": "2030-01-08T00:00:00Z"},
        ]})
    );
    assert_eq!(
        answer["calendars"]["nobody@group.calendar.google.com"],
        json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
    );

    // In a zone: the same instants with that zone's offset.
    let body = json!({"timeMin": "2030-01-07T08:00:00Z", "timeMax": "2030-01-07T13:00:00Z",
        "timeZone": "Europe/Berlin", "items": [{"id": me}]});
    let (_, answer) = freebusy(&fake, &access, body).await;
    assert_eq!(
        answer["calendars"][me]["busy"],
        json!([{"start": "2030-01-07T10:00:00+01:00", "end": "2030-01-07T13:00:00+01:00"}])
    );
}

#[tokio::test]
async fn freebusy_limits_and_shared_calendars() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[FREEBUSY_SCOPE]);
    let window = |min: &str, max: &str| json!({"timeMin": min, "timeMax": max, "items": [{"id": "primary"}]});
    let cases = [
        (
            window("2030-01-01T00:00:00Z", "2030-04-02T00:00:01Z"),
            "timeRangeTooLong",
        ),
        (
            window("2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z"),
            "timeRangeEmpty",
        ),
        (
            window("2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),
            "timeRangeEmpty",
        ),
        (json!({"timeMax": "2030-01-01T00:00:00Z"}), "required"),
        (
            json!({"timeMin": "2030-01-01", "timeMax": "2030-01-02T00:00:00Z"}),
            "invalid",
        ),
        (
            json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z",
                "timeZone": "Mars/Olympus"}),
            "invalid",
        ),
        (
            json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z",
                "calendarExpansionMax": 51}),
            "invalid",
        ),
    ];
    for (body, reason) in cases {
        let (status, error) = freebusy(&fake, &access, body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["errors"][0]["reason"], reason, "{body}");
    }
    // Exactly 90 days is allowed.
    let (status, _) = freebusy(
        &fake,
        &access,
        window("2030-01-01T00:00:00Z", "2030-04-01T00:00:00Z"),
    )
    .await;
    assert_eq!(status, 200);

    // 51 calendars: the 51st is refused.
    let items: Vec<Value> = (0..=FREEBUSY_MAX_CALENDARS)
        .map(|n| json!({"id": format!("c{n}@group.calendar.google.com")}))
        .collect();
    let body = json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": items});
    let (_, answer) = freebusy(&fake, &access, body).await;
    assert_eq!(
        answer["calendars"]["c50@group.calendar.google.com"]["errors"][0]["reason"],
        "tooManyCalendarsRequested"
    );
    assert_eq!(
        answer["calendars"]["c49@group.calendar.google.com"]["errors"][0]["reason"],
        "notFound"
    );

    // Bob's calendar shared with the account: Bob's events; unshared: notFound.
    let bob = "bob@example.com";
    fake.insert_event_direct(
        bob,
        "primary",
        timed("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
    )
    .unwrap();
    let body = json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": bob}]});
    let (_, answer) = freebusy(&fake, &access, body.clone()).await;
    assert_eq!(answer["calendars"][bob]["errors"][0]["reason"], "notFound");
    fake.add_calendar(
        DEFAULT_ACCOUNT,
        CalendarListEntry::new(bob, "Bob")
            .role(AccessRole::FreeBusyReader)
            .owned_by(bob),
    );
    let (_, answer) = freebusy(&fake, &access, body).await;
    assert_eq!(
        answer["calendars"][bob],
        json!({"busy": [{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}]})
    );

    // A calendar the account may only read refuses writes, as Google does.
    fake.add_calendar(
        DEFAULT_ACCOUNT,
        CalendarListEntry::new("ro@group.calendar.google.com", "RO").role(AccessRole::Reader),
    );
    let (write, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let (status, error) = api(
        &fake,
        Method::POST,
        "/calendars/ro@group.calendar.google.com/events",
        Some(&write),
        Some(timed("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z")),
    )
    .await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["errors"][0]["reason"], "requiredAccessLevel");
}

#[tokio::test]
async fn faults_can_target_the_new_routes() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[FREEBUSY_SCOPE, CALENDAR_LIST_READONLY_SCOPE]);
    fake.fail_next(Route::FreeBusy, Fault::Status(503), 1);
    fake.fail_next(Route::CalendarList, Fault::Status(500), 1);
    let body = json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z"});
    assert_eq!(
        api(&fake, Method::GET, LIST, Some(&access), None).await.0,
        500
    );
    assert_eq!(freebusy(&fake, &access, body.clone()).await.0, 503);
    assert_eq!(
        api(&fake, Method::GET, LIST, Some(&access), None).await.0,
        200
    );
    assert_eq!(freebusy(&fake, &access, body).await.0, 200);
}
