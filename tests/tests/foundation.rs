//! The chain from `spin.toml` to a running component: routing, variables, outbound
//! Redis and its allow-list, the Redis trigger, limits and failures of the host.

mod common;

use common::{API_TOKEN, App, eventually, problem};
use gcal_tests::host::{Host, HostConfig};
use redis::Commands;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn health_answers_with_version_and_a_real_redis_round_trip() {
    let app = App::start().await;
    let resp = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "health-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "health-check-1");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["checks"]["redis"], "ok");

    // The component really wrote to our Redis, with a bound on the key's life.
    let mut r = app.redis();
    let stored: Option<String> = r.get("gcal:health:health-check-1").unwrap();
    assert_eq!(stored.as_deref(), Some("health-check-1"));
    let ttl: i64 = r.ttl("gcal:health:health-check-1").unwrap();
    assert!((1..=60).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn health_is_a_503_problem_when_redis_is_down() {
    let app = App::start().await;
    app.kill_redis();
    let resp = app.http.get(app.url("/health")).send().await.unwrap();
    assert!(resp.headers().contains_key("x-request-id"));
    let (status, code, body) = problem(resp).await;
    assert_eq!(
        (status, code.as_str()),
        (503, "redis_unavailable"),
        "{body}"
    );
    assert!(!body["request_id"].as_str().unwrap_or("").is_empty());
    // Back up: the next request works again, nothing is stuck.
    app.restart_redis();
    let resp = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unknown_paths_get_404_from_the_router_and_from_components() {
    let app = App::start().await;
    // No route matches: the host answers, as Spin does.
    for path in ["/", "/nope", "/healthz", "/health/extra", "/authx"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    // A wildcard route matches but the component knows no such path: a problem body.
    let resp = app
        .api()
        .authed(Method::GET, "/auth/no/such/thing")
        .send()
        .await
        .unwrap();
    let (status, code, _) = problem(resp).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let resp = app
        .api()
        .authed(Method::GET, "/events")
        .send()
        .await
        .unwrap();
    let (status, code, _) = problem(resp).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    // An exact route with the wrong method.
    let resp = app.http.post(app.url("/health")).send().await.unwrap();
    let (status, code, _) = problem(resp).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn api_routes_need_a_configured_bearer_token() {
    let app = App::start().await;
    for path in ["/auth/status/u1", "/events/u1"] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("Basic dGVzdA=="),
            Some("Bearer "),
        ] {
            let mut req = app.http.get(app.url(path));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let (status, code, _) = problem(req.send().await.unwrap()).await;
            assert_eq!(
                (status, code.as_str()),
                (401, "unauthorized"),
                "{path} {auth:?}"
            );
        }
        // Both configured tokens are accepted.
        for token in [API_TOKEN, "other-token"] {
            let resp = app
                .http
                .get(app.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            // Whatever the route answers, it is not the API-token refusal.
            let body: Value = resp.json().await.unwrap();
            assert_ne!(body["code"], "unauthorized", "{path}: {body}");
        }
    }
    assert!(
        !app.logs().contains(API_TOKEN),
        "an API token reached the logs"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = App::start().await;
    let big = vec![b'x'; 70 * 1024];
    let resp = app
        .api()
        .authed(Method::POST, "/events/u1")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let (status, code, _) = problem(resp).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
}

#[tokio::test]
async fn a_required_variable_missing_stops_the_host_with_its_name() {
    gcal_tests::build::components().unwrap();
    let cfg = HostConfig::new(gcal_tests::build::manifest_path())
        .variable("google_client_id", "x")
        .variable("google_client_secret", "x")
        .variable("google_redirect_uri", "http://127.0.0.1/auth/callback")
        .variable("token_encryption_key", "x");
    let err = Host::start(cfg)
        .await
        .err()
        .expect("start must fail")
        .to_string();
    assert!(err.contains("api_tokens"), "{err}");
    assert!(!err.contains("google_client_id"), "{err}");
}

#[tokio::test]
async fn a_required_variable_set_empty_is_a_500_problem_naming_it() {
    let app = App::start_with(|c| c.variable("api_tokens", "")).await;
    let resp = app
        .api()
        .authed(Method::GET, "/auth/status/u1")
        .send()
        .await
        .unwrap();
    let (status, code, body) = problem(resp).await;
    assert_eq!((status, code.as_str()), (500, "config_missing"));
    assert!(
        body["detail"].as_str().unwrap().contains("api_tokens"),
        "{body}"
    );
}

#[tokio::test]
async fn redis_outside_allowed_outbound_hosts_is_refused() {
    // The same app, but the health component may reach nothing.
    let dir = std::env::temp_dir().join(format!("gcal-manifest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = gcal_tests::build::workspace_root();
    let text = std::fs::read_to_string(root.join("spin.toml")).unwrap();
    let narrowed = text
        .replace(
            "allowed_outbound_hosts = [\"{{ redis_address }}\"]",
            "allowed_outbound_hosts = []",
        )
        .replace(
            "source = \"target/",
            &format!("source = \"{}/target/", root.display()),
        );
    assert_ne!(
        narrowed, text,
        "the health component's allow-list was not found"
    );
    std::fs::write(dir.join("spin.toml"), narrowed).unwrap();

    let app = App::start_with(|mut c| {
        c.manifest = dir.join("spin.toml");
        c
    })
    .await;
    let resp = app.http.get(app.url("/health")).send().await.unwrap();
    let (status, code, _) = problem(resp).await;
    assert_eq!((status, code.as_str()), (503, "redis_unavailable"));
    assert!(
        app.host
            .logs()
            .of("host")
            .contains("outbound redis from component `health` refused"),
        "{}",
        app.host.logs().of("host")
    );
    let mut r = app.redis();
    let keys: Vec<String> = r.keys("gcal:health:*").unwrap();
    assert!(keys.is_empty(), "nothing may reach Redis: {keys:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_message_on_the_events_channel_reaches_the_updates_component() {
    let app = App::start().await;
    let mut r = app.redis();
    // Another channel is not ours: never delivered.
    let _: i64 = r
        .publish("some.other.channel", r#"{"id":"evt-elsewhere","type":"x"}"#)
        .unwrap();
    let receivers: i64 = r
        .publish(
            &app.channel,
            r#"{"id":"evt-123","type":"calendar.event.created"}"#,
        )
        .unwrap();
    assert_eq!(receivers, 1, "the host subscribed to the resolved channel");
    let arrived = eventually(Duration::from_secs(10), || {
        app.host.logs().of("updates").contains("evt-123")
    })
    .await;
    assert!(arrived, "updates logs: {}", app.host.logs().of("updates"));
    let line = app
        .host
        .logs()
        .of("updates")
        .lines()
        .find(|l| l.contains("evt-123"))
        .map(str::to_owned)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["event_type"], "calendar.event.created");
    assert!(!app.host.logs().of("updates").contains("evt-elsewhere"));
}

#[tokio::test]
async fn a_guest_past_the_timeout_gets_a_500_and_the_host_goes_on() {
    // A "Redis" that accepts connections and never answers: the health check hangs in
    // the guest until the host's deadline cuts it off.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let app = App::start_with(|mut c| {
        c.timeout = Duration::from_millis(300);
        c.redis_triggers = false;
        c.variable("redis_address", format!("redis://{silent_addr}"))
    })
    .await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let resp = app.http.get(app.url("/health")).send().await.unwrap();
        assert_eq!(resp.status(), 500);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "cut off at the deadline"
        );
    }
    assert!(
        app.host.logs().of("host").contains("timed out"),
        "{}",
        app.host.logs().of("host")
    );
    // The router itself is still serving.
    let resp = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_replaced_otherwise() {
    let app = App::start().await;
    let resp = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc.123");
    let long = "a".repeat(200);
    let resp = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", long.as_str())
        .send()
        .await
        .unwrap();
    let rid = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(rid, long);
    assert!(uuid::Uuid::parse_str(&rid).is_ok(), "{rid}");
}

/// The request lines of one request id, parsed.
fn request_line(logs: &str, rid: &str) -> Value {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["msg"] == "request" && v["request_id"] == rid)
        .unwrap_or_else(|| panic!("no request line for {rid} in:\n{logs}"))
}

#[tokio::test]
async fn each_request_logs_one_json_line_with_route_status_duration_user_and_upstream_calls() {
    let app = App::start().await;
    let resp = app
        .api()
        .authed(Method::GET, "/events/u1")
        .header("x-request-id", "log-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "u1 never connected a calendar");
    let line = request_line(&app.host.logs().of("events"), "log-check-1");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/events/...");
    assert_eq!(line["path"], "/events/u1");
    assert_eq!(line["status"], 401);
    assert_eq!(line["code"], "not_authorized");
    assert_eq!(line["user_id"], "u1");
    assert_eq!(line["level"], "warn");
    assert!(
        line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{line}"
    );
    let upstream = line["upstream"].as_array().unwrap();
    assert_eq!(upstream.len(), 1, "{line}");
    assert_eq!(upstream[0]["host"], app.rest.origin());
    assert_eq!(upstream[0]["status"], 404);
    assert!(!app.logs().contains(API_TOKEN));
}

#[tokio::test]
async fn log_level_error_keeps_only_errors() {
    let app = App::start_with(|c| c.variable("log_level", "error")).await;
    let resp = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "quiet-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!app.host.logs().of("health").contains("quiet-1"));
    // An error still shows.
    app.kill_redis();
    let resp = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "loud-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        request_line(&app.host.logs().of("health"), "loud-1")["level"],
        "error"
    );
}

#[tokio::test]
async fn cors_headers_exactly_as_configured() {
    let app = App::start_with(|c| c.variable("cors_allowed_origins", "https://app.example")).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(Method::OPTIONS, app.url("/events/u1"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("idempotency-key")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = app
        .http
        .get(app.url("/health"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(get.headers()["x-content-type-options"], "nosniff");
    assert_eq!(get.headers()["cache-control"], "no-store");

    let plain = App::start().await;
    let resp = plain
        .http
        .get(plain.url("/health"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
