//! Meetings (issue 15, SPEC section 9) end to end: Google Meet conferences, attendees and
//! invitations (`send_updates`), RSVP, and the instances of recurring events, through the
//! built `events` and `updates` components in the test host, a real `redis-server`, the
//! fake Google Calendar and the fake REST service.
//!
//! "Delivered once" is never checked after a fixed sleep: a later write is made and its
//! CloudEvent awaited at the REST fake; the updates component handles the channel's
//! messages in order, so by then every earlier one has been delivered or never will be.

mod common;

use common::{Api, App, Connected, eventually, stream_events};
use gcal_tests::fakes::google::{ConferenceOutcome, Route as GoogleRoute};
use gcal_tests::fakes::{Fault, Faulty as _, Recorded};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

const USER: &str = "u1";
const EMAIL: &str = "u1@example.com";
const ORGANIZER: &str = "org@example.com";
const WAIT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------ helpers

async fn start() -> (App, Connected) {
    let app = App::start().await;
    app.rest.add_user(USER, Some(EMAIL), Some("Europe/Berlin"));
    let connected = common::connect(&app.api(), USER).await;
    (app, connected)
}

fn meeting(summary: &str) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": "2026-07-10T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-07-10T09:30:00", "timeZone": "Europe/Berlin"},
    })
}

async fn create(api: &Api<'_>, query: &str, body: &Value) -> Value {
    let r = api.post(&format!("/events/{USER}{query}"), body).await;
    assert_eq!(r.status, 201, "{body}: {} {}", r.text, api.app.logs());
    r.json()
}

/// Calendar API requests with this method whose path ends in `suffix`.
fn google_requests(app: &App, method: &str, suffix: &str) -> Vec<Recorded> {
    app.google
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.starts_with("/calendar/v3/"))
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

fn param(r: &Recorded, name: &str) -> Option<String> {
    r.query_pairs()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn body_of(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON request body")
}

fn meet_uri(event: &Value) -> String {
    let uri = event["conference"]["uri"].as_str().unwrap_or_default();
    assert!(uri.starts_with("https://meet.google.com/"), "{event}");
    uri.to_owned()
}

/// Stores an invitation from `ORGANIZER` in the user's calendar, the user and `others`
/// invited; returns its id.
fn invitation(app: &App, others: &[&str]) -> String {
    let mut attendees = vec![json!({"email": ORGANIZER, "responseStatus": "accepted"})];
    attendees.push(json!({"email": EMAIL}));
    attendees.extend(others.iter().map(|e| json!({"email": e})));
    let event = json!({
        "summary": "Planning",
        "start": {"dateTime": "2026-07-20T14:00:00Z"},
        "end": {"dateTime": "2026-07-20T15:00:00Z"},
        "attendees": attendees,
    });
    let stored = app
        .google
        .insert_invitation(EMAIL, "primary", ORGANIZER, event)
        .expect("the fake stores the invitation");
    stored["id"].as_str().unwrap().to_owned()
}

fn response_of(event: &Value, email: &str) -> Value {
    event["attendees"]
        .as_array()
        .unwrap_or_else(|| panic!("attendees in {event}"))
        .iter()
        .find(|a| a["email"] == email)
        .and_then(|a| a.get("response_status").or(a.get("responseStatus")))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The `calendar.event.*` CloudEvents in the stream about one event.
fn messages_about(app: &App, event_id: &str) -> Vec<Value> {
    stream_events(app)
        .into_iter()
        .filter(|e| e["data"]["event_id"] == event_id)
        .collect()
}

/// Makes a later write and waits until its CloudEvent reached the REST service: every
/// CloudEvent published before it has then been handled.
async fn settle(app: &App) {
    let later = create(&app.api(), "", &meeting("Later")).await;
    let id = later["id"].as_str().unwrap().to_owned();
    let delivered = eventually(WAIT, || {
        app.rest
            .notifications()
            .iter()
            .any(|n| n["data"]["event_id"] == id.as_str())
    })
    .await;
    assert!(
        delivered,
        "the later write was not delivered: {}",
        app.logs()
    );
}

// ------------------------------------------------------------------ conferences

#[tokio::test]
async fn a_meeting_gets_a_meet_link_its_attendees_and_their_invitations() {
    let (app, _) = start().await;
    let api = app.api();
    let mut body = meeting("Kickoff");
    body["conference"] = json!({"type": "google_meet"});
    body["attendees"] = json!([
        {"email": "ann@example.com", "display_name": "Ann"},
        {"email": "bob@example.org", "optional": true},
    ]);
    let ev = create(&api, "?send_updates=all", &body).await;

    let c = &ev["conference"];
    assert_eq!(
        (&c["type"], &c["status"]),
        (&json!("google_meet"), &json!("success")),
        "{ev}"
    );
    let uri = meet_uri(&ev);
    let points = c["entry_points"].as_array().expect("entry points");
    let video = points.iter().find(|p| p["type"] == "video").expect("video");
    assert_eq!(video["uri"], uri.as_str());
    assert!(
        video["label"]
            .as_str()
            .is_some_and(|l| l.starts_with("meet.google.com/"))
    );
    let phone = points.iter().find(|p| p["type"] == "phone").expect("phone");
    assert!(
        phone["pin"].as_str().is_some_and(|p| !p.is_empty()),
        "{phone}"
    );
    for p in points {
        let keys: BTreeSet<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["type", "uri", "label", "pin"]));
    }
    assert_eq!(ev["organizer"], json!({"email": EMAIL, "self": true}));
    assert_eq!(
        ev["attendees"],
        json!([
            {"email": "ann@example.com", "display_name": "Ann", "optional": false,
             "response_status": "needsAction", "self": false, "organizer": false},
            {"email": "bob@example.org", "display_name": null, "optional": true,
             "response_status": "needsAction", "self": false, "organizer": false},
        ])
    );

    // What Google was asked: a Meet create request, invitations to everyone.
    let inserts = google_requests(&app, "POST", "/events");
    assert_eq!(inserts.len(), 1);
    assert_eq!(
        param(&inserts[0], "conferenceDataVersion").as_deref(),
        Some("1")
    );
    assert_eq!(param(&inserts[0], "sendUpdates").as_deref(), Some("all"));
    let asked = &body_of(&inserts[0])["conferenceData"]["createRequest"];
    assert_eq!(asked["conferenceSolutionKey"]["type"], "hangoutsMeet");
    assert!(asked["requestId"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(body_of(&inserts[0])["attendees"][0]["displayName"], "Ann");
    let id = ev["id"].as_str().unwrap();
    assert_eq!(app.google.send_updates_of(id), vec![Some("all".to_owned())]);
    let write = app.google.writes().pop().expect("a write");
    assert_eq!(write.attendees, vec!["ann@example.com", "bob@example.org"]);

    // The stored event reads back the same, Meet link included.
    let got = api.get(&format!("/events/{USER}/{id}")).await.ok(200);
    assert_eq!(
        (&got["conference"], &got["attendees"]),
        (&ev["conference"], &ev["attendees"])
    );
    let stored = app.google.event(EMAIL, "primary", id).expect("stored");
    assert_eq!(stored["hangoutLink"], uri.as_str());
    assert_eq!(app.google.conferences_created(), 1);

    // Without a conference asked for, there is none.
    let plain = create(&api, "", &meeting("Plain")).await;
    assert_eq!(
        (
            &plain["conference"],
            plain["attendees"].as_array().map(Vec::len)
        ),
        (&Value::Null, Some(0))
    );
}

#[tokio::test]
async fn a_retried_create_keeps_one_conference() {
    let (app, _) = start().await;
    let api = app.api();
    let mut body = meeting("Retried");
    body["conference"] = json!({"type": "google_meet"});

    // The client retries with the same key: one event, one meeting.
    let first = api
        .post_with_key(&format!("/events/{USER}"), "meet-1", &body)
        .await;
    let second = api
        .post_with_key(&format!("/events/{USER}"), "meet-1", &body)
        .await;
    let (a, b) = (first.ok(201), second.ok(200));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(meet_uri(&a), meet_uri(&b));
    assert_eq!(app.google.conferences_created(), 1);

    // Without a key, the service's own retry (Google answered 503 first) asks for the same
    // conference again: one meeting.
    app.google.clear_requests();
    app.google
        .fail_next(GoogleRoute::EventsInsert, Fault::Status(503), 1);
    let c = create(&api, "", &body).await;
    let inserts = google_requests(&app, "POST", "/events");
    assert_eq!(inserts.len(), 2, "one retry");
    let ids: Vec<Value> = inserts
        .iter()
        .map(|r| body_of(r)["conferenceData"]["createRequest"]["requestId"].clone())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_ne!(meet_uri(&c), meet_uri(&a));
    assert_eq!(app.google.conferences_created(), 2);

    // Two creates without a key are two meetings.
    let d = create(&api, "", &body).await;
    assert_ne!(meet_uri(&d), meet_uri(&c));
    assert_eq!(app.google.conferences_created(), 3);
    let stored = app.google.events(EMAIL, "primary");
    assert_eq!(stored.len(), 3, "three events in all");
}

#[tokio::test]
async fn pending_and_failed_conferences_are_reported_as_google_has_them() {
    let (app, _) = start().await;
    let api = app.api();
    let mut body = meeting("Pending");
    body["conference"] = json!({"type": "google_meet"});
    app.google
        .set_conference_outcome(ConferenceOutcome::Pending);
    let ev = create(&api, "", &body).await;
    assert_eq!(
        ev["conference"],
        json!({"type": "google_meet", "status": "pending", "uri": null, "entry_points": []})
    );
    assert_eq!(app.google.complete_pending_conferences(), 1);
    let id = ev["id"].as_str().unwrap();
    let done = api.get(&format!("/events/{USER}/{id}")).await.ok(200);
    assert_eq!(done["conference"]["status"], "success", "{done}");
    meet_uri(&done);

    app.google
        .set_conference_outcome(ConferenceOutcome::Failure);
    let failed = create(&api, "", &body).await;
    assert_eq!(failed["conference"]["status"], "failure", "{failed}");
    assert_eq!(failed["conference"]["uri"], Value::Null);
}

#[tokio::test]
async fn a_patch_adds_a_conference_once_and_every_write_keeps_it() {
    let (app, _) = start().await;
    let api = app.api();
    let ev = create(&api, "", &meeting("Later a meeting")).await;
    let id = ev["id"].as_str().unwrap().to_owned();
    let path = format!("/events/{USER}/{id}");
    assert_eq!(ev["conference"], Value::Null);

    let meet = json!({"conference": {"type": "google_meet"}});
    let with = api
        .patch(&format!("{path}?send_updates=external_only"), &meet)
        .await
        .ok(200);
    let uri = meet_uri(&with);
    // Asked again, the conference stays; other changes keep it too.
    let again = api.patch(&path, &meet).await.ok(200);
    assert_eq!(meet_uri(&again), uri);
    let renamed = api
        .patch(&path, &json!({"summary": "Renamed"}))
        .await
        .ok(200);
    assert_eq!(meet_uri(&renamed), uri);
    assert_eq!(app.google.conferences_created(), 1);

    let patches = google_requests(&app, "PATCH", &id);
    assert_eq!(patches.len(), 3);
    for p in &patches {
        assert_eq!(
            param(p, "conferenceDataVersion").as_deref(),
            Some("1"),
            "{:?}",
            p.query
        );
    }
    assert!(
        body_of(&patches[1]).get("conferenceData").is_none(),
        "a second conference was asked for"
    );
    assert_eq!(
        app.google.send_updates_of(&id),
        vec![
            Some("none".to_owned()),
            Some("externalOnly".to_owned()),
            Some("none".to_owned()),
            Some("none".to_owned()),
        ]
    );
}

// ------------------------------------------------------------------ send_updates

#[tokio::test]
async fn send_updates_is_sent_on_every_write_and_an_unknown_value_is_400() {
    let (app, _) = start().await;
    let api = app.api();
    let ev = create(&api, "", &meeting("Quiet")).await;
    let id = ev["id"].as_str().unwrap().to_owned();
    let path = format!("/events/{USER}/{id}");
    let invite = invitation(&app, &[]);

    let calls = app.google.api_calls();
    for (method, p) in [
        (Method::POST, format!("/events/{USER}")),
        (Method::PATCH, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, format!("/events/{USER}/{invite}/rsvp")),
    ] {
        for bad in ["loud", "externalOnly", ""] {
            let req = api
                .authed(method.clone(), &format!("{p}?send_updates={bad}"))
                .json(&json!({"summary": "x", "response": "accepted"}));
            api.send(req).await.problem(400, "invalid_query");
        }
    }
    api.get(&format!("{path}?send_updates=all"))
        .await
        .problem(400, "invalid_query");
    assert_eq!(
        app.google.api_calls(),
        calls,
        "no call to Google for a refused query"
    );

    api.delete(&format!("{path}?send_updates=all"))
        .await
        .expect(204);
    assert_eq!(
        app.google.send_updates_of(&id),
        vec![Some("none".to_owned()), Some("all".to_owned())]
    );
    let deletes = google_requests(&app, "DELETE", &id);
    assert_eq!(param(&deletes[0], "sendUpdates").as_deref(), Some("all"));
}

// ------------------------------------------------------------------ RSVP

#[tokio::test]
async fn an_rsvp_sets_only_the_users_answer_and_is_announced_once() {
    let (app, connected) = start().await;
    let api = app.api();
    let id = invitation(&app, &["bob@example.com"]);
    let before = app.google.event(EMAIL, "primary", &id).expect("stored");

    let body = json!({"response": "tentative", "comment": "might be late"});
    let r = api
        .post(&format!("/events/{USER}/{id}/rsvp?send_updates=all"), &body)
        .await;
    let ev = r.ok(200);
    let own: Vec<&Value> = ev["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["self"] == true)
        .collect();
    assert_eq!(own.len(), 1, "{ev}");
    assert_eq!(
        (&own[0]["email"], &own[0]["response_status"]),
        (&json!(EMAIL), &json!("tentative"))
    );
    assert_eq!(response_of(&ev, ORGANIZER), "accepted");
    assert_eq!(response_of(&ev, "bob@example.com"), "needsAction");
    assert_eq!(ev["organizer"], json!({"email": ORGANIZER, "self": false}));

    // One conditional patch of the whole list, the other entries as they were.
    let patches = google_requests(&app, "PATCH", &id);
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].header("if-match"), before["etag"].as_str());
    assert_eq!(param(&patches[0], "sendUpdates").as_deref(), Some("all"));
    let sent = body_of(&patches[0]);
    assert_eq!(sent.as_object().unwrap().len(), 1, "only attendees: {sent}");
    assert_eq!(sent["attendees"].as_array().unwrap().len(), 3);
    let stored = app.google.event(EMAIL, "primary", &id).unwrap();
    let mine = stored["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == EMAIL)
        .unwrap()
        .clone();
    assert_eq!(
        (&mine["responseStatus"], &mine["comment"]),
        (&json!("tentative"), &json!("might be late"))
    );

    // Exactly one calendar.event.updated, delivered once, with no token in it.
    let messages = messages_about(&app, &id);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["type"], "calendar.event.updated");
    let ce = messages[0]["id"].as_str().unwrap().to_owned();
    settle(&app).await;
    assert_eq!(app.rest.delivery_count(&ce), 1);
    let delivered: Vec<Value> = app
        .rest
        .notifications()
        .into_iter()
        .filter(|n| n["id"] == ce.as_str())
        .collect();
    assert_eq!(delivered, messages);
    api.assert_no_secrets(&connected.secrets(), &app.rest.notifications());
}

#[tokio::test]
async fn an_rsvp_racing_another_attendees_answer_keeps_both() {
    let (app, _) = start().await;
    let id = invitation(&app, &["bob@example.com"]);
    let first_etag = app.google.event(EMAIL, "primary", &id).unwrap()["etag"].clone();

    // Our patch is held at Google while Bob answers from his own calendar.
    app.google.fail_next(
        GoogleRoute::EventsUpdate,
        Fault::Slow(Duration::from_secs(3)),
        1,
    );
    let path = format!("/events/{USER}/{id}/rsvp");
    let answer = {
        let api = app.api();
        let body = json!({"response": "accepted"});
        async move { api.post(&path, &body).await }
    };
    let bob = async {
        let held = eventually(WAIT, || !google_requests(&app, "PATCH", &id).is_empty()).await;
        assert!(held, "the RSVP never patched");
        app.google
            .respond_as_attendee(EMAIL, "primary", &id, "bob@example.com", "declined")
            .expect("bob answers")
    };
    let (r, _) = tokio::join!(answer, bob);
    let ev = r.ok(200);
    assert_eq!(response_of(&ev, EMAIL), "accepted");
    assert_eq!(
        response_of(&ev, "bob@example.com"),
        "declined",
        "bob's answer was lost"
    );
    let stored = app.google.event(EMAIL, "primary", &id).unwrap();
    assert_eq!(response_of(&stored, "bob@example.com"), "declined");
    assert_eq!(response_of(&stored, EMAIL), "accepted");

    // The stale patch was refused and the answer applied to the event as re-read.
    let patches = google_requests(&app, "PATCH", &id);
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0].header("if-match"), first_etag.as_str());
    assert_ne!(patches[1].header("if-match"), first_etag.as_str());
    assert_eq!(google_requests(&app, "GET", &id).len(), 2, "read twice");
    assert_eq!(messages_about(&app, &id).len(), 1, "announced once");
}

#[tokio::test]
async fn an_rsvp_that_keeps_losing_the_race_is_409_event_changed() {
    let (app, _) = start().await;
    let id = invitation(&app, &[]);
    app.google
        .fail_next(GoogleRoute::EventsUpdate, Fault::Status(412), 2);
    let r = app
        .api()
        .post(
            &format!("/events/{USER}/{id}/rsvp"),
            &json!({"response": "declined"}),
        )
        .await;
    r.problem(409, "event_changed");
    assert_eq!(google_requests(&app, "PATCH", &id).len(), 2, "retried once");
    assert!(messages_about(&app, &id).is_empty());
}

#[tokio::test]
async fn an_rsvp_by_someone_not_invited_is_409_and_bad_answers_are_400() {
    let (app, _) = start().await;
    let api = app.api();
    let mine = create(&api, "", &meeting("No attendees")).await;
    let mut with_others = meeting("Others");
    with_others["attendees"] = json!([{"email": "ann@example.com"}]);
    let others = create(&api, "", &with_others).await;
    let writes = app.google.writes().len();
    for ev in [&mine, &others] {
        let id = ev["id"].as_str().unwrap();
        api.post(
            &format!("/events/{USER}/{id}/rsvp"),
            &json!({"response": "accepted"}),
        )
        .await
        .problem(409, "not_an_attendee");
        assert!(
            messages_about(&app, id)
                .iter()
                .all(|m| m["type"] == "calendar.event.created")
        );
    }
    assert_eq!(app.google.writes().len(), writes, "nothing written");

    let id = invitation(&app, &[]);
    let rsvp = format!("/events/{USER}/{id}/rsvp");
    let long = "x".repeat(1025);
    for body in [
        json!({"response": "maybe"}),
        json!({"response": "needsAction"}),
        json!({}),
        json!({"response": "accepted", "comment": long}),
    ] {
        api.post(&rsvp, &body).await.problem(400, "invalid_event");
    }
    api.post(&rsvp, &json!({"response": "accepted", "self": true}))
        .await
        .problem(400, "unknown_field");
    api.post(
        &format!("/events/{USER}/nosuchevent/rsvp"),
        &json!({"response": "accepted"}),
    )
    .await
    .problem(404, "event_not_found");
    api.get(&rsvp).await.problem(405, "method_not_allowed");
    let comment = "y".repeat(1024);
    let ok = api
        .post(&rsvp, &json!({"response": "accepted", "comment": comment}))
        .await;
    assert_eq!(response_of(&ok.ok(200), EMAIL), "accepted");
}

// ------------------------------------------------------------------ validation

#[tokio::test]
async fn attendees_are_validated_before_any_call_to_google() {
    let (app, _) = start().await;
    let api = app.api();
    let calls = app.google.api_calls();
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"email": format!("p{i}@example.com")}))
        .collect();
    let long_name = "n".repeat(257);
    for (attendees, code) in [
        (json!(many), "invalid_event"),
        (json!([{"email": "nobody"}]), "invalid_event"),
        (json!([{"email": "a@localhost"}]), "invalid_event"),
        (json!([{"email": "Ann <a@example.com>"}]), "invalid_event"),
        (
            json!([{"email": "a@example.com"}, {"email": "A@example.com"}]),
            "invalid_event",
        ),
        (
            json!([{"email": "a@example.com", "display_name": long_name}]),
            "invalid_event",
        ),
        (
            json!([{"email": "a@example.com", "response_status": "accepted"}]),
            "unknown_field",
        ),
    ] {
        let mut body = meeting("Bad");
        body["attendees"] = attendees;
        api.post(&format!("/events/{USER}"), &body)
            .await
            .problem(400, code);
    }
    let mut zoom = meeting("Zoom");
    zoom["conference"] = json!({"type": "zoom"});
    api.post(&format!("/events/{USER}"), &zoom)
        .await
        .problem(400, "invalid_event");
    assert_eq!(app.google.api_calls(), calls);

    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"email": format!("p{i}@example.com")}))
        .collect();
    let mut body = meeting("Big");
    body["attendees"] = json!(hundred);
    let ev = create(&api, "", &body).await;
    assert_eq!(ev["attendees"].as_array().unwrap().len(), 100);
}

// ------------------------------------------------------------------ instances

/// Every page of `GET .../instances?{query}`, followed to the end.
async fn all_instances(api: &Api<'_>, id: &str, query: &str) -> (Vec<Vec<Value>>, Vec<Value>) {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = query.to_owned();
        if let Some(t) = &token {
            q.push_str(&format!("&page_token={}", common::enc(t)));
        }
        let page = api
            .get(&format!("/events/{USER}/{id}/instances?{q}"))
            .await
            .ok(200);
        let keys: BTreeSet<&str> = page
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["items", "next_page_token", "next_sync_token", "time_zone"])
        );
        pages.push(page["items"].as_array().unwrap().clone());
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
        assert!(pages.len() < 20, "paging does not end");
    }
    let all = pages.concat();
    (pages, all)
}

#[tokio::test]
async fn instances_of_weekly_and_daily_series_page_correctly() {
    let (app, _) = start().await;
    let api = app.api();
    let mut weekly = meeting("Weekly");
    weekly["start"] = json!({"dateTime": "2026-07-06T10:00:00", "timeZone": "Europe/Berlin"});
    weekly["end"] = json!({"dateTime": "2026-07-06T10:30:00", "timeZone": "Europe/Berlin"});
    weekly["recurrence"] = json!(["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"]);
    weekly["conference"] = json!({"type": "google_meet"});
    let series = create(&api, "", &weekly).await;
    let id = series["id"].as_str().unwrap();

    let (pages, all) = all_instances(&api, id, "max_results=3").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    let distinct: HashSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 10, "every occurrence exactly once");
    for item in &all {
        assert_eq!(item["recurring_event_id"], id, "{item}");
        assert_eq!(
            item["conference"], series["conference"],
            "the series' meeting"
        );
    }
    let starts: Vec<&str> = all
        .iter()
        .map(|e| e["start"]["dateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        &starts[..3],
        [
            "2026-07-06T10:00:00+02:00",
            "2026-07-08T10:00:00+02:00",
            "2026-07-13T10:00:00+02:00"
        ]
    );

    // A window and a zone.
    let (_, window) = all_instances(
        &api,
        id,
        "time_min=2026-07-13&time_max=2026-07-20&time_zone=America/New_York",
    )
    .await;
    let starts: Vec<&str> = window
        .iter()
        .map(|e| e["start"]["dateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        ["2026-07-13T04:00:00-04:00", "2026-07-15T04:00:00-04:00"]
    );
    let q = google_requests(&app, "GET", "/instances").pop().unwrap();
    assert_eq!(param(&q, "timeZone").as_deref(), Some("America/New_York"));

    // Daily until a date.
    let mut daily = meeting("Daily");
    daily["recurrence"] = json!(["RRULE:FREQ=DAILY;UNTIL=20260714T235959Z"]);
    let d = create(&api, "", &daily).await;
    let (_, days) = all_instances(&api, d["id"].as_str().unwrap(), "max_results=2").await;
    assert_eq!(days.len(), 5, "10th to 14th July");

    // An event that does not recur lists as itself.
    let single = create(&api, "", &meeting("Once")).await;
    let sid = single["id"].as_str().unwrap();
    let (_, one) = all_instances(&api, sid, "").await;
    assert_eq!(one.len(), 1);
    assert_eq!(
        (&one[0]["id"], &one[0]["recurring_event_id"]),
        (&json!(sid), &json!(sid))
    );

    let base = format!("/events/{USER}/{id}/instances");
    for bad in [
        "q=x",
        "single_events=true",
        "max_results=0",
        "time_min=2026-08-01&time_max=2026-07-01",
        "send_updates=all",
    ] {
        let r = api.get(&format!("{base}?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    api.get(&format!("/events/{USER}/nosuchevent/instances"))
        .await
        .problem(404, "event_not_found");
    api.post(&base, &json!({}))
        .await
        .problem(405, "method_not_allowed");
}
