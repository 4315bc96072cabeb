//! Hostile input through the test host: each gets a 4xx problem (or the router's 404),
//! and nothing that should not reaches the fakes.

mod common;

use common::{API_TOKEN, App, problem};
use gcal_tests::fakes::Faulty as _;
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes as one HTTP/1.1 request and returns the status line's code and the body.
async fn raw(app: &App, request: &[u8]) -> (u16, String) {
    let addr = app.host.origin().trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn nothing_reached_the_fakes(app: &App) {
    assert!(
        app.google.requests().is_empty(),
        "Google saw {:?}",
        app.google.requests()
    );
    assert!(
        app.rest.requests().is_empty(),
        "REST saw {:?}",
        app.rest.requests()
    );
}

#[tokio::test]
async fn traversal_and_encoded_slashes_in_ids_are_400_before_any_call() {
    let app = App::start().await;
    for path in [
        "/events/..%2F..%2Fadmin",
        "/events/a%2Fb",
        "/events/a%00b",
        "/events/%FF%FE",
        "/auth/url/..%2Fx",
        "/auth/status/a%0D%0Ab",
    ] {
        let resp = app.api().authed(Method::GET, path).send().await.unwrap();
        let (status, code, _) = problem(resp).await;
        assert_eq!((status, code.as_str()), (400, "invalid_user_id"), "{path}");
    }
    for path in ["/events/u1/a%2Fb", "/events/u1/%0D%0Ax", "/events/u1/x%20y"] {
        let resp = app.api().authed(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
    }
    // Clients normalise `..` and `%2E%2E`; sent raw, they are refused too.
    for path in ["/events/%2E%2E", "/events/..", "/auth/url/../../admin"] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}\r\nConnection: close\r\n\r\n"
        );
        let (status, body) = raw(&app, req.as_bytes()).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("invalid_user_id"), "{path}: {body}");
    }
    nothing_reached_the_fakes(&app);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_refused() {
    let app = App::start().await;
    let deep = "[".repeat(5000) + &"]".repeat(5000);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("application/json", vec![0xff, 0xfe, 0x00, 0x7b], 400),
        ("application/json", deep.into_bytes(), 400),
        ("application/json", b"{\"summary\":".to_vec(), 400),
        ("text/plain", b"{}".to_vec(), 415),
        (
            "application/x-www-form-urlencoded",
            b"summary=x".to_vec(),
            415,
        ),
        ("application/json", vec![b'x'; 65 * 1024], 413),
    ];
    for (ct, body, want) in cases {
        let resp = app
            .api()
            .authed(Method::POST, "/events/u1")
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, _, b) = problem(resp).await;
        assert_eq!(status, want, "{ct}: {b}");
    }
    // Deep nesting inside an otherwise fine event is refused as a bad field, not a crash.
    let nested = format!(
        "{{\"summary\":\"x\",\"description\":{}}}",
        "[".repeat(2000) + &"]".repeat(2000)
    );
    let resp = app
        .api()
        .authed(Method::POST, "/events/u1")
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(app.google.requests().is_empty());
}

#[tokio::test]
async fn duplicate_and_unknown_query_parameters_are_400() {
    let app = App::start().await;
    for q in [
        "q=a&q=b",
        "max_results=1&max_results=2",
        "calendar_id=a&calendar_id=b",
        "evil=1",
        "time_min=2026-01-01T00:00:00Z%0D%0AX-Injected:1",
    ] {
        let resp = app
            .api()
            .authed(Method::GET, &format!("/events/u1?{q}"))
            .send()
            .await
            .unwrap();
        let (status, code, _) = problem(resp).await;
        assert_eq!(status, 400, "{q} -> {code}");
    }
    nothing_reached_the_fakes(&app);
}

#[tokio::test]
async fn malformed_http_never_reaches_a_component_or_a_fake() {
    let app = App::start().await;
    // A header value with a bare CR/LF pair: hyper refuses the request outright.
    let (status, _) = raw(
        &app,
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rInjected: 1\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
    // Oversized headers.
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let (status, _) = raw(&app, big.as_bytes()).await;
    assert!(
        status == 431 || status == 400 || status == 0,
        "status {status}"
    );
    // An injection attempt through the request id is replaced, never echoed.
    let (status, body) = raw(
        &app,
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: a%0D%0ASet-Cookie:x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.contains("Set-Cookie"));
    nothing_reached_the_fakes(&app);
}

#[tokio::test]
async fn header_injection_through_an_idempotency_key_is_refused() {
    let app = App::start().await;
    for key in ["a b", "\u{1}x", &"k".repeat(300)] {
        let resp = app
            .api()
            .authed(Method::POST, "/events/u1")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(r#"{"summary":"x","start":{"date":"2026-01-01"},"end":{"date":"2026-01-02"}}"#)
            .send()
            .await;
        let Ok(resp) = resp else { continue }; // the client itself refused the header
        assert_eq!(resp.status(), 400, "{key:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "invalid_request");
    }
    assert!(app.google.requests().is_empty());
    assert!(!app.logs().contains(API_TOKEN));
}
