//! The updates component, Google push channels and the dead-letter list (issue 5) end to
//! end: the built components in the test host, a real `redis-server`, the fake Google
//! Calendar and the fake REST service.
//!
//! Absence ("delivered once", "nothing published") is never checked after a fixed sleep:
//! a test first sends a later message (a *nudge*) and waits until every running updates
//! replica has taken it. Each replica handles the messages of a channel one at a time, in
//! order, so by then every earlier message of the events channel and the stream drain
//! that followed it are done. (The webhook publishes before it answers, so the stream
//! length right after a push's answer already says whether it published.)

mod common;

use common::{
    App, GROUP, STREAM, dead_letters, eventually, pending, problem, replay_dead_letters,
    stream_events,
};
use gcal_tests::fakes::rest::Route as RestRoute;
use gcal_tests::fakes::{Fault, Faulty as _};
use gcal_tests::host::Host;
use gcal_tests::logs::LogBook;
use redis::Commands as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const DLQ: &str = "gcal:dlq";
const MALFORMED: &str = "gcal:stats:malformed";
const USER: &str = "u1";
const EMAIL: &str = "u1@example.com";
const WAIT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------ setup

/// Another host on the same Redis and fakes: only the updates component (a replica),
/// deployed like the first (channels it renews point at the first's webhook).
async fn updates_replica(app: &App) -> Host {
    let mut cfg = app.config().variable("public_base_url", app.host.origin());
    cfg.http = false;
    Host::start(cfg).await.expect("starting an updates replica")
}

/// Connects `USER` through the OAuth flow (the fake's account is `EMAIL`) and waits
/// until the updates component delivered `calendar.auth.completed`, so later tests
/// start from a quiet REST fake.
async fn connect(app: &App, wait_for_delivery: bool) {
    app.rest.add_user(USER, Some(EMAIL), Some("Europe/Berlin"));
    common::connect(&app.api(), USER).await;
    if wait_for_delivery {
        let ok = eventually(WAIT, || {
            app.rest
                .notifications()
                .iter()
                .any(|n| n["type"] == "calendar.auth.completed")
        })
        .await;
        assert!(ok, "auth.completed not delivered: {}", app.logs());
    }
}

/// Creates an event through the API; returns it.
async fn create(app: &App, summary: &str) -> Value {
    common::create_event(app, USER, summary).await
}

// ------------------------------------------------------------------ Redis and REST views

fn stream_len(app: &App) -> usize {
    redis::cmd("XLEN")
        .arg(STREAM)
        .query(&mut app.redis())
        .unwrap()
}

/// Accepted notifications of one type, duplicates included.
fn delivered_of(app: &App, kind: &str) -> Vec<Value> {
    app.rest
        .notifications()
        .into_iter()
        .filter(|n| n["type"] == kind)
        .collect()
}

/// Requests to `POST /notifications` carrying this `Idempotency-Key`.
fn notification_attempts(app: &App, id: &str) -> usize {
    app.rest
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/notifications")
        .filter(|r| r.header("idempotency-key") == Some(id))
        .count()
}

fn cloud_event(kind: &str, subject: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": uuid::Uuid::new_v4().to_string(),
        "source": "/gcal/events",
        "type": kind,
        "subject": subject,
        "time": chrono::Utc::now().to_rfc3339(),
        "datacontenttype": "application/json",
        "data": {"event_id": "nudge"},
    })
}

fn publish(app: &App, payload: &[u8]) {
    let _: i64 = app.redis().publish(&app.channel, payload).unwrap();
}

/// Publishes two valid events on the channel (pub/sub only, subject `nudge`), one after
/// the other has reached the REST service and every replica whose logs are given. When
/// the second has reached them all, each replica has finished the first, including the
/// stream drain after it, and so everything published before.
async fn nudge(app: &App, replicas: &[&LogBook]) {
    for _ in 0..2 {
        let event = cloud_event("calendar.auth.completed", "nudge");
        let id = event["id"].as_str().unwrap().to_owned();
        publish(app, event.to_string().as_bytes());
        let seen = eventually(WAIT, || {
            app.rest.delivery_count(&id) == 1 && replicas.iter().all(|l| l.all().contains(&id))
        })
        .await;
        assert!(seen, "nudge {id} not handled: {}", app.logs());
    }
}

/// Accepted notifications about `USER` (not the nudges) of one type.
fn users_of(app: &App, kind: &str) -> usize {
    delivered_of(app, kind)
        .iter()
        .filter(|n| n["subject"] == USER)
        .count()
}

/// Every `calendar.event.created` of the stream was delivered exactly once, and nothing
/// else was delivered more than once.
fn assert_each_created_once(app: &App, expected: usize) {
    let created: Vec<String> = stream_events(app)
        .iter()
        .filter(|e| e["type"] == "calendar.event.created")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created.len(), expected, "created events in the stream");
    for id in &created {
        assert_eq!(app.rest.delivery_count(id), 1, "deliveries of {id}");
    }
    let all = app.rest.notifications();
    let distinct: HashSet<&str> = all.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "a notification was delivered twice"
    );
}

// ------------------------------------------------------------------ delivery

#[tokio::test]
async fn a_created_event_is_delivered_once_as_the_published_cloudevent() {
    let app = App::start().await;
    connect(&app, true).await;
    let event = create(&app, "Standup").await;
    let event_id = event["id"].as_str().unwrap();

    let published = stream_events(&app)
        .into_iter()
        .find(|e| e["type"] == "calendar.event.created" && e["data"]["event_id"] == event_id)
        .expect("calendar.event.created in the stream");
    let id = published["id"].as_str().unwrap().to_owned();
    let ok = eventually(WAIT, || app.rest.delivery_count(&id) == 1).await;
    assert!(ok, "not delivered: {}", app.logs());

    // Exactly the CloudEvent that was published, with its id as the idempotency key.
    let delivered = delivered_of(&app, "calendar.event.created");
    assert_eq!(delivered, vec![published.clone()]);
    assert_eq!(published["specversion"], "1.0");
    assert_eq!(published["source"], "/gcal/events");
    assert_eq!(published["subject"], USER);
    assert_eq!(published["data"]["summary"], "Standup");
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let requests: Vec<_> = app
        .rest
        .requests()
        .into_iter()
        .filter(|r| r.path == "/notifications")
        .collect();
    let for_event: Vec<_> = requests
        .iter()
        .filter(|r| r.json().as_ref() == Some(&published))
        .collect();
    assert_eq!(for_event.len(), 1, "{requests:?}");
    assert_eq!(for_event[0].header("idempotency-key"), Some(id.as_str()));

    // A later message and its stream drain deliver nothing again; the entry is acked.
    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(app.rest.delivery_count(&id), 1);
    assert_eq!(notification_attempts(&app, &id), 1);
    assert_each_created_once(&app, 1);
    let ok = eventually(WAIT, || pending(&app) == 0).await;
    assert!(ok, "{} entries left unacknowledged", pending(&app));
    let mut c = app.redis();
    let claim: String = c.get(format!("gcal:delivered:{id}")).unwrap();
    assert_eq!(claim, "done");
    let ttl: i64 = c.ttl(format!("gcal:delivered:{id}")).unwrap();
    assert!(ttl > 6 * 24 * 3600, "claim ttl {ttl}");
    let dlq: usize = c.llen(DLQ).unwrap();
    assert_eq!(dlq, 0);
}

#[tokio::test]
async fn rest_errors_are_retried_and_the_event_is_delivered_once() {
    let app = App::start().await;
    connect(&app, true).await;
    app.rest
        .fail_next(RestRoute::Notifications, Fault::Status(500), 2);
    create(&app, "Retried").await;
    let ok = eventually(WAIT, || {
        delivered_of(&app, "calendar.event.created").len() == 1
    })
    .await;
    assert!(ok, "not delivered: {}", app.logs());
    let id = delivered_of(&app, "calendar.event.created")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two 500s, then the 202; the same key every time.
    assert_eq!(notification_attempts(&app, &id), 3);

    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(app.rest.delivery_count(&id), 1);
    assert_eq!(notification_attempts(&app, &id), 3);
    let dlq: usize = app.redis().llen(DLQ).unwrap();
    assert_eq!(dlq, 0);
}

#[tokio::test]
async fn undeliverable_events_are_dead_lettered_and_replayed_once_rest_is_back() {
    let app = App::start().await;
    connect(&app, true).await;
    app.rest.set_down(true);
    let event = create(&app, "Lost?").await;
    let ok = eventually(WAIT, || app.redis().llen::<_, usize>(DLQ).unwrap() == 1).await;
    assert!(ok, "nothing dead-lettered: {}", app.logs());

    // On the list with its error, in Redis and through the admin route.
    let raw: Vec<String> = app.redis().lrange(DLQ, 0, -1).unwrap();
    let letter: Value = serde_json::from_str(&raw[0]).unwrap();
    assert_eq!(letter["event"]["type"], "calendar.event.created");
    assert_eq!(letter["event"]["data"]["event_id"], event["id"]);
    assert!(
        letter["error"].as_str().unwrap().contains("503"),
        "{letter}"
    );
    // What failed, by kind: the REST service answered 5xx on every try.
    assert_eq!(letter["error_kind"], "rest_server_error", "{letter}");
    assert!(chrono::DateTime::parse_from_rfc3339(letter["failed_at"].as_str().unwrap()).is_ok());
    let id = letter["event"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        notification_attempts(&app, &id),
        3,
        "three tries before giving up"
    );
    // The component logs the dead letter after storing it (and marking its claim done):
    // the list can hold it a moment before the line is written.
    let logged = eventually(WAIT, || app.logs().contains("notification dead-lettered")).await;
    assert!(logged, "{}", app.logs());

    let unauthorized = app.http.get(app.url("/admin/dlq")).send().await.unwrap();
    assert_eq!(problem(unauthorized).await.0, 401);
    let listed = dead_letters(&app).await;
    assert_eq!(listed["length"], 1);
    assert_eq!(listed["entries"][0], letter);

    // Replay while REST is still down: it goes back on the list.
    let still = replay_dead_letters(&app).await;
    assert_eq!(still["replayed"], 0, "{still}");
    assert_eq!(still["failed"], 1, "{still}");
    assert_eq!(still["remaining"], 1, "{still}");
    assert!(still["error"].is_string(), "{still}");
    assert_eq!(app.rest.delivery_count(&id), 0);

    app.rest.set_down(false);
    let replayed = replay_dead_letters(&app).await;
    assert_eq!(
        replayed,
        json!({"replayed": 1, "remaining": 0, "failed": 0, "error": null})
    );
    assert_eq!(app.rest.delivery_count(&id), 1);
    assert_eq!(
        delivered_of(&app, "calendar.event.created")[0],
        letter["event"]
    );
    let listed = dead_letters(&app).await;
    assert_eq!(listed, json!({"length": 0, "entries": []}));

    // Replaying an empty list, or a later message, delivers nothing again.
    let again = replay_dead_letters(&app).await;
    assert_eq!(again["replayed"], 0);
    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(app.rest.delivery_count(&id), 1);
}

#[tokio::test]
async fn a_dead_letter_the_rest_service_keeps_refusing_does_not_block_the_others() {
    let app = App::start().await;
    connect(&app, true).await;
    app.rest.set_down(true);
    for i in 0..3 {
        create(&app, &format!("Refused {i}")).await;
    }
    let ok = eventually(WAIT, || app.redis().llen::<_, usize>(DLQ).unwrap() == 3).await;
    assert!(ok, "not dead-lettered: {}", app.logs());
    app.rest.set_down(false);

    // The list, oldest last; the REST service refuses the oldest letter's event only.
    let raw: Vec<Vec<u8>> = app.redis().lrange(DLQ, 0, -1).unwrap();
    let ids: Vec<String> = raw
        .iter()
        .map(|r| {
            let letter: Value = serde_json::from_slice(r).unwrap();
            letter["event"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let (oldest, others) = (&ids[2], &ids[..2]);
    app.rest.refuse_notification(oldest, 500);

    let first = replay_dead_letters(&app).await;
    assert_eq!(first["replayed"], 2, "{first}");
    assert_eq!(first["failed"], 1, "{first}");
    assert_eq!(first["remaining"], 1, "{first}");
    let error = first["error"].as_str().unwrap();
    assert!(error.contains("500"), "{first}");
    for id in others {
        assert_eq!(app.rest.delivery_count(id), 1, "{id}");
    }
    assert_eq!(app.rest.delivery_count(oldest), 0);
    // Tried once in this replay (the REST client's three tries), not again after rotating.
    assert_eq!(notification_attempts(&app, oldest), 3 + 3);
    // Exactly the refused letter is left, byte for byte.
    let left: Vec<Vec<u8>> = app.redis().lrange(DLQ, 0, -1).unwrap();
    assert_eq!(left, vec![raw[2].clone()]);

    app.rest.accept_notification(oldest);
    let second = replay_dead_letters(&app).await;
    assert_eq!(
        second,
        json!({"replayed": 1, "remaining": 0, "failed": 0, "error": null})
    );
    assert_eq!(app.redis().llen::<_, usize>(DLQ).unwrap(), 0);
    let again = replay_dead_letters(&app).await;
    assert_eq!(
        again,
        json!({"replayed": 0, "remaining": 0, "failed": 0, "error": null})
    );
    nudge(&app, &[app.host.logs()]).await;
    for id in &ids {
        assert_eq!(
            app.rest.delivery_count(id),
            1,
            "{id} not delivered exactly once"
        );
    }
}

// ------------------------------------------------------------------ nothing lost, once

#[tokio::test]
async fn events_published_while_updates_was_stopped_are_delivered_once_after_it_starts() {
    // Only the HTTP trigger runs: the events' pub/sub messages reach no subscriber.
    let app = App::start_with(|mut c| {
        c.redis_triggers = false;
        c
    })
    .await;
    connect(&app, false).await;
    for i in 0..50 {
        create(&app, &format!("Offline {i}")).await;
    }
    assert_eq!(
        stream_len(&app),
        51,
        "auth.completed and 50 created in the stream"
    );
    assert!(app.rest.notifications().is_empty());

    let updates = updates_replica(&app).await;
    // The next message wakes the component; it drains what it missed.
    create(&app, "Wake up").await;
    let ok = eventually(Duration::from_secs(60), || {
        delivered_of(&app, "calendar.event.created").len() >= 51
    })
    .await;
    assert!(
        ok,
        "{} of 51 delivered: {}",
        delivered_of(&app, "calendar.event.created").len(),
        updates.logs().all()
    );
    nudge(&app, &[updates.logs()]).await;
    assert_each_created_once(&app, 51);
    assert_eq!(users_of(&app, "calendar.auth.completed"), 1);
    let ok = eventually(WAIT, || pending(&app) == 0).await;
    assert!(ok, "{} entries left unacknowledged", pending(&app));
}

#[tokio::test]
async fn two_replicas_deliver_each_event_once() {
    let app = App::start().await;
    let second = updates_replica(&app).await;
    connect(&app, true).await;
    for i in 0..20 {
        create(&app, &format!("Replicated {i}")).await;
    }
    let ok = eventually(WAIT, || {
        delivered_of(&app, "calendar.event.created").len() >= 20
    })
    .await;
    assert!(ok, "{}\n{}", app.logs(), second.logs().all());
    nudge(&app, &[app.host.logs(), second.logs()]).await;
    assert_each_created_once(&app, 20);
    assert_eq!(users_of(&app, "calendar.auth.completed"), 1);
    // Both replicas took every message; their claims kept the deliveries single.
    let event_id = |e: &Value| e["id"].as_str().unwrap().to_owned();
    for e in stream_events(&app) {
        let id = event_id(&e);
        assert!(
            app.host.logs().all().contains(&id),
            "first replica missed {id}"
        );
        assert!(
            second.logs().all().contains(&id),
            "second replica missed {id}"
        );
    }
}

// ------------------------------------------------------------------ Google push channels

/// Starts a watch; returns the fake's channel.
async fn watch(app: &App) -> gcal_tests::fakes::google::Channel {
    let r = app
        .api()
        .authed(Method::POST, &format!("/events/{USER}/watch"))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{body} {}", app.logs());
    let channels = app.google.channels();
    assert_eq!(channels.len(), 1);
    let channel = channels[0].clone();
    assert_eq!(body["channel_id"], channel.id);
    assert_eq!(body["resource_id"], channel.resource_id);
    assert_eq!(channel.address, app.url("/webhooks/google"));
    assert_eq!(channel.account, EMAIL);
    channel
}

#[tokio::test]
async fn a_push_after_a_change_at_google_syncs_and_delivers_the_changed_event() {
    let app = App::start_watchable().await;
    connect(&app, true).await;
    let before = app.google.insert_event_direct(EMAIL, "primary", json!({"summary": "Before", "start": {"dateTime": "2026-07-01T09:00:00Z"}, "end": {"dateTime": "2026-07-01T10:00:00Z"}})).unwrap();
    let channel = watch(&app).await;
    // The channel token is an opaque MAC, not a secret of ours.
    let token = channel.token.clone().expect("a channel token");
    assert!(token.len() >= 32 && !app.logs().contains(&token));
    // A second start answers the live channel.
    let again = app
        .api()
        .authed(Method::POST, &format!("/events/{USER}/watch"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(app.google.channels().len(), 1);

    // Google's hello: acknowledged, nothing published.
    let len = stream_len(&app);
    assert_eq!(app.google.push(&channel.id, "sync").await.unwrap(), 200);
    assert_eq!(stream_len(&app), len);

    // A change made behind the service's back, then Google's push.
    let added = app.google.insert_event_direct(EMAIL, "primary", json!({"summary": "Added in Google", "start": {"dateTime": "2026-07-02T09:00:00Z"}, "end": {"dateTime": "2026-07-02T10:00:00Z"}})).unwrap();
    let added_id = added["id"].as_str().unwrap();
    assert_eq!(app.google.push(&channel.id, "exists").await.unwrap(), 200);
    let ok = eventually(WAIT, || {
        delivered_of(&app, "calendar.event.updated")
            .iter()
            .any(|n| n["data"]["event_id"] == added_id)
    })
    .await;
    assert!(ok, "no notification for the change: {}", app.logs());
    let updated = delivered_of(&app, "calendar.event.updated");
    assert_eq!(
        updated.len(),
        1,
        "only the change, not the baseline: {updated:?}"
    );
    assert_eq!(updated[0]["subject"], USER);
    assert_eq!(updated[0]["data"]["summary"], "Added in Google");
    assert_eq!(updated[0]["data"]["calendar_id"], "primary");
    let changed: Vec<Value> = stream_events(&app)
        .into_iter()
        .filter(|e| e["type"] == "calendar.changed")
        .collect();
    assert_eq!(changed.len(), 1, "the sync push published nothing");
    assert_eq!(changed[0]["subject"], USER);
    assert!(!changed[0].to_string().contains(&token));

    // An edit and a deletion: one notification each, of the right type.
    app.google
        .patch_event_direct(EMAIL, "primary", added_id, json!({"summary": "Renamed"}))
        .unwrap();
    app.google
        .delete_event_direct(EMAIL, "primary", before["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(app.google.push(&channel.id, "exists").await.unwrap(), 200);
    let ok = eventually(WAIT, || {
        !delivered_of(&app, "calendar.event.deleted").is_empty()
            && delivered_of(&app, "calendar.event.updated").len() == 2
    })
    .await;
    assert!(ok, "{:?} {}", app.rest.notifications(), app.logs());
    assert_eq!(
        delivered_of(&app, "calendar.event.updated")[1]["data"]["summary"],
        "Renamed"
    );
    assert_eq!(
        delivered_of(&app, "calendar.event.deleted")[0]["data"]["event_id"],
        before["id"]
    );

    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(delivered_of(&app, "calendar.event.updated").len(), 2);
    assert_eq!(delivered_of(&app, "calendar.event.deleted").len(), 1);
}

#[tokio::test]
async fn an_expired_sync_token_announces_what_changed_since_the_last_sync() {
    let app = App::start_watchable().await;
    connect(&app, true).await;
    app.google.insert_event_direct(EMAIL, "primary", json!({"summary": "Old", "start": {"dateTime": "2026-07-01T09:00:00Z"}, "end": {"dateTime": "2026-07-01T10:00:00Z"}})).unwrap();
    let channel = watch(&app).await;
    let added = app.google.insert_event_direct(EMAIL, "primary", json!({"summary": "New", "start": {"dateTime": "2026-07-02T09:00:00Z"}, "end": {"dateTime": "2026-07-02T10:00:00Z"}})).unwrap();
    app.google.invalidate_sync_tokens();
    assert_eq!(app.google.push(&channel.id, "exists").await.unwrap(), 200);
    let ok = eventually(WAIT, || {
        !delivered_of(&app, "calendar.event.updated").is_empty()
    })
    .await;
    assert!(ok, "{}", app.logs());
    nudge(&app, &[app.host.logs()]).await;
    let updated = delivered_of(&app, "calendar.event.updated");
    assert_eq!(
        updated.len(),
        1,
        "only the event changed since the last sync: {updated:?}"
    );
    assert_eq!(updated[0]["data"]["event_id"], added["id"]);
}

#[tokio::test]
async fn pushes_with_a_wrong_token_or_an_unknown_channel_are_404_and_publish_nothing() {
    let app = App::start_watchable().await;
    connect(&app, true).await;
    let channel = watch(&app).await;
    let token = channel.token.clone().unwrap();
    let len = stream_len(&app);
    let other = app.google.insert_event_direct(EMAIL, "primary", json!({"summary": "Unannounced", "start": {"dateTime": "2026-07-02T09:00:00Z"}, "end": {"dateTime": "2026-07-02T10:00:00Z"}})).unwrap();

    let send = |headers: Vec<(&'static str, String)>| {
        let mut req = app.http.post(app.url("/webhooks/google"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.header("x-goog-resource-state", "exists").send()
    };
    let wrong_token: String = token.chars().rev().collect();
    let cases = vec![
        (
            "wrong token",
            vec![
                ("x-goog-channel-id", channel.id.clone()),
                ("x-goog-channel-token", wrong_token),
                ("x-goog-resource-id", channel.resource_id.clone()),
            ],
        ),
        (
            "unknown channel",
            vec![
                ("x-goog-channel-id", uuid::Uuid::new_v4().to_string()),
                ("x-goog-channel-token", token.clone()),
                ("x-goog-resource-id", channel.resource_id.clone()),
            ],
        ),
        (
            "other resource",
            vec![
                ("x-goog-channel-id", channel.id.clone()),
                ("x-goog-channel-token", token.clone()),
                ("x-goog-resource-id", "other-resource".to_owned()),
            ],
        ),
    ];
    for (name, headers) in cases {
        let (status, code, body) = problem(send(headers).await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "not_found"),
            "{name}: {body}"
        );
        assert!(!body.to_string().contains(&token), "{name}: {body}");
    }
    // Only POST.
    let get = app
        .http
        .get(app.url("/webhooks/google"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(get).await.0, 405);
    assert_eq!(stream_len(&app), len, "nothing published");

    nudge(&app, &[app.host.logs()]).await;
    assert!(delivered_of(&app, "calendar.event.updated").is_empty());
    assert!(
        !app.rest
            .notifications()
            .iter()
            .any(|n| n["data"]["event_id"] == other["id"])
    );
    // The genuine channel still works.
    assert_eq!(app.google.push(&channel.id, "exists").await.unwrap(), 200);
    let ok = eventually(WAIT, || {
        delivered_of(&app, "calendar.event.updated").len() == 1
    })
    .await;
    assert!(ok, "{}", app.logs());
}

#[tokio::test]
async fn deleting_the_watch_stops_the_channel() {
    let app = App::start_watchable().await;
    connect(&app, true).await;
    let channel = watch(&app).await;
    let r = app
        .api()
        .authed(Method::DELETE, &format!("/events/{USER}/watch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(app.google.channels().is_empty(), "still open at Google");
    let stops: Vec<Value> = app
        .google
        .requests()
        .iter()
        .filter(|r| r.path == "/calendar/v3/channels/stop")
        .filter_map(|r| r.json())
        .collect();
    assert_eq!(
        stops,
        vec![json!({"id": channel.id, "resourceId": channel.resource_id})]
    );
    let keys: Vec<String> = app.redis().keys("gcal:channel:*").unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    // A late push of the stopped channel is refused; stopping again is a no-op.
    let late = app
        .http
        .post(app.url("/webhooks/google"))
        .header("x-goog-channel-id", &channel.id)
        .header("x-goog-channel-token", channel.token.clone().unwrap())
        .header("x-goog-resource-id", &channel.resource_id)
        .header("x-goog-resource-state", "exists")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(late).await.0, 404);
    let r = app
        .api()
        .authed(Method::DELETE, &format!("/events/{USER}/watch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // And a new watch opens a new channel.
    let next = watch(&app).await;
    assert_ne!(next.id, channel.id);
}

#[tokio::test]
async fn a_channel_close_to_its_end_is_renewed_when_a_push_is_synced() {
    let app = App::start_watchable().await;
    connect(&app, true).await;
    let old = watch(&app).await;
    // Make the stored channel end within the day.
    let key = format!("gcal:channel:{}", old.id);
    let mut record: Value =
        serde_json::from_str(&app.redis().get::<_, String>(&key).unwrap()).unwrap();
    record["expiration_ms"] = json!(chrono::Utc::now().timestamp_millis() + 3_600_000);
    let _: () = app.redis().set(&key, record.to_string()).unwrap();

    assert_eq!(app.google.push(&old.id, "exists").await.unwrap(), 200);
    let ok = eventually(WAIT, || {
        let channels = app.google.channels();
        channels.len() == 1 && channels[0].id != old.id
    })
    .await;
    assert!(ok, "{:?} {}", app.google.channels(), app.logs());
    let new = app.google.channels()[0].clone();
    // The new channel is the live one: its pushes work, the watch reports it.
    let r = app
        .api()
        .authed(Method::POST, &format!("/events/{USER}/watch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["channel_id"], new.id);
    let len = stream_len(&app);
    assert_eq!(app.google.push(&new.id, "exists").await.unwrap(), 200);
    assert_eq!(stream_len(&app), len + 1);
}

// ------------------------------------------------------------------ malformed messages

#[tokio::test]
async fn malformed_messages_are_dropped_counted_and_logged_and_the_next_is_handled() {
    let app = App::start().await;
    let mut wrong_type = cloud_event("calendar.event.created", USER);
    wrong_type["type"] = json!("com.example.other");
    let mut missing = cloud_event("calendar.event.created", USER);
    missing.as_object_mut().unwrap().remove("subject");
    let mut bad_subject = cloud_event("calendar.event.created", USER);
    bad_subject["subject"] = json!("../etc");
    let malformed = [
        b"not json".to_vec(),
        wrong_type.to_string().into_bytes(),
        missing.to_string().into_bytes(),
        bad_subject.to_string().into_bytes(),
        b"[1,2,3]".to_vec(),
    ];
    for m in &malformed {
        publish(&app, m);
    }
    // A malformed entry in the stream is dropped (and acknowledged) too.
    let _: String = redis::cmd("XADD")
        .arg(STREAM)
        .arg("*")
        .arg("event")
        .arg(r#"{"specversion":"1.0"}"#)
        .query(&mut app.redis())
        .unwrap();

    let good = cloud_event("calendar.event.created", USER);
    let id = good["id"].as_str().unwrap().to_owned();
    publish(&app, good.to_string().as_bytes());
    let ok = eventually(WAIT, || app.rest.delivery_count(&id) == 1).await;
    assert!(ok, "the good message was not handled: {}", app.logs());
    assert_eq!(app.rest.notifications(), vec![good]);
    let ok = eventually(WAIT, || {
        app.redis().get::<_, Option<i64>>(MALFORMED).unwrap() == Some(6)
    })
    .await;
    assert!(
        ok,
        "malformed count {:?}",
        app.redis().get::<_, Option<i64>>(MALFORMED).unwrap()
    );
    let ttl: i64 = app.redis().ttl(MALFORMED).unwrap();
    assert!(ttl > 0, "the counter is bounded in time");
    let dropped = app
        .logs()
        .lines()
        .filter(|l| l.contains("malformed message dropped"))
        .count();
    assert_eq!(dropped, 6, "{}", app.logs());
    assert_eq!(pending(&app), 0, "the malformed entry is acknowledged");
    assert_eq!(
        app.redis().llen::<_, usize>(DLQ).unwrap(),
        0,
        "malformed is not dead-lettered"
    );
    assert!(!app.logs().contains("not json"), "payloads are not logged");
}

#[tokio::test]
async fn pushes_synced_by_two_replicas_at_once_announce_a_change_once() {
    let app = App::start_watchable().await;
    let second = updates_replica(&app).await;
    connect(&app, true).await;
    let channel = watch(&app).await;
    for round in 0..5 {
        let added = app
            .google
            .insert_event_direct(
                EMAIL,
                "primary",
                json!({"summary": format!("Burst {round}"), "start": {"dateTime": "2026-07-02T09:00:00Z"}, "end": {"dateTime": "2026-07-02T10:00:00Z"}}),
            )
            .unwrap();
        // Google often sends several notifications for one change.
        let (a, b) = tokio::join!(
            app.google.push(&channel.id, "exists"),
            app.google.push(&channel.id, "exists")
        );
        assert_eq!((a.unwrap(), b.unwrap()), (200, 200));
        let id = added["id"].as_str().unwrap().to_owned();
        let ok = eventually(WAIT, || {
            delivered_of(&app, "calendar.event.updated")
                .iter()
                .any(|n| n["data"]["event_id"] == id.as_str())
        })
        .await;
        assert!(ok, "{}", app.logs());
    }
    nudge(&app, &[app.host.logs(), second.logs()]).await;
    let updated = delivered_of(&app, "calendar.event.updated");
    let mut per_event: Vec<String> = updated
        .iter()
        .map(|n| n["data"]["event_id"].as_str().unwrap().to_owned())
        .collect();
    per_event.sort();
    let distinct: HashSet<&String> = per_event.iter().collect();
    assert_eq!(
        per_event.len(),
        distinct.len(),
        "a change announced twice: {per_event:?}"
    );
}

#[tokio::test]
async fn a_push_for_a_disconnected_user_is_dropped_not_retried_forever() {
    let app = App::start_watchable().await;
    connect(&app, true).await;
    let channel = watch(&app).await;
    let r = app
        .api()
        .authed(Method::DELETE, &format!("/auth/{USER}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // The disconnect stopped the channel (reliability.rs); a push accepted just before
    // it still reaches the updates component.
    let mut changed = cloud_event("calendar.changed", USER);
    changed["data"] = json!({"user_id": USER, "calendar_id": "primary", "channel_id": channel.id});
    let id = changed["id"].as_str().unwrap().to_owned();
    let _: String = redis::cmd("XADD")
        .arg(STREAM)
        .arg("*")
        .arg("event")
        .arg(changed.to_string())
        .query(&mut app.redis())
        .unwrap();
    publish(&app, changed.to_string().as_bytes());
    nudge(&app, &[app.host.logs()]).await;
    // Settled for good: the claim is final, so no reader (pub/sub, stream drain or a
    // reclaim of the entry) syncs it again.
    let claim: Option<String> = app.redis().get(format!("gcal:delivered:{id}")).unwrap();
    assert_eq!(claim.as_deref(), Some("done"), "{}", app.logs());
    let logs = app.logs();
    assert_eq!(logs.matches("sync dropped").count(), 1, "{logs}");
    assert!(!logs.contains("will retry"), "{logs}");
    assert!(
        app.rest
            .notifications()
            .iter()
            .all(|n| n["type"] != "calendar.event.updated")
    );
}

#[tokio::test]
async fn two_replicas_renew_a_channel_once() {
    let app = App::start_watchable().await;
    let second = updates_replica(&app).await;
    connect(&app, true).await;
    let old = watch(&app).await;
    let key = format!("gcal:channel:{}", old.id);
    let mut record: Value =
        serde_json::from_str(&app.redis().get::<_, String>(&key).unwrap()).unwrap();
    record["expiration_ms"] = json!(chrono::Utc::now().timestamp_millis() + 3_600_000);
    let _: () = app.redis().set(&key, record.to_string()).unwrap();

    let (a, b) = tokio::join!(
        app.google.push(&old.id, "exists"),
        app.google.push(&old.id, "exists")
    );
    assert_eq!((a.unwrap(), b.unwrap()), (200, 200));
    let ok = eventually(WAIT, || {
        app.google.channels().iter().all(|c| c.id != old.id)
    })
    .await;
    assert!(ok, "{}\n{}", app.logs(), second.logs().all());
    nudge(&app, &[app.host.logs(), second.logs()]).await;
    let channels = app.google.channels();
    assert_eq!(
        channels.len(),
        1,
        "one live channel, none orphaned: {channels:?}"
    );
    let live: String = app
        .redis()
        .get(format!("gcal:watch:{USER}:primary"))
        .unwrap();
    assert_eq!(live, channels[0].id);
}

#[tokio::test]
async fn an_entry_left_pending_by_a_dead_replica_is_taken_over() {
    let app = App::start().await;
    let event = cloud_event("calendar.event.created", USER);
    let id = event["id"].as_str().unwrap().to_owned();
    let mut c = app.redis();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", STREAM, GROUP, "0", "MKSTREAM"])
        .query(&mut c)
        .unwrap();
    let entry: String = redis::cmd("XADD")
        .arg(STREAM)
        .arg("*")
        .arg("event")
        .arg(event.to_string())
        .query(&mut c)
        .unwrap();
    // A replica read it, claimed the delivery and died: the entry is pending with it.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&[
            "GROUP",
            GROUP,
            "dead-replica",
            "COUNT",
            "1",
            "STREAMS",
            STREAM,
            ">",
        ])
        .query(&mut c)
        .unwrap();
    assert_eq!(pending(&app), 1);
    let _: () = c
        .pset_ex(format!("gcal:delivered:{id}"), "pending", 60_000)
        .unwrap();
    let age = |c: &mut redis::Connection| {
        // As if a minute had passed since the dead replica read it.
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(&[STREAM, GROUP, "dead-replica", "0", &entry, "IDLE", "120000"])
            .query(c)
            .unwrap();
    };
    age(&mut c);

    // Its delivery claim still holds: the entry stays pending, nothing is delivered.
    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(app.rest.delivery_count(&id), 0);
    assert_eq!(pending(&app), 1);

    // The claim expired: the next message's drain takes the entry over and delivers it.
    let _: () = c.del(format!("gcal:delivered:{id}")).unwrap();
    age(&mut c);
    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(app.rest.delivery_count(&id), 1, "{}", app.logs());
    assert_eq!(pending(&app), 0);
    nudge(&app, &[app.host.logs()]).await;
    assert_eq!(app.rest.delivery_count(&id), 1);
}

#[tokio::test]
async fn a_watch_without_public_base_url_is_a_config_problem() {
    let app = App::start().await;
    connect(&app, false).await;
    let r = app
        .api()
        .authed(Method::POST, &format!("/events/{USER}/watch"))
        .send()
        .await
        .unwrap();
    let (status, code, body) = problem(r).await;
    assert_eq!((status, code.as_str()), (500, "config_missing"), "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("public_base_url"),
        "{body}"
    );
    assert!(app.google.channels().is_empty());
    let unauthorized = app
        .http
        .post(app.url(&format!("/events/{USER}/watch")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(unauthorized).await.0, 401);
}
