//! The client harness every integration suite uses: [`App`] (a started host, its fakes
//! and its Redis), [`Api`] (a client bound to the API token and the host's base URL),
//! [`Resp`] (an answer read whole) and [`connect`] (a user through the OAuth flow).
#![allow(dead_code)]

use base64::Engine as _;
use futures::StreamExt;
use gcal_tests::fakes::google::{ConsentResult, FakeGoogle};
use gcal_tests::fakes::rest::FakeRest;
use gcal_tests::host::{Host, HostConfig};
use gcal_tests::redis_server::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const API_TOKEN: &str = "test-api-token-0123456789";
pub const CLIENT_ID: &str = "test-client.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "test-client-secret-abcdef";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";
pub const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";
/// The stream every notification is appended to (SPEC).
pub const STREAM: &str = "gcal:stream:events";
/// A client gives up on an answer after this long (a bound, not an assertion).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn key_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(KEY)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ------------------------------------------------------------------ the app

/// A started deployment: the host running the built components, a private Redis and
/// the fakes of Google and the REST service.
pub struct App {
    pub host: Host,
    redis: Mutex<RedisServer>,
    redis_url: String,
    pub google: FakeGoogle,
    pub rest: FakeRest,
    /// A plain client (follows redirects, sends no token).
    pub http: reqwest::Client,
    /// The client of [`Api`]: redirects are answers to look at, not to follow.
    api_http: reqwest::Client,
    pub channel: String,
}

/// The variables a test deployment sets: every required one, everything pointed at the
/// private Redis (`redis_url`) and the fakes.
pub fn config(redis_url: &str, google: &FakeGoogle, rest: &FakeRest, channel: &str) -> HostConfig {
    HostConfig::new(gcal_tests::build::manifest_path())
        .variable("google_client_id", CLIENT_ID)
        .variable("google_client_secret", CLIENT_SECRET)
        .variable("google_redirect_uri", REDIRECT_URI)
        .variable("google_oauth_origin", google.origin())
        .variable("google_token_origin", google.origin())
        .variable("google_api_origin", google.origin())
        .variable("rest_service_url", rest.origin())
        .variable("redis_address", redis_url)
        .key_value_store("default", redis_url)
        .variable("events_channel", channel)
        .variable("api_tokens", format!("other-token,{API_TOKEN}"))
        .variable("token_encryption_key", key_b64())
}

impl App {
    pub async fn start() -> App {
        Self::start_with(|c| c).await
    }

    /// Starts everything; `adjust` may change the host configuration first.
    pub async fn start_with(adjust: impl FnOnce(HostConfig) -> HostConfig) -> App {
        let redis = RedisServer::start().expect("starting redis-server");
        Self::start_on(redis, adjust).await
    }

    /// As [`App::start_with`], with a Redis that persists every write (`appendonly`), so
    /// a restart keeps its data.
    pub async fn start_persistent_with(adjust: impl FnOnce(HostConfig) -> HostConfig) -> App {
        let redis = RedisServer::start_persistent().expect("starting redis-server");
        Self::start_on(redis, adjust).await
    }

    /// An app whose HTTP trigger listens on a port known in advance, so `public_base_url`
    /// (where Google's pushes go) can point at it.
    pub async fn start_watchable() -> App {
        let port = gcal_tests::redis_server::free_port().expect("a free port");
        Self::start_with(move |mut c| {
            c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            c.variable("public_base_url", format!("http://127.0.0.1:{port}"))
        })
        .await
    }

    async fn start_on(redis: RedisServer, adjust: impl FnOnce(HostConfig) -> HostConfig) -> App {
        gcal_tests::build::components().expect("building the components");
        let google = FakeGoogle::start().await.expect("starting fake Google");
        let rest = FakeRest::start().await.expect("starting fake REST");
        google.register_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI);
        let channel = format!("test.events.{}", uuid::Uuid::new_v4());
        let redis_url = redis.url();
        let cfg = adjust(config(&redis_url, &google, &rest, &channel));
        let host = Host::start(cfg).await.expect("starting the test host");
        let client = |redirects| {
            reqwest::Client::builder()
                .redirect(redirects)
                .timeout(CLIENT_TIMEOUT)
                .build()
                .expect("a reqwest client")
        };
        App {
            host,
            redis: Mutex::new(redis),
            redis_url,
            google,
            rest,
            http: client(reqwest::redirect::Policy::default()),
            api_http: client(reqwest::redirect::Policy::none()),
            channel,
        }
    }

    /// The configuration of this deployment again (same Redis, fakes and channel), for a
    /// second host such as a replica.
    pub fn config(&self) -> HostConfig {
        config(&self.redis_url, &self.google, &self.rest, &self.channel)
    }

    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    /// A client of this app with the API token.
    pub fn api(&self) -> Api<'_> {
        Api::new(self)
    }

    /// Everything the components printed so far.
    pub fn logs(&self) -> String {
        self.host.logs().all()
    }

    /// `redis://127.0.0.1:PORT` of the app's Redis.
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// A direct connection to the app's Redis, for assertions.
    pub fn redis(&self) -> redis::Connection {
        lock(&self.redis).client().expect("a redis connection")
    }

    /// Kills the app's Redis (SIGKILL).
    pub fn kill_redis(&self) {
        lock(&self.redis).kill();
    }

    /// Starts the app's Redis again on its port (blocks until it answers).
    pub fn restart_redis(&self) {
        lock(&self.redis).restart().expect("redis restarts");
    }
}

// ------------------------------------------------------------------ the client

/// An answer, read whole: status, headers, body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }

    /// Asserts the status; returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        self.expect(status).json()
    }

    /// Asserts an RFC 9457 problem with this status and code; returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!(
            (self.status, body["code"].as_str().unwrap_or("")),
            (status, code),
            "{}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(body["status"], status, "{body}");
        for field in ["type", "title", "detail", "request_id"] {
            assert!(
                !body[field].as_str().unwrap_or("").is_empty(),
                "{field} in {body}"
            );
        }
        body
    }

    /// The `Location` of a 303 and its query pairs.
    #[track_caller]
    pub fn redirect(&self) -> (url::Url, Vec<(String, String)>) {
        assert_eq!(self.status, 303, "{}", self.text);
        let location = url::Url::parse(self.header("location").expect("a Location header"))
            .expect("Location is a URL");
        let pairs = location.query_pairs().into_owned().collect();
        (location, pairs)
    }
}

/// Looks at every answer an [`Api`] receives: method, path with query, answer.
pub type Observer<'a> = Box<dyn Fn(&Method, &str, &Resp) + Send + Sync + 'a>;

/// A client bound to the app's base URL and API token. Never follows redirects; keeps
/// every body and `Location` it received (for the secret checks) and shows each answer
/// to its observer, if it has one.
pub struct Api<'a> {
    pub app: &'a App,
    seen: Mutex<Vec<String>>,
    observer: Option<Observer<'a>>,
}

impl<'a> Api<'a> {
    pub fn new(app: &'a App) -> Self {
        Api {
            app,
            seen: Mutex::new(Vec::new()),
            observer: None,
        }
    }

    /// A client whose answers `observer` sees first.
    pub fn observed(app: &'a App, observer: Observer<'a>) -> Self {
        Api {
            observer: Some(observer),
            ..Api::new(app)
        }
    }

    /// A request without the API token (what a browser sends).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.api_http.request(method, self.app.url(path))
    }

    /// A request with the API bearer token.
    pub fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request(method, path).bearer_auth(API_TOKEN)
    }

    /// Sends and reads the answer whole, without showing it to the observer; a request
    /// without an answer is an error value.
    pub async fn try_fetch(&self, req: reqwest::RequestBuilder) -> Result<Resp, String> {
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(|e| format!("body: {e}"))?;
        let mut seen = lock(&self.seen);
        seen.push(text.clone());
        seen.extend(
            headers
                .get_all("location")
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
        Ok(Resp {
            status,
            headers,
            text,
        })
    }

    /// [`Api::try_fetch`], asserted to get an answer.
    pub async fn fetch(&self, req: reqwest::RequestBuilder) -> Resp {
        match self.try_fetch(req).await {
            Ok(r) => r,
            Err(e) => panic!("the host does not answer: {e}"),
        }
    }

    /// Sends, reads the answer whole and shows it to the observer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let (client, request) = req.build_split();
        let request = request.expect("a well-formed request");
        let method = request.method().clone();
        let url = request.url();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let resp = self
            .fetch(reqwest::RequestBuilder::from_parts(client, request))
            .await;
        if let Some(observe) = &self.observer {
            observe(&method, &path, &resp);
        }
        resp
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.authed(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.authed(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(self.authed(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(self.authed(Method::PATCH, path).json(body)).await
    }

    /// `POST` with an `Idempotency-Key`.
    pub async fn post_with_key(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.send(
            self.authed(Method::POST, path)
                .header("idempotency-key", key)
                .json(body),
        )
        .await
    }

    /// Every body and `Location` received so far.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.seen).clone()
    }

    /// No secret (the fixed ones of the deployment and `secrets`) in the component
    /// logs, any body or `Location` received, `messages`, or any value in Redis.
    #[track_caller]
    pub fn assert_no_secrets(&self, secrets: &[(&str, String)], messages: &[Value]) {
        let mut places: Vec<(String, String)> = vec![("component logs".into(), self.app.logs())];
        for (i, body) in self.seen().into_iter().enumerate() {
            places.push((format!("response {i}"), body));
        }
        for m in messages {
            places.push(("a published message".into(), m.to_string()));
        }
        for (key, value) in redis_dump(self.app) {
            places.push((format!("redis {key}"), value));
        }
        let mut all = fixed_secrets();
        all.extend(secrets.iter().map(|(n, v)| (*n, v.clone())));
        for (name, secret) in &all {
            assert!(secret.len() >= 8, "{name} is too short to search for");
            for (place, text) in &places {
                assert!(!text.contains(secret.as_str()), "the {name} is in {place}");
            }
        }
    }
}

/// The secrets every test deployment has.
pub fn fixed_secrets() -> Vec<(&'static str, String)> {
    vec![
        ("client secret", CLIENT_SECRET.to_owned()),
        ("API token", API_TOKEN.to_owned()),
        ("token encryption key", key_b64()),
    ]
}

/// Every `gcal:*` key with its name and value(s) as text.
pub fn redis_dump(app: &App) -> Vec<(String, String)> {
    use redis::Commands as _;
    let mut con = app.redis();
    let keys: Vec<String> = con.keys("gcal:*").unwrap();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
        let value = match kind.as_str() {
            "string" => con
                .get::<_, Option<Vec<u8>>>(&key)
                .unwrap()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default(),
            "list" => con
                .lrange::<_, Vec<String>>(&key, 0, -1)
                .unwrap()
                .join("\n"),
            "stream" => xrange(&mut con, &key)
                .into_iter()
                .flat_map(|(_, fields)| fields)
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        // The key too: a secret must not be part of a key's name either.
        out.push((key.clone(), format!("{key} {value}")));
    }
    out
}

// ------------------------------------------------------------------ connecting a user

/// How the flow ends: the browser's `GET /auth/callback` with Google's redirect query,
/// or a backend's `POST /auth/callback` with the code and state as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    Get,
    Post,
}

/// A completed authorization and the secrets it involved.
pub struct Connected {
    pub access: String,
    pub refresh: String,
    pub code: String,
    pub verifier: String,
    /// The callback's answer.
    pub answer: Resp,
}

impl Connected {
    pub fn secrets(&self) -> Vec<(&'static str, String)> {
        flow_secrets(
            self.access.clone(),
            self.refresh.clone(),
            self.code.clone(),
            self.verifier.clone(),
        )
    }
}

/// The secrets one authorization involves, named for the secret checks.
pub fn flow_secrets(
    access: String,
    refresh: String,
    code: String,
    verifier: String,
) -> Vec<(&'static str, String)> {
    vec![
        ("access token", access),
        ("refresh token", refresh),
        ("authorization code", code),
        ("PKCE verifier", verifier),
    ]
}

/// A user id as one path segment.
pub fn segment(user: &str) -> String {
    user.replace('@', "%40")
}

/// Connects `user` (known to the REST fake) through the whole OAuth flow:
/// `GET /auth/url/{user}`, consent at the fake Google, the browser's callback; asserts
/// each step succeeds and returns what Google issued.
pub async fn connect(api: &Api<'_>, user: &str) -> Connected {
    connect_by(api, user, Callback::Get).await
}

/// [`connect`], ending with the callback `how`.
pub async fn connect_by(api: &Api<'_>, user: &str, how: Callback) -> Connected {
    let app = api.app;
    let (consent, answer) = authorize(api, user, how).await;
    assert_eq!(answer.status, 200, "{} {}", answer.text, app.logs());
    let issued = app.google.last_issued_tokens().expect("tokens issued");
    Connected {
        access: issued.access_token,
        refresh: issued.refresh_token.expect("a refresh token was issued"),
        code: consent.code,
        verifier: app.google.last_code_verifier().expect("a verifier"),
        answer,
    }
}

/// The flow's steps for `user`: `GET /auth/url/{user}` (asserted to succeed), consent
/// at the fake Google, then the callback `how`, whose answer is returned as it is.
pub async fn authorize(api: &Api<'_>, user: &str, how: Callback) -> (ConsentResult, Resp) {
    let app = api.app;
    let begun = api.get(&format!("/auth/url/{}", segment(user))).await;
    assert_eq!(begun.status, 200, "{} {}", begun.text, app.logs());
    let auth_url = begun.json()["auth_url"]
        .as_str()
        .expect("auth_url")
        .to_owned();
    let consent = app.google.consent(&auth_url).expect("consent");
    let req = match how {
        Callback::Get => {
            let redirect = url::Url::parse(&consent.redirect).expect("a redirect URL");
            let query = redirect.query().unwrap_or("");
            api.request(Method::GET, &format!("/auth/callback?{query}"))
        }
        Callback::Post => api
            .authed(Method::POST, "/auth/callback")
            .json(&json!({"code": consent.code, "state": consent.state})),
    };
    let answer = api.send(req).await;
    (consent, answer)
}

// ------------------------------------------------------------------ small shared helpers

/// Sends `req` and returns its JSON body, which must come with a 200.
pub async fn ok_json(req: reqwest::RequestBuilder) -> Value {
    let resp = req.send().await.expect("an answer");
    let status = resp.status();
    let text = resp.text().await.expect("a body");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `GET /admin/dlq`: `{"length", "entries"}`, the newest dead letters.
pub async fn dead_letters(app: &App) -> Value {
    app.api().get("/admin/dlq").await.ok(200)
}

/// `POST /admin/dlq/replay`: `{"replayed", "remaining", "failed", "error"}`.
pub async fn replay_dead_letters(app: &App) -> Value {
    app.api()
        .send(app.api().authed(Method::POST, "/admin/dlq/replay"))
        .await
        .ok(200)
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
    pub async fn start(app: &App, channel: &str) -> Subscription {
        let client = redis::Client::open(app.redis_url()).unwrap();
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
                lock(&sink).push(payload);
            }
        });
        Subscription { messages, task }
    }

    pub fn messages(&self) -> Vec<Value> {
        lock(&self.messages)
            .iter()
            .map(|m| serde_json::from_str(m).expect("a JSON message"))
            .collect()
    }

    /// Waits for `n` messages (and a moment for any extra one) and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let arrived = eventually(Duration::from_secs(5), || lock(&self.messages).len() >= n).await;
        assert!(arrived, "expected {n} messages, got {:?}", self.messages());
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.messages()
    }
}

/// Form-encodes one query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The cipher the test apps are configured with ([`KEY`]).
pub fn cipher() -> gcal_core::TokenCipher {
    gcal_core::TokenCipher::from_base64_key(&key_b64()).expect("the test key")
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
pub fn stream_events(app: &App) -> Vec<Value> {
    xrange(&mut app.redis(), STREAM)
        .into_iter()
        .map(|(id, fields)| {
            assert_eq!(fields.len(), 2, "entry {id}: {fields:?}");
            assert_eq!(fields[0], "event", "entry {id}");
            serde_json::from_str(&fields[1]).expect("a JSON CloudEvent")
        })
        .collect()
}

/// The consumer group of the updates component.
pub const GROUP: &str = "gcal-updates";

/// Entries the consumer group has read but not acknowledged.
pub fn pending(app: &App) -> i64 {
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg(STREAM)
        .arg(GROUP)
        .query(&mut app.redis())
        .unwrap();
    match summary {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n,
            other => panic!("XPENDING: {other:?}"),
        },
        other => panic!("XPENDING: {other:?}"),
    }
}

/// Creates a half-hour event for `user` through the API (asserted 201); returns it.
pub async fn create_event(app: &App, user: &str, summary: &str) -> Value {
    let body = json!({
        "summary": summary,
        "start": {"dateTime": "2026-07-10T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-07-10T09:30:00", "timeZone": "Europe/Berlin"},
    });
    let r = app.api().post(&format!("/events/{user}"), &body).await;
    assert_eq!(r.status, 201, "{} {}", r.text, app.logs());
    r.json()
}
