//! Reliability (issue 16) end to end: stranded stream entries delivered by
//! `POST /admin/drain` without any further message, and a disconnect that stops the
//! user's push channels and leaves no channel or sync record behind. The built
//! components in the test host, a real `redis-server`, the fake Google and REST.

mod common;

use common::{App, GROUP, STREAM, eventually, pending, problem};
use gcal_tests::fakes::Faulty as _;
use redis::Commands as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const USER: &str = "u1";
const EMAIL: &str = "u1@example.com";
const WAIT: Duration = Duration::from_secs(20);

async fn connect(app: &App) {
    app.rest.add_user(USER, Some(EMAIL), Some("Europe/Berlin"));
    common::connect(&app.api(), USER).await;
}

/// `POST /admin/drain` with the API token: its 200 answer.
async fn drain(app: &App) -> Value {
    app.api()
        .send(app.api().authed(Method::POST, "/admin/drain"))
        .await
        .ok(200)
}

/// The stream's events, each with its entry id.
fn entries(app: &App) -> Vec<(String, Value)> {
    common::xrange(&mut app.redis(), STREAM)
        .into_iter()
        .map(|(id, fields)| (id, serde_json::from_str(&fields[1]).unwrap()))
        .collect()
}

fn ids_of(entries: &[(String, Value)]) -> Vec<String> {
    entries
        .iter()
        .map(|(_, e)| e["id"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------------------ the drain

#[tokio::test]
async fn stranded_entries_are_delivered_once_by_a_drain_and_a_second_drain_delivers_nothing() {
    // No Redis trigger runs: nothing but a drain can deliver (a quiet deployment whose
    // updates component will not wake up).
    let app = App::start_with(|mut c| {
        c.redis_triggers = false;
        c
    })
    .await;
    let mut c = app.redis();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", STREAM, GROUP, "0", "MKSTREAM"])
        .query(&mut c)
        .unwrap();
    connect(&app).await;
    common::create_event(&app, USER, "Stranded").await;
    let stream = entries(&app);
    assert_eq!(stream.len(), 2, "auth.completed and event.created");
    // The first was read by a replica that was killed before it acknowledged it (a
    // minute ago); the second was never read.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&[
            "GROUP", GROUP, "killed", "COUNT", "1", "STREAMS", STREAM, ">",
        ])
        .query(&mut c)
        .unwrap();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(&[STREAM, GROUP, "killed", "0", &stream[0].0, "IDLE", "120000"])
        .query(&mut c)
        .unwrap();
    assert_eq!(pending(&app), 1);
    assert!(app.rest.notifications().is_empty());

    // Behind the API token.
    let anonymous = app.http.post(app.url("/admin/drain")).send().await.unwrap();
    assert_eq!(problem(anonymous).await.0, 401);
    assert!(app.rest.notifications().is_empty());

    let first = drain(&app).await;
    assert_eq!(
        first,
        json!({
            "entries": 2, "taken_over": 1, "delivered": 2, "synced": 0, "duplicates": 0,
            "dead_lettered": 0, "dropped": 0, "malformed": 0, "left_pending": 0,
            "more": false,
        }),
        "{}",
        app.logs()
    );
    for id in ids_of(&stream) {
        assert_eq!(app.rest.delivery_count(&id), 1, "{id}: {}", app.logs());
    }
    let delivered: Vec<Value> = app.rest.notifications();
    assert_eq!(
        delivered,
        stream.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()
    );
    assert_eq!(pending(&app), 0, "acknowledged");

    let second = drain(&app).await;
    assert_eq!(second["entries"], 0, "{second}");
    assert_eq!(second["delivered"], 0, "{second}");
    assert_eq!(app.rest.notifications().len(), 2, "nothing delivered again");
}

#[tokio::test]
async fn a_drain_while_the_rest_service_is_down_dead_letters_as_the_trigger_does() {
    let app = App::start_with(|mut c| {
        c.redis_triggers = false;
        c
    })
    .await;
    connect(&app).await;
    app.rest.set_down(true);
    let drained = drain(&app).await;
    assert_eq!(drained["entries"], 1, "{drained}");
    assert_eq!(drained["dead_lettered"], 1, "{drained}");
    assert_eq!(app.redis().llen::<_, usize>("gcal:dlq").unwrap(), 1);
    assert_eq!(pending(&app), 0);
    // Only POST.
    let get = app.api().get("/admin/drain").await;
    assert_ne!(get.status, 200, "{}", get.text);
}

// ------------------------------------------------------------------ disconnect

/// Starts a watch of `calendar`; returns the channel's id.
async fn watch(app: &App, calendar: &str) -> String {
    let r = app
        .api()
        .send(app.api().authed(
            Method::POST,
            &format!("/events/{USER}/watch?calendar_id={calendar}"),
        ))
        .await;
    assert_eq!(r.status, 201, "{} {}", r.text, app.logs());
    r.json()["channel_id"].as_str().unwrap().to_owned()
}

fn keys(app: &App, pattern: &str) -> Vec<String> {
    app.redis().keys(pattern).unwrap()
}

#[tokio::test]
async fn a_disconnect_stops_the_users_push_channels_and_deletes_their_records() {
    let app = App::start_watchable().await;
    connect(&app).await;
    app.google.create_calendar(EMAIL, "team@example.com");
    let channels = [
        watch(&app, "primary").await,
        watch(&app, "team@example.com").await,
    ];
    assert_eq!(app.google.channels().len(), 2);
    assert_eq!(keys(&app, "gcal:channel:*").len(), 2);
    assert_eq!(keys(&app, "gcal:sync:*").len(), 2, "the watches' baselines");
    let token_of: Vec<(String, String, String)> = app
        .google
        .channels()
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.token.clone().unwrap(),
                c.resource_id.clone(),
            )
        })
        .collect();

    let r = app.api().delete(&format!("/auth/{USER}")).await;
    assert_eq!(r.status, 204, "{} {}", r.text, app.logs());

    // Stopped at Google, and nothing of the user's is left in Redis.
    assert!(
        app.google.channels().is_empty(),
        "still open at Google: {:?}",
        app.google.channels()
    );
    let stopped: Vec<String> = app
        .google
        .requests()
        .iter()
        .filter(|r| r.path == "/calendar/v3/channels/stop")
        .filter_map(|r| r.json())
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = channels.to_vec();
    expected.sort();
    let mut stopped_sorted = stopped.clone();
    stopped_sorted.sort();
    assert_eq!(stopped_sorted, expected);
    let left: Vec<String> = app
        .redis()
        .keys::<_, Vec<String>>("gcal:*")
        .unwrap()
        .into_iter()
        .filter(|k| k.contains(USER) || channels.iter().any(|c| k.contains(c.as_str())))
        .filter(|k| !k.starts_with("gcal:rl:") && !k.starts_with("gcal:delivered:"))
        .collect();
    assert!(left.is_empty(), "records left behind: {left:?}");
    assert!(!app.google.revoked().is_empty(), "the grant is revoked too");

    // A push that still came (Google's stop lost) reaches nothing.
    let len: usize = redis::cmd("XLEN")
        .arg(STREAM)
        .query(&mut app.redis())
        .unwrap();
    for (id, token, resource) in token_of {
        let late = app
            .http
            .post(app.url("/webhooks/google"))
            .header("x-goog-channel-id", &id)
            .header("x-goog-channel-token", token)
            .header("x-goog-resource-id", resource)
            .header("x-goog-resource-state", "exists")
            .send()
            .await
            .unwrap();
        assert_eq!(problem(late).await.0, 404);
    }
    let after: usize = redis::cmd("XLEN")
        .arg(STREAM)
        .query(&mut app.redis())
        .unwrap();
    assert_eq!(after, len, "nothing published");

    // Disconnecting again is a no-op.
    let r = app.api().delete(&format!("/auth/{USER}")).await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn a_disconnect_deletes_the_records_even_when_google_cannot_stop_the_channel() {
    let app = App::start_watchable().await;
    connect(&app).await;
    watch(&app, "primary").await;
    // Google fails every channel stop (and the revocation): best effort, like the revoke.
    app.google.set_down(true);
    let r = app.api().delete(&format!("/auth/{USER}")).await;
    assert_eq!(r.status, 204, "{} {}", r.text, app.logs());
    app.google.set_down(false);
    assert!(keys(&app, "gcal:channel:*").is_empty());
    assert!(keys(&app, "gcal:watch:*").is_empty());
    assert!(keys(&app, "gcal:sync:*").is_empty());
    assert!(keys(&app, "gcal:calendars:*").is_empty());
    let ok = eventually(WAIT, || {
        app.logs()
            .contains("push channel not stopped at Google; its records are deleted anyway")
    })
    .await;
    assert!(ok, "{}", app.logs());
}

// ------------------------------------------------------------------ methods and the webhook

#[tokio::test]
async fn every_route_answers_an_undeclared_method_with_405_and_allow() {
    let app = App::start().await;
    // Every path of the document, every method it does not declare there: 405, and
    // `Allow` names exactly the declared ones.
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap(),
    )
    .unwrap();
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{user_id}", USER)
            .replace("{event_id}", "e1");
        let mut declared: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .filter(|m| methods.iter().any(|k| k.as_str() == m))
            .collect();
        declared.sort();
        for method in methods
            .iter()
            .filter(|m| !declared.contains(&m.to_string()))
        {
            let r = app
                .api()
                .send(app.api().authed(method.clone(), &path))
                .await;
            r.problem(405, "method_not_allowed");
            let header = r
                .header("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow"));
            let mut named: Vec<String> = header.split(", ").map(str::to_owned).collect();
            named.sort();
            assert_eq!(named, declared, "{method} {path}: Allow {header}");
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} undeclared methods tried");
    // The API token is still asked first where the path needs it.
    let anonymous = app.http.post(app.url("/admin/dlq")).send().await.unwrap();
    assert_eq!(problem(anonymous).await.0, 401);
    // A path no route serves stays 404.
    for path in ["/auth/no/such/thing", "/events"] {
        app.api()
            .send(app.api().authed(Method::GET, path))
            .await
            .problem(404, "not_found");
    }
}

#[tokio::test]
async fn a_push_without_a_channel_token_or_a_usable_channel_id_is_400_and_publishes_nothing() {
    let app = App::start().await;
    let id = uuid::Uuid::new_v4().to_string();
    let long = "c".repeat(65);
    // (X-Goog-Channel-ID, X-Goog-Channel-Token, the header the problem names)
    let cases = [
        (Some(id.as_str()), None, "X-Goog-Channel-Token"),
        (Some(id.as_str()), Some(""), "X-Goog-Channel-Token"),
        (None, Some("t"), "X-Goog-Channel-ID"),
        (Some(""), Some("t"), "X-Goog-Channel-ID"),
        (Some(long.as_str()), Some("t"), "X-Goog-Channel-ID"),
    ];
    for (id, token, named) in cases {
        let mut req = app
            .http
            .post(app.url("/webhooks/google"))
            .header("x-goog-resource-id", "r1")
            .header("x-goog-resource-state", "exists");
        if let Some(id) = id {
            req = req.header("x-goog-channel-id", id);
        }
        if let Some(t) = token {
            req = req.header("x-goog-channel-token", t);
        }
        let (status, code, body) = problem(req.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(named)),
            "{id:?} {token:?}: {body}"
        );
    }
    let len: usize = redis::cmd("XLEN")
        .arg(STREAM)
        .query(&mut app.redis())
        .unwrap();
    assert_eq!(len, 0, "nothing published");
}
