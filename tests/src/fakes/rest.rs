//! Fake of the user-data REST service (SPEC section 4).
//!
//! Routes: `GET /users/{id}`, `GET|PUT|DELETE /users/{id}/credentials/google`,
//! `POST /notifications`. Path segments are percent-decoded before lookup (user ids may
//! contain `@`); a segment that decodes to something containing `/` matches nothing (404).
//! Errors are JSON `{"error": "<snake_case>", "detail"?}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::Fault;
use super::faults::{Admission, FaultControl, Faulty};
use super::server::{Incoming, Outcome, Served};

/// Endpoint groups of the REST fake, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /users/{id}`
    Users,
    /// `/users/{id}/credentials/google`
    Credentials,
    /// `POST /notifications`
    Notifications,
    /// Every request.
    Any,
}

/// The fields of a credential record, exactly (SPEC section 4).
const CREDENTIAL_FIELDS: [&str; 7] = [
    "provider",
    "access_token_enc",
    "refresh_token_enc",
    "expires_at",
    "scopes",
    "status",
    "updated_at",
];

/// AES-GCM nonce (12 bytes) plus tag (16 bytes) plus at least one byte of ciphertext.
const MIN_SEALED_LEN: usize = 12 + 16 + 1;

#[derive(Debug, Clone)]
struct User {
    email: Option<String>,
    time_zone: Option<String>,
}

#[derive(Debug)]
struct State {
    token: Option<String>,
    put_status: StatusCode,
    users: BTreeMap<String, User>,
    credentials: BTreeMap<String, Value>,
    notifications: Vec<Value>,
    /// Distinct notification ids in first-received order.
    notification_ids: Vec<String>,
    deliveries: HashMap<String, usize>,
    /// Notification ids refused with this status (after validation), every time.
    refused: HashMap<String, StatusCode>,
}

/// Fake REST user-data service on loopback. See the module docs.
pub struct FakeRest {
    served: Served<State, Route>,
}

/// The REST service's transient errors, for chaos.
const TRANSIENT: &[Fault] = &[
    Fault::Status(500),
    Fault::Status(502),
    Fault::Status(503),
    Fault::Status(429),
];

impl Faulty for FakeRest {
    type Route = Route;

    fn control(&self) -> &FaultControl<Route> {
        self.served.control()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test thread must not poison the fake for the others.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeRest {
    /// Starts the fake on a free loopback port, with no users and no token required.
    pub async fn start() -> anyhow::Result<Self> {
        let state = State {
            token: None,
            put_status: StatusCode::OK,
            users: BTreeMap::new(),
            credentials: BTreeMap::new(),
            notifications: Vec::new(),
            notification_ids: Vec::new(),
            deliveries: HashMap::new(),
            refused: HashMap::new(),
        };
        let served = Served::start(state, TRANSIENT, handle).await?;
        Ok(FakeRest { served })
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        self.served.origin()
    }

    /// Stops the server (connections are then refused). Dropping the fake does the same.
    pub async fn shutdown(&self) {
        self.served.shutdown().await;
    }

    /// When set, every request must carry `Authorization: Bearer <token>`, else 401.
    pub fn require_token(&self, token: Option<String>) {
        if let Some(t) = &token {
            crate::suite_logs::record_secret(crate::suite_logs::REST_TOKEN, t);
        }
        lock(self.served.state()).token = token;
    }

    /// Status of a successful credentials PUT: 200 (with the record) or 204 (empty).
    pub fn set_put_status(&self, status: u16) {
        assert!(
            status == 200 || status == 204,
            "the REST contract allows only 200 or 204 for PUT, not {status}"
        );
        lock(self.served.state()).put_status =
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    }

    /// Adds (or replaces) a user.
    pub fn add_user(&self, id: &str, email: Option<&str>, time_zone: Option<&str>) {
        lock(self.served.state()).users.insert(
            id.to_owned(),
            User {
                email: email.map(str::to_owned),
                time_zone: time_zone.map(str::to_owned),
            },
        );
    }

    /// Removes a user and their credentials.
    pub fn remove_user(&self, id: &str) {
        let mut state = lock(self.served.state());
        state.users.remove(id);
        state.credentials.remove(id);
    }

    /// The stored credential record of a user.
    pub fn credentials(&self, id: &str) -> Option<Value> {
        lock(self.served.state()).credentials.get(id).cloned()
    }

    /// Stores a credential record as is, without validation (to seed good or bad data).
    /// Does not create the user: GET answers 404 for unknown users regardless.
    pub fn set_credentials(&self, id: &str, value: Value) {
        lock(self.served.state())
            .credentials
            .insert(id.to_owned(), value);
    }

    /// Removes a user's credential record behind the service's back.
    pub fn remove_credentials(&self, id: &str) {
        lock(self.served.state()).credentials.remove(id);
    }

    /// Every accepted notification in received order, duplicates included.
    pub fn notifications(&self) -> Vec<Value> {
        lock(self.served.state()).notifications.clone()
    }

    /// Distinct ids of accepted notifications, in first-received order.
    pub fn notification_ids(&self) -> Vec<String> {
        lock(self.served.state()).notification_ids.clone()
    }

    /// How many times a notification with this id was accepted.
    pub fn delivery_count(&self, id: &str) -> usize {
        lock(self.served.state())
            .deliveries
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// From now on every `POST /notifications` of the event `id` is answered `status`
    /// (and not counted as delivered), until [`accept_notification`](Self::accept_notification).
    pub fn refuse_notification(&self, id: &str, status: u16) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        lock(self.served.state())
            .refused
            .insert(id.to_owned(), status);
    }

    /// Ends [`refuse_notification`](Self::refuse_notification) for `id`.
    pub fn accept_notification(&self, id: &str) {
        lock(self.served.state()).refused.remove(id);
    }

    pub fn clear_notifications(&self) {
        let mut state = lock(self.served.state());
        state.notifications.clear();
        state.notification_ids.clear();
        state.deliveries.clear();
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    control: Arc<FaultControl<Route>>,
    req: Incoming,
) -> Outcome {
    let chain: &[Route] = match classify(&req) {
        Some(route) => &[route, Route::Any],
        None => &[Route::Any],
    };
    match control.admit(&req, chain).await {
        Admission::Handle => Outcome::Respond(lock(&state).dispatch(&req)),
        Admission::Down => Outcome::Respond(error(StatusCode::SERVICE_UNAVAILABLE, "unavailable")),
        Admission::Fail(fault) => Outcome::Respond(fault_response(&fault)),
        Admission::Drop => Outcome::Drop,
        Admission::CutShort => {
            let resp = lock(&state).dispatch(&req);
            Outcome::Respond(super::server::cut_short(resp).await)
        }
    }
}

/// Route group of a request from its raw path (for fault matching only).
fn classify(req: &Incoming) -> Option<Route> {
    let raw: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match raw.as_slice() {
        ["users", _] => Some(Route::Users),
        ["users", _, "credentials", "google"] => Some(Route::Credentials),
        ["notifications"] => Some(Route::Notifications),
        _ => None,
    }
}

fn fault_response(fault: &Fault) -> Response {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(status, status_code_name(status))
        }
        Fault::RateLimit403 => error(StatusCode::FORBIDDEN, "rate_limited"),
        Fault::Unauthorized => error(StatusCode::UNAUTHORIZED, "unauthorized"),
        Fault::Gone => error(StatusCode::GONE, "gone"),
        // Handled before a response is built.
        Fault::Slow(_) | Fault::Drop | Fault::CutShort => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

fn status_code_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        410 => "gone",
        422 => "unprocessable_entity",
        429 => "too_many_requests",
        500 => "internal_error",
        502 => "bad_gateway",
        503 => "unavailable",
        504 => "gateway_timeout",
        _ => "error",
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

fn error_detail(status: StatusCode, code: &str, detail: &str) -> Response {
    (status, Json(json!({ "error": code, "detail": detail }))).into_response()
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

impl State {
    fn dispatch(&mut self, req: &Incoming) -> Response {
        // Like an HTTP/1.0 server or a WSGI stack: a body must come with its length.
        if req
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
        {
            return error(StatusCode::LENGTH_REQUIRED, "length_required");
        }
        if let Some(expected) = &self.token
            && !bearer_matches(req, expected)
        {
            let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
        let Some(segments) = req.segments() else {
            return error(StatusCode::NOT_FOUND, "not_found");
        };
        // A decoded `/` would have been a separate segment on the real service.
        if segments.iter().any(|s| s.contains('/')) {
            return error(StatusCode::NOT_FOUND, "not_found");
        }
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["users", id] if !id.is_empty() => match req.method {
                Method::GET => self.get_user(id),
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            },
            ["users", id, "credentials", "google"] if !id.is_empty() => match req.method {
                Method::GET => self.get_credentials(id),
                Method::PUT => self.put_credentials(id, req),
                Method::DELETE => self.delete_credentials(id),
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            },
            ["notifications"] => match req.method {
                Method::POST => self.post_notification(req),
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            },
            _ => error(StatusCode::NOT_FOUND, "not_found"),
        }
    }

    fn get_user(&self, id: &str) -> Response {
        let Some(user) = self.users.get(id) else {
            return error(StatusCode::NOT_FOUND, "not_found");
        };
        let mut body = json!({ "id": id });
        if let Some(email) = &user.email {
            body["email"] = json!(email);
        }
        if let Some(tz) = &user.time_zone {
            body["time_zone"] = json!(tz);
        }
        (StatusCode::OK, Json(body)).into_response()
    }

    fn get_credentials(&self, id: &str) -> Response {
        if !self.users.contains_key(id) {
            return error(StatusCode::NOT_FOUND, "not_found");
        }
        match self.credentials.get(id) {
            Some(record) => (StatusCode::OK, Json(record.clone())).into_response(),
            None => error(StatusCode::NOT_FOUND, "not_found"),
        }
    }

    fn put_credentials(&mut self, id: &str, req: &Incoming) -> Response {
        if !self.users.contains_key(id) {
            return error(StatusCode::NOT_FOUND, "not_found");
        }
        if !is_json_content_type(req.header("content-type"), &["application/json"]) {
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
        let Ok(record) = serde_json::from_slice::<Value>(&req.body) else {
            return error(StatusCode::BAD_REQUEST, "invalid_json");
        };
        if let Err(detail) = validate_credential(&record) {
            return error_detail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_credential",
                &detail,
            );
        }
        self.credentials.insert(id.to_owned(), record.clone());
        if self.put_status == StatusCode::NO_CONTENT {
            empty(StatusCode::NO_CONTENT)
        } else {
            (StatusCode::OK, Json(record)).into_response()
        }
    }

    fn delete_credentials(&mut self, id: &str) -> Response {
        if !self.users.contains_key(id) || self.credentials.remove(id).is_none() {
            return error(StatusCode::NOT_FOUND, "not_found");
        }
        empty(StatusCode::NO_CONTENT)
    }

    fn post_notification(&mut self, req: &Incoming) -> Response {
        if !is_json_content_type(
            req.header("content-type"),
            &["application/json", "application/cloudevents+json"],
        ) {
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
        let Ok(event) = serde_json::from_slice::<Value>(&req.body) else {
            return error(StatusCode::BAD_REQUEST, "invalid_json");
        };
        let id = match validate_cloud_event(&event) {
            Ok(id) => id,
            Err(detail) => {
                return error_detail(StatusCode::BAD_REQUEST, "invalid_cloudevent", &detail);
            }
        };
        match req.header("idempotency-key") {
            None => return error(StatusCode::BAD_REQUEST, "missing_idempotency_key"),
            Some(key) if key != id => {
                return error_detail(
                    StatusCode::BAD_REQUEST,
                    "idempotency_key_mismatch",
                    "the Idempotency-Key header must equal the event id",
                );
            }
            Some(_) => {}
        }
        if let Some(status) = self.refused.get(&id) {
            return error(*status, status_code_name(*status));
        }
        let count = self.deliveries.entry(id.clone()).or_insert(0);
        *count += 1;
        let duplicate = *count > 1;
        if !duplicate {
            self.notification_ids.push(id.clone());
        }
        self.notifications.push(event);
        (
            StatusCode::ACCEPTED,
            Json(json!({ "id": id, "duplicate": duplicate })),
        )
            .into_response()
    }
}

/// `Authorization: Bearer <expected>` (scheme case-insensitive, token exact).
fn bearer_matches(req: &Incoming, expected: &str) -> bool {
    req.header("authorization")
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token == expected)
}

/// Whether the media type (parameters such as `charset` ignored) is one of `allowed`.
fn is_json_content_type(value: Option<&str>, allowed: &[&str]) -> bool {
    value
        .and_then(|v| v.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| allowed.contains(&media.as_str()))
}

/// Checks a credential record has exactly the SPEC fields with sane values.
/// `expires_at` and `updated_at` are RFC 3339 timestamps.
fn validate_credential(record: &Value) -> Result<(), String> {
    let Some(fields) = record.as_object() else {
        return Err("the credential record must be a JSON object".into());
    };
    for name in fields.keys() {
        if !CREDENTIAL_FIELDS.contains(&name.as_str()) {
            return Err(format!("unknown field `{name}`"));
        }
    }
    for name in CREDENTIAL_FIELDS {
        if !fields.contains_key(name) {
            return Err(format!("missing field `{name}`"));
        }
    }
    if fields["provider"] != "google" {
        return Err("`provider` must be \"google\"".into());
    }
    for name in ["access_token_enc", "refresh_token_enc"] {
        check_sealed(&fields[name]).map_err(|e| format!("`{name}`: {e}"))?;
    }
    for name in ["expires_at", "updated_at"] {
        let valid = fields[name]
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok());
        if !valid {
            return Err(format!("`{name}` must be an RFC 3339 timestamp"));
        }
    }
    let scopes_ok = fields["scopes"]
        .as_array()
        .is_some_and(|a| a.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())));
    if !scopes_ok {
        return Err("`scopes` must be an array of non-empty strings".into());
    }
    if !matches!(fields["status"].as_str(), Some("active" | "invalid")) {
        return Err("`status` must be \"active\" or \"invalid\"".into());
    }
    Ok(())
}

/// `v1:` + base64(nonce ‖ AES-256-GCM ciphertext) — checks the shape, not the key.
fn check_sealed(value: &Value) -> Result<(), String> {
    let Some(text) = value.as_str() else {
        return Err("must be a string".into());
    };
    let Some(encoded) = text.strip_prefix("v1:") else {
        return Err("must start with `v1:`".into());
    };
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(encoded)
        .map_err(|_| "is not base64 after `v1:`".to_owned())?;
    if bytes.len() < MIN_SEALED_LEN {
        return Err("is too short for nonce, tag and ciphertext".into());
    }
    Ok(())
}

/// Checks a structured-mode CloudEvent 1.0 and returns its id.
fn validate_cloud_event(event: &Value) -> Result<String, String> {
    let Some(fields) = event.as_object() else {
        return Err("a CloudEvent must be a JSON object".into());
    };
    if fields.get("specversion").and_then(Value::as_str) != Some("1.0") {
        return Err("`specversion` must be \"1.0\"".into());
    }
    for name in ["id", "source", "type", "subject"] {
        if fields
            .get(name)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("`{name}` must be a non-empty string"));
        }
    }
    if let Some(time) = fields.get("time")
        && time
            .as_str()
            .is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_err())
    {
        return Err("`time` must be an RFC 3339 timestamp".into());
    }
    if let Some(ct) = fields.get("datacontenttype")
        && !ct.is_string()
    {
        return Err("`datacontenttype` must be a string".into());
    }
    Ok(fields["id"].as_str().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sealed() -> String {
        format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 40])
        )
    }

    fn record() -> Value {
        json!({
            "provider": "google",
            "access_token_enc": sealed(),
            "refresh_token_enc": sealed(),
            "expires_at": "2030-01-01T00:00:00Z",
            "scopes": ["https://www.googleapis.com/auth/calendar.events"],
            "status": "active",
            "updated_at": "2025-01-01T00:00:00Z",
        })
    }

    fn event(id: &str) -> Value {
        json!({
            "specversion": "1.0",
            "id": id,
            "source": "/gcal/events",
            "type": "calendar.event.created",
            "subject": "alice",
            "time": "2025-01-01T00:00:00Z",
            "datacontenttype": "application/json",
            "data": {"event_id": "abc"},
        })
    }

    async fn put(fake: &FakeRest, user: &str, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .put(format!("{}/users/{user}/credentials/google", fake.origin()))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    #[tokio::test]
    async fn users_are_found_by_percent_decoded_id() {
        let fake = FakeRest::start().await.unwrap();
        fake.add_user("a@b.c", Some("a@b.c"), Some("Europe/Berlin"));
        let ok = reqwest::get(format!("{}/users/a%40b.c", fake.origin()))
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let body: Value = ok.json().await.unwrap();
        assert_eq!(
            body,
            json!({"id": "a@b.c", "email": "a@b.c", "time_zone": "Europe/Berlin"})
        );

        fake.add_user("x/y", None, None);
        let slash = reqwest::get(format!("{}/users/x%2Fy", fake.origin()))
            .await
            .unwrap();
        assert_eq!(slash.status(), 404);
        let missing = reqwest::get(format!("{}/users/nobody", fake.origin()))
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(
            missing.json::<Value>().await.unwrap(),
            json!({"error": "not_found"})
        );
        let recorded = fake.requests();
        assert_eq!(recorded.len(), 3);
        assert_eq!(recorded[0].path, "/users/a%40b.c");
    }

    /// A chunked request body (no `Content-Length`) is refused, as HTTP/1.0 servers and
    /// several WSGI stacks do; the same body with its length is taken.
    #[tokio::test]
    async fn a_chunked_body_is_411_length_required() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let fake = FakeRest::start().await.unwrap();
        fake.add_user("alice", None, None);
        let body = record().to_string();
        let addr = fake.origin().trim_start_matches("http://").to_owned();
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let req = format!(
            "PUT /users/alice/credentials/google HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");
        assert_eq!(fake.credentials("alice"), None);
        assert_eq!(put(&fake, "alice", &record()).await.status(), 200);
    }

    #[tokio::test]
    async fn credentials_put_is_validated() {
        let fake = FakeRest::start().await.unwrap();
        fake.add_user("alice", None, None);

        assert_eq!(put(&fake, "alice", &record()).await.status(), 200);
        assert_eq!(fake.credentials("alice"), Some(record()));

        let mut extra = record();
        extra["refresh_token"] = json!("1//plain");
        let response = put(&fake, "alice", &extra).await;
        assert_eq!(response.status(), 422);
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_credential"
        );

        let mut plain = record();
        plain["refresh_token_enc"] = json!("1//not-encrypted");
        assert_eq!(put(&fake, "alice", &plain).await.status(), 422);

        let mut missing = record();
        missing.as_object_mut().unwrap().remove("updated_at");
        assert_eq!(put(&fake, "alice", &missing).await.status(), 422);

        let mut status = record();
        status["status"] = json!("revoked");
        assert_eq!(put(&fake, "alice", &status).await.status(), 422);

        let not_json = reqwest::Client::new()
            .put(format!("{}/users/alice/credentials/google", fake.origin()))
            .header("content-type", "application/json")
            .body("{nope")
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), 400);

        assert_eq!(put(&fake, "bob", &record()).await.status(), 404);
        // Failed PUTs left the stored record alone.
        assert_eq!(fake.credentials("alice"), Some(record()));

        fake.set_put_status(204);
        assert_eq!(put(&fake, "alice", &record()).await.status(), 204);

        let url = format!("{}/users/alice/credentials/google", fake.origin());
        let client = reqwest::Client::new();
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
        assert_eq!(client.delete(&url).send().await.unwrap().status(), 204);
        assert_eq!(client.delete(&url).send().await.unwrap().status(), 404);
        assert_eq!(client.get(&url).send().await.unwrap().status(), 404);
    }

    #[tokio::test]
    async fn notifications_need_a_matching_idempotency_key() {
        let fake = FakeRest::start().await.unwrap();
        let client = reqwest::Client::new();
        let url = format!("{}/notifications", fake.origin());

        let no_key = client.post(&url).json(&event("e1")).send().await.unwrap();
        assert_eq!(no_key.status(), 400);
        let wrong_key = client
            .post(&url)
            .header("idempotency-key", "e2")
            .json(&event("e1"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_key.status(), 400);
        let mut bad = event("e1");
        bad["specversion"] = json!("0.3");
        let bad_version = client
            .post(&url)
            .header("idempotency-key", "e1")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(bad_version.status(), 400);
        assert!(fake.notifications().is_empty());

        for _ in 0..2 {
            let ok = client
                .post(&url)
                .header("idempotency-key", "e1")
                .header("content-type", "application/cloudevents+json")
                .body(event("e1").to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(ok.status(), 202);
        }
        assert_eq!(fake.notifications().len(), 2);
        assert_eq!(fake.notification_ids(), vec!["e1".to_owned()]);
        assert_eq!(fake.delivery_count("e1"), 2);
        assert_eq!(fake.delivery_count("e2"), 0);

        // A refused id is answered with its status and not counted, until accepted again.
        fake.refuse_notification("e2", 500);
        let send = || {
            client
                .post(&url)
                .header("idempotency-key", "e2")
                .json(&event("e2"))
                .send()
        };
        assert_eq!(send().await.unwrap().status(), 500);
        assert_eq!(fake.delivery_count("e2"), 0);
        fake.accept_notification("e2");
        assert_eq!(send().await.unwrap().status(), 202);
        assert_eq!(fake.delivery_count("e2"), 1);
    }

    #[tokio::test]
    async fn bearer_token_is_enforced_when_set() {
        let fake = FakeRest::start().await.unwrap();
        fake.add_user("alice", None, None);
        fake.require_token(Some("s3cret".into()));
        let client = reqwest::Client::new();
        let url = format!("{}/users/alice", fake.origin());
        assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
        let wrong = client.get(&url).bearer_auth("nope").send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let right = client.get(&url).bearer_auth("s3cret").send().await.unwrap();
        assert_eq!(right.status(), 200);
    }

    #[tokio::test]
    async fn faults_are_consumed_in_order_per_route() {
        let fake = FakeRest::start().await.unwrap();
        fake.add_user("alice", None, None);
        let url = format!("{}/users/alice", fake.origin());
        fake.fail_next(Route::Users, Fault::Status(500), 1);
        fake.fail_next(Route::Users, Fault::Unauthorized, 1);
        fake.fail_next(Route::Notifications, Fault::Status(502), 1);
        fake.fail_next(Route::Any, Fault::Drop, 1);
        fake.fail_next(Route::Users, Fault::Slow(Duration::from_millis(200)), 1);

        let first = reqwest::get(&url).await.unwrap();
        assert_eq!(first.status(), 500);
        assert_eq!(
            first.json::<Value>().await.unwrap(),
            json!({"error": "internal_error"})
        );
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
        let started = std::time::Instant::now();
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(200));
        // The Users queue is empty now; the Any queue drops the connection.
        assert!(reqwest::get(&url).await.is_err());
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
        // The Notifications fault is still pending.
        let notification = reqwest::Client::new()
            .post(format!("{}/notifications", fake.origin()))
            .send()
            .await
            .unwrap();
        assert_eq!(notification.status(), 502);

        fake.set_down(true);
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);
        fake.set_down(false);
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
        assert_eq!(fake.requests().len(), 8);

        fake.shutdown().await;
        assert!(reqwest::get(&url).await.is_err());
    }
}
