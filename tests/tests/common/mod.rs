//! What every integration suite starts: a private Redis, the fakes, the built components
//! in the test host, and a client.
#![allow(dead_code)]

use base64::Engine as _;
use futures::StreamExt;
use gcal_tests::fakes::{google::FakeGoogle, rest::FakeRest};
use gcal_tests::host::{Host, HostConfig};
use gcal_tests::redis_server::RedisServer;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const API_TOKEN: &str = "test-api-token-0123456789";
pub const CLIENT_ID: &str = "test-client.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "test-client-secret-abcdef";
pub const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";
/// The stream every notification is appended to (SPEC).
pub const STREAM: &str = "gcal:stream:events";

pub fn key_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(KEY)
}

pub struct TestApp {
    pub host: Host,
    pub redis: RedisServer,
    pub google: FakeGoogle,
    pub rest: FakeRest,
    pub http: reqwest::Client,
    pub channel: String,
}

/// The variables a test deployment sets: every required one, everything pointed at the
/// private Redis and the fakes.
pub fn config(
    redis: &RedisServer,
    google: &FakeGoogle,
    rest: &FakeRest,
    channel: &str,
) -> HostConfig {
    HostConfig::new(gcal_tests::build::manifest_path())
        .variable("google_client_id", CLIENT_ID)
        .variable("google_client_secret", CLIENT_SECRET)
        .variable("google_redirect_uri", "http://127.0.0.1:9/auth/callback")
        .variable("google_oauth_origin", google.origin())
        .variable("google_token_origin", google.origin())
        .variable("google_api_origin", google.origin())
        .variable("rest_service_url", rest.origin())
        .variable("redis_address", redis.url())
        .variable("events_channel", channel)
        .variable("api_tokens", format!("other-token,{API_TOKEN}"))
        .variable("token_encryption_key", key_b64())
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|c| c).await
    }

    /// Starts everything; `adjust` may change the host configuration first.
    pub async fn start_with(adjust: impl FnOnce(HostConfig) -> HostConfig) -> TestApp {
        gcal_tests::build::components().expect("building the components");
        let redis = RedisServer::start().expect("starting redis-server");
        let google = FakeGoogle::start().await.expect("starting fake Google");
        let rest = FakeRest::start().await.expect("starting fake REST");
        google.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:9/auth/callback");
        let channel = format!("test.events.{}", uuid::Uuid::new_v4());
        let cfg = adjust(config(&redis, &google, &rest, &channel));
        let host = Host::start(cfg).await.expect("starting the test host");
        TestApp {
            host,
            redis,
            google,
            rest,
            http: reqwest::Client::new(),
            channel,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    /// A request with the API bearer token.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(API_TOKEN)
    }

    /// Everything the components printed so far.
    pub fn logs(&self) -> String {
        self.host.logs().all()
    }
}

/// A running deployment, reached with the API token: what the shared request helpers
/// below need (the suites' own app types implement it).
pub trait Api {
    fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder;
}

impl Api for TestApp {
    fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        TestApp::authed(self, method, path)
    }
}

/// Sends `req` and returns its JSON body, which must come with a 200.
pub async fn ok_json(req: reqwest::RequestBuilder) -> Value {
    let resp = req.send().await.expect("an answer");
    let status = resp.status();
    let text = resp.text().await.expect("a body");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `GET /admin/dlq`: `{"length", "entries"}`, the newest dead letters.
pub async fn dead_letters(app: &impl Api) -> Value {
    ok_json(app.authed(reqwest::Method::GET, "/admin/dlq")).await
}

/// `POST /admin/dlq/replay`: `{"replayed", "remaining", "failed", "error"}`.
pub async fn replay_dead_letters(app: &impl Api) -> Value {
    ok_json(app.authed(reqwest::Method::POST, "/admin/dlq/replay")).await
}

/// The `content-type` of a response, `""` if it has none.
pub fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A parsed problem response: status, code, whole body.
pub async fn problem(resp: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = resp.status().as_u16();
    let ct = content_type(&resp);
    let body: serde_json::Value = resp.json().await.expect("a JSON body");
    assert_eq!(
        ct, "application/problem+json",
        "problem content type; body {body}"
    );
    let code = body["code"].as_str().unwrap_or("").to_owned();
    (status, code, body)
}

/// A pub/sub subscriber collecting every message of one channel.
pub struct Subscription {
    messages: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Subscription {
    pub async fn start(app: &TestApp, channel: &str) -> Subscription {
        let client = redis::Client::open(app.redis.url()).unwrap();
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .expect("a pubsub connection");
        pubsub.subscribe(channel).await.expect("subscribed");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let task = tokio::spawn(async move {
            let mut stream = pubsub.into_on_message();
            while let Some(msg) = stream.next().await {
                let payload: String = msg.get_payload().unwrap_or_default();
                sink.lock().unwrap().push(payload);
            }
        });
        Subscription { messages, task }
    }

    pub fn messages(&self) -> Vec<Value> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| serde_json::from_str(m).expect("a JSON message"))
            .collect()
    }

    /// Waits for `n` messages (and a moment for any extra one) and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let arrived = eventually(Duration::from_secs(5), || {
            self.messages.lock().unwrap().len() >= n
        })
        .await;
        assert!(arrived, "expected {n} messages, got {:?}", self.messages());
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.messages()
    }
}

// ------------------------------------------------------------------ small shared helpers

/// Form-encodes one query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The cipher the test apps are configured with ([`KEY`]).
pub fn cipher() -> gcal_core::TokenCipher {
    gcal_core::TokenCipher::from_base64_key(&key_b64()).expect("the test key")
}

/// A direct connection to the app's Redis, for assertions.
pub fn redis_con(app: &TestApp) -> redis::Connection {
    app.redis.client().expect("a redis connection")
}

/// Every entry of a Redis stream, oldest first.
pub fn xrange(con: &mut redis::Connection, key: &str) -> Vec<(String, Vec<String>)> {
    redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap()
}

/// Every CloudEvent in the stream, oldest first.
pub fn stream_events(app: &TestApp) -> Vec<Value> {
    xrange(&mut redis_con(app), STREAM)
        .into_iter()
        .map(|(id, fields)| {
            assert_eq!(fields.len(), 2, "entry {id}: {fields:?}");
            assert_eq!(fields[0], "event", "entry {id}");
            serde_json::from_str(&fields[1]).expect("a JSON CloudEvent")
        })
        .collect()
}

/// An app whose HTTP trigger listens on a port known in advance, so `public_base_url`
/// (where Google's pushes go) can point at it.
pub async fn start_watchable() -> TestApp {
    let port = gcal_tests::redis_server::free_port().expect("a free port");
    TestApp::start_with(move |mut c| {
        c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        c.variable("public_base_url", format!("http://127.0.0.1:{port}"))
    })
    .await
}
