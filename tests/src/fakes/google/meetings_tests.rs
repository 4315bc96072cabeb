//! Conferences, `sendUpdates`, ETags, attendees and `events.instances` of the fake
//! (issue 15), over real HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use super::tests::{api, fake};
use super::*;

const EVENTS: &str = "/calendars/primary/events";

/// A request with extra headers; answers status, body and `ETag`-free body as JSON.
async fn send(
    fake: &FakeGoogle,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/calendar/v3{path}", fake.origin()))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A write with a body and the test's token.
async fn write(
    fake: &FakeGoogle,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    api(fake, method, path, Some(token), Some(body)).await
}

/// A request without a body, with the test's token.
async fn bodiless(fake: &FakeGoogle, method: Method, path: &str, token: &str) -> (u16, Value) {
    api(fake, method, path, Some(token), None).await
}

/// `createRequest.status.statusCode` of an event's conference.
fn conference_status(event: &Value) -> &Value {
    &event["conferenceData"]["createRequest"]["status"]["statusCode"]
}

/// A write with `If-Match`.
async fn guarded(
    fake: &FakeGoogle,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    etag: &str,
) -> (u16, Value) {
    send(fake, method, path, token, body, &[("If-Match", etag)]).await
}

fn meeting(request_id: Option<&str>) -> Value {
    let mut event = json!({"summary": "sync",
        "start": {"dateTime": "2030-01-07T09:00:00Z"}, "end": {"dateTime": "2030-01-07T09:30:00Z"}});
    if let Some(id) = request_id {
        event["conferenceData"] = json!({"createRequest": {"requestId": id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"}}});
    }
    event
}

fn is_meet_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [3, 4, 3]
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
}

#[tokio::test]
async fn conferences_are_created_once_per_request_id_and_only_with_version_1() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let path = format!("{EVENTS}?conferenceDataVersion=1");
    let (status, created) =
        write(&fake, Method::POST, &path, &access, meeting(Some("req-1"))).await;
    assert_eq!(status, 200, "{created}");
    let conference = &created["conferenceData"];
    assert_eq!(
        conference["createRequest"]["status"]["statusCode"],
        "success"
    );
    assert_eq!(conference["createRequest"]["requestId"], "req-1");
    assert_eq!(
        conference["conferenceSolution"]["key"]["type"],
        "hangoutsMeet"
    );
    let code = conference["conferenceId"].as_str().unwrap();
    assert!(is_meet_code(code), "{code}");
    let video = format!("https://meet.google.com/{code}");
    assert_eq!(created["hangoutLink"], video.as_str());
    let entry_points = conference["entryPoints"].as_array().unwrap();
    assert_eq!(entry_points[0]["entryPointType"], "video");
    assert_eq!(entry_points[0]["uri"], video.as_str());
    assert_eq!(entry_points[0]["label"], format!("meet.google.com/{code}"));
    assert_eq!(entry_points[1]["entryPointType"], "phone");
    assert!(entry_points[1]["pin"].is_string());
    assert_eq!(fake.conferences_created(), 1);

    // The same requestId on the same calendar: the same conference, none created.
    let (_, again) = write(&fake, Method::POST, &path, &access, meeting(Some("req-1"))).await;
    assert_ne!(again["id"], created["id"]);
    assert_eq!(again["conferenceData"], created["conferenceData"]);
    assert_eq!(fake.conferences_created(), 1);
    let (_, other) = write(&fake, Method::POST, &path, &access, meeting(Some("req-2"))).await;
    assert_ne!(
        other["conferenceData"]["conferenceId"],
        created["conferenceData"]["conferenceId"]
    );
    assert_eq!(fake.conferences_created(), 2);

    // Without conferenceDataVersion=1 the request's conferenceData is ignored...
    let (_, plain) = write(&fake, Method::POST, EVENTS, &access, meeting(Some("req-3"))).await;
    assert!(plain.get("conferenceData").is_none(), "{plain}");
    assert!(plain.get("hangoutLink").is_none());
    assert_eq!(fake.conferences_created(), 2);
    // ...and an existing conference is kept, on patch and on update.
    let event_path = format!("{EVENTS}/{}", created["id"].as_str().unwrap());
    let (_, patched) = write(
        &fake,
        Method::PATCH,
        &event_path,
        &access,
        json!({"summary": "renamed", "conferenceData": null}),
    )
    .await;
    assert_eq!(patched["conferenceData"], created["conferenceData"]);
    let (status, updated) = write(&fake, Method::PUT, &event_path, &access, meeting(None)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["conferenceData"], created["conferenceData"]);
    assert_eq!(updated["hangoutLink"], video.as_str());
    // With version 1, the same requestId again changes nothing; null removes it.
    let versioned = format!("{event_path}?conferenceDataVersion=1");
    let (_, same) = write(
        &fake,
        Method::PATCH,
        &versioned,
        &access,
        meeting(Some("req-1")),
    )
    .await;
    assert_eq!(same["conferenceData"], created["conferenceData"]);
    let (_, removed) = write(
        &fake,
        Method::PATCH,
        &versioned,
        &access,
        json!({"conferenceData": null}),
    )
    .await;
    assert!(removed.get("conferenceData").is_none(), "{removed}");
    assert!(removed.get("hangoutLink").is_none(), "{removed}");

    // Refused like Google.
    let mut wrong_type = meeting(Some("req-9"));
    wrong_type["conferenceData"]["createRequest"]["conferenceSolutionKey"]["type"] = json!("zoom");
    let mut no_id = meeting(Some("req-9"));
    no_id["conferenceData"]["createRequest"]
        .as_object_mut()
        .unwrap()
        .remove("requestId");
    for (body, reason) in [(wrong_type, "invalid"), (no_id, "required")] {
        let (status, error) = write(&fake, Method::POST, &path, &access, body).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["errors"][0]["reason"], reason);
    }
    let (status, _) = write(
        &fake,
        Method::POST,
        &format!("{EVENTS}?conferenceDataVersion=2"),
        &access,
        meeting(None),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn pending_conferences_complete_later_and_failures_carry_no_link() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let path = format!("{EVENTS}?conferenceDataVersion=1");
    fake.set_conference_outcome(ConferenceOutcome::Pending);
    let (_, pending) = write(&fake, Method::POST, &path, &access, meeting(Some("p-1"))).await;
    assert_eq!(conference_status(&pending), "pending");
    assert!(pending["conferenceData"].get("entryPoints").is_none());
    assert!(pending.get("hangoutLink").is_none());
    assert_eq!(fake.complete_pending_conferences(), 1);
    let id = pending["id"].as_str().unwrap();
    let done = fake.event(DEFAULT_ACCOUNT, "primary", id).unwrap();
    assert_eq!(conference_status(&done), "success");
    assert!(
        done["hangoutLink"]
            .as_str()
            .unwrap()
            .starts_with("https://meet.google.com/")
    );
    assert_ne!(done["etag"], pending["etag"]);
    assert_eq!(fake.complete_pending_conferences(), 0);

    fake.set_conference_outcome(ConferenceOutcome::Failure);
    let (_, failed) = write(&fake, Method::POST, &path, &access, meeting(Some("f-1"))).await;
    assert_eq!(conference_status(&failed), "failure");
    assert!(failed.get("hangoutLink").is_none());
}

#[tokio::test]
async fn send_updates_are_recorded_per_write() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let mut event = meeting(None);
    event["attendees"] = json!([{"email": "guest@example.org"}, {"email": DEFAULT_ACCOUNT}]);
    let (_, created) = write(
        &fake,
        Method::POST,
        &format!("{EVENTS}?sendUpdates=all"),
        &access,
        event,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let event_path = format!("{EVENTS}/{id}");
    let (status, _) = write(
        &fake,
        Method::PATCH,
        &format!("{event_path}?sendUpdates=externalOnly"),
        &access,
        json!({"summary": "moved"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, error) = write(
        &fake,
        Method::PATCH,
        &format!("{event_path}?sendUpdates=everyone"),
        &access,
        json!({"summary": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["errors"][0]["reason"], "invalid");
    let (status, _) = write(&fake, Method::PUT, &event_path, &access, meeting(None)).await;
    assert_eq!(status, 200);
    let (status, _) = bodiless(
        &fake,
        Method::DELETE,
        &format!("{event_path}?sendUpdates=none"),
        &access,
    )
    .await;
    assert_eq!(status, 204);

    assert_eq!(
        fake.send_updates_of(id),
        vec![
            Some("all".into()),
            Some("externalOnly".into()),
            None,
            Some("none".into())
        ]
    );
    let writes = fake.writes();
    let methods: Vec<&str> = writes.iter().map(|w| w.method).collect();
    assert_eq!(methods, ["insert", "patch", "update", "delete"]);
    assert_eq!(writes[0].attendees, vec!["guest@example.org".to_owned()]);
    assert_eq!(writes[0].calendar_id, "primary");
    assert_eq!(writes[0].account, DEFAULT_ACCOUNT);
    // The direct hooks are not API writes.
    fake.insert_event_direct(DEFAULT_ACCOUNT, "primary", meeting(None))
        .unwrap();
    assert_eq!(fake.writes().len(), 4);
}

#[tokio::test]
async fn etags_change_on_every_write_and_if_match_guards_writes() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let mut event = meeting(None);
    event["attendees"] = json!([{"email": DEFAULT_ACCOUNT}, {"email": "ann@example.org"}]);
    let (_, created) = write(&fake, Method::POST, EVENTS, &access, event).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("{EVENTS}/{id}");
    let first = created["etag"].as_str().unwrap().to_owned();

    let (status, body) = send(
        &fake,
        Method::GET,
        &path,
        &access,
        None,
        &[("If-None-Match", &first)],
    )
    .await;
    assert_eq!((status, body), (304, Value::Null));
    let (status, _) = send(
        &fake,
        Method::GET,
        &path,
        &access,
        None,
        &[("If-None-Match", "\"other\"")],
    )
    .await;
    assert_eq!(status, 200);

    let (status, patched) = guarded(
        &fake,
        Method::PATCH,
        &path,
        &access,
        Some(json!({"summary": "a"})),
        &first,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let second = patched["etag"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let (status, error) = guarded(
        &fake,
        Method::PATCH,
        &path,
        &access,
        Some(json!({"summary": "b"})),
        &first,
    )
    .await;
    assert_eq!(status, 412, "{error}");
    assert_eq!(error["error"]["errors"][0]["reason"], "conditionNotMet");
    let (status, _) = guarded(
        &fake,
        Method::PUT,
        &path,
        &access,
        Some(meeting(None)),
        &first,
    )
    .await;
    assert_eq!(status, 412);
    let (status, _) = guarded(&fake, Method::DELETE, &path, &access, None, &first).await;
    assert_eq!(status, 412);
    assert_eq!(
        fake.event(DEFAULT_ACCOUNT, "primary", id).unwrap()["summary"],
        "a"
    );

    // Another attendee answers: the etag moves; the stale one fails, a re-read succeeds
    // and a whole-list patch from it keeps the other answer.
    let theirs = fake
        .respond_as_attendee(
            DEFAULT_ACCOUNT,
            "primary",
            id,
            "ann@example.org",
            "accepted",
        )
        .unwrap();
    assert_ne!(theirs["etag"].as_str().unwrap(), second);
    let mine = json!({"attendees": [
        {"email": DEFAULT_ACCOUNT, "responseStatus": "accepted"},
        {"email": "ann@example.org", "responseStatus": "needsAction"}]});
    let (status, _) = guarded(&fake, Method::PATCH, &path, &access, Some(mine), &second).await;
    assert_eq!(status, 412);
    let (_, fresh) = bodiless(&fake, Method::GET, &path, &access).await;
    let mut attendees = fresh["attendees"].clone();
    attendees[0]["responseStatus"] = json!("accepted");
    let etag = fresh["etag"].as_str().unwrap();
    let (status, done) = guarded(
        &fake,
        Method::PATCH,
        &path,
        &access,
        Some(json!({"attendees": attendees})),
        etag,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["attendees"][0]["responseStatus"], "accepted");
    assert_eq!(done["attendees"][1]["responseStatus"], "accepted");
    let (status, _) = guarded(&fake, Method::DELETE, &path, &access, None, "*").await;
    assert_eq!(status, 204);
    assert!(
        fake.respond_as_attendee(
            DEFAULT_ACCOUNT,
            "primary",
            id,
            "zed@example.org",
            "accepted"
        )
        .is_err()
    );
}

#[tokio::test]
async fn attendees_are_flagged_and_replaced_whole() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let mut event = meeting(None);
    event["attendees"] = json!([
        {"email": "Fake.User@example.com"},
        {"email": "ann@example.org", "self": true, "organizer": true, "optional": true},
        {"email": "bo@example.org", "responseStatus": "tentative"}]);
    let (status, created) = write(&fake, Method::POST, EVENTS, &access, event).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["organizer"],
        json!({"email": DEFAULT_ACCOUNT, "self": true})
    );
    let attendees = created["attendees"].as_array().unwrap();
    assert_eq!(attendees[0]["self"], true);
    assert_eq!(attendees[0]["organizer"], true);
    assert_eq!(attendees[0]["responseStatus"], "needsAction");
    assert!(
        attendees[1].get("self").is_none(),
        "self is read-only: {}",
        attendees[1]
    );
    assert!(attendees[1].get("organizer").is_none());
    assert_eq!(attendees[1]["optional"], true);
    assert_eq!(attendees[2]["responseStatus"], "tentative");

    let path = format!("{EVENTS}/{}", created["id"].as_str().unwrap());
    let (_, patched) = write(
        &fake,
        Method::PATCH,
        &path,
        &access,
        json!({"attendees": [{"email": "cy@example.org"}]}),
    )
    .await;
    assert_eq!(
        patched["attendees"],
        json!([{"email": "cy@example.org", "responseStatus": "needsAction"}])
    );

    // An invitation from someone else: organizer not self, the account's entry is.
    let mut invite = meeting(None);
    invite["attendees"] = json!([{"email": "boss@example.org"}, {"email": DEFAULT_ACCOUNT}]);
    let stored = fake
        .insert_invitation(DEFAULT_ACCOUNT, "primary", "boss@example.org", invite)
        .unwrap();
    assert_eq!(stored["organizer"], json!({"email": "boss@example.org"}));
    assert_eq!(stored["attendees"][0]["organizer"], true);
    assert!(stored["attendees"][0].get("self").is_none());
    assert_eq!(stored["attendees"][1]["self"], true);
}

async fn insert(fake: &FakeGoogle, event: Value) -> String {
    let created = fake
        .insert_event_direct(DEFAULT_ACCOUNT, "primary", event)
        .expect("insert");
    created["id"].as_str().unwrap().to_owned()
}

fn starts(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["start"]["dateTime"]
                .as_str()
                .or(i["start"]["date"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn instances_expand_weekly_rules_across_dst_and_page() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    // Mondays and Wednesdays 09:00 Berlin from Monday 2030-03-25; DST starts 2030-03-31.
    let id = insert(
        &fake,
        json!({"summary": "standup",
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=5"],
        "start": {"dateTime": "2030-03-25T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-03-25T09:30:00", "timeZone": "Europe/Berlin"}}),
    )
    .await;
    let path = format!("{EVENTS}/{id}/instances");
    let (status, page) = bodiless(&fake, Method::GET, &path, &access).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["kind"], "calendar#events");
    assert_eq!(
        starts(&page),
        [
            "2030-03-25T09:00:00+01:00",
            "2030-03-27T09:00:00+01:00",
            "2030-04-01T09:00:00+02:00",
            "2030-04-03T09:00:00+02:00",
            "2030-04-08T09:00:00+02:00",
        ]
    );
    let third = &page["items"][2];
    assert_eq!(third["id"], format!("{id}_20300401T070000Z"));
    assert_eq!(third["recurringEventId"], id.as_str());
    assert_eq!(
        third["originalStartTime"],
        json!({"dateTime": "2030-04-01T09:00:00+02:00", "timeZone": "Europe/Berlin"})
    );
    assert_eq!(third["end"]["dateTime"], "2030-04-01T09:30:00+02:00");
    assert!(third.get("recurrence").is_none());
    assert_eq!(third["summary"], "standup");

    // Paging: 2 + 2 + 1, each instance once.
    let mut seen = Vec::new();
    let mut next = format!("{path}?maxResults=2");
    loop {
        let (status, page) = bodiless(&fake, Method::GET, &next, &access).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(starts(&page));
        match page["nextPageToken"].as_str() {
            Some(token) => next = format!("{path}?maxResults=2&pageToken={token}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(
        seen,
        starts(&bodiless(&fake, Method::GET, &path, &access).await.1)
    );

    // Window, zone of the answer, originalStart.
    let window =
        format!("{path}?timeMin=2030-03-27T08:00:00Z&timeMax=2030-04-03T07:00:00Z&timeZone=UTC");
    let (_, page) = bodiless(&fake, Method::GET, &window, &access).await;
    assert_eq!(
        starts(&page),
        ["2030-03-27T08:00:00Z", "2030-04-01T07:00:00Z"]
    );
    let one = format!("{path}?originalStart=2030-04-03T09:00:00%2B02:00");
    let (_, page) = bodiless(&fake, Method::GET, &one, &access).await;
    assert_eq!(starts(&page), ["2030-04-03T09:00:00+02:00"]);

    let (status, _) = bodiless(
        &fake,
        Method::GET,
        &format!("{EVENTS}/nosuchevent0/instances"),
        &access,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = bodiless(
        &fake,
        Method::GET,
        &format!("{path}?timeZone=Nowhere/Land"),
        &access,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn instances_honour_until_interval_exdate_and_all_day() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let list = |id: &str, query: &str| format!("{EVENTS}/{id}/instances{query}");

    let daily = insert(
        &fake,
        json!({"summary": "every other day",
        "recurrence": ["RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20300107T235959Z",
                       "EXDATE;TZID=America/New_York:20300103T100000"],
        "start": {"dateTime": "2030-01-01T10:00:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2030-01-01T11:00:00-05:00", "timeZone": "America/New_York"}}),
    )
    .await;
    let (_, page) = bodiless(&fake, Method::GET, &list(&daily, ""), &access).await;
    assert_eq!(
        starts(&page),
        [
            "2030-01-01T10:00:00-05:00",
            "2030-01-05T10:00:00-05:00",
            "2030-01-07T10:00:00-05:00"
        ]
    );
    let (_, page) = bodiless(
        &fake,
        Method::GET,
        &list(&daily, "?showDeleted=true"),
        &access,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert_eq!(page["items"][1]["status"], "cancelled");
    assert_eq!(page["items"][1]["id"], format!("{daily}_20300103T150000Z"));

    let all_day = insert(
        &fake,
        json!({"summary": "off",
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3;BYDAY=FR", "EXDATE;VALUE=DATE:20300111"],
        "start": {"date": "2030-01-04"}, "end": {"date": "2030-01-05"}}),
    )
    .await;
    let (_, page) = bodiless(&fake, Method::GET, &list(&all_day, ""), &access).await;
    assert_eq!(starts(&page), ["2030-01-04", "2030-01-18"]);
    assert_eq!(page["items"][0]["id"], format!("{all_day}_20300104"));
    assert_eq!(page["items"][0]["end"], json!({"date": "2030-01-05"}));
    assert_eq!(
        page["items"][0]["originalStartTime"],
        json!({"date": "2030-01-04"})
    );

    // A date UNTIL is inclusive.
    let until_date = insert(
        &fake,
        json!({"summary": "u",
        "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20300103"],
        "start": {"dateTime": "2030-01-01T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-01-01T10:00:00", "timeZone": "Europe/Berlin"}}),
    )
    .await;
    let (_, page) = bodiless(&fake, Method::GET, &list(&until_date, ""), &access).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);

    // A single event lists as itself.
    let single = insert(&fake, meeting(None)).await;
    let (_, page) = bodiless(&fake, Method::GET, &list(&single, ""), &access).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], single.as_str());

    // Rules Google or the fake cannot expand are refused at write time.
    for lines in [
        json!(["RRULE:FREQ=SOMETIMES"]),
        json!(["RRULE:FREQ=DAILY;BYDAY=XX"]),
        json!(["EXRULE:FREQ=DAILY"]),
        json!(["RRULE:FREQ=DAILY;UNTIL=20291231T000000Z"]),
    ] {
        let body = json!({"summary": "bad", "recurrence": lines,
            "start": {"dateTime": "2030-01-01T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2030-01-01T10:00:00", "timeZone": "Europe/Berlin"}});
        let (status, error) = write(&fake, Method::POST, EVENTS, &access, body).await;
        assert_eq!(status, 400, "{lines}: {error}");
        assert_eq!(error["error"]["errors"][0]["reason"], "invalid", "{lines}");
    }

    // Deleted series: 410.
    fake.delete_event_direct(DEFAULT_ACCOUNT, "primary", &daily)
        .unwrap();
    assert_eq!(
        bodiless(&fake, Method::GET, &list(&daily, ""), &access)
            .await
            .0,
        410
    );
    fake.fail_next(Route::EventsInstances, Fault::Status(500), 1);
    assert_eq!(
        bodiless(&fake, Method::GET, &list(&all_day, ""), &access)
            .await
            .0,
        500
    );
}
