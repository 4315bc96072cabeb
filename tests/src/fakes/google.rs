//! Fake Google: the OAuth 2.0 authorization, token and revoke endpoints and the Calendar
//! API v3, all on one loopback origin (configure `google_oauth_origin`,
//! `google_token_origin` and `google_api_origin` with [`FakeGoogle::origin`]).
//!
//! What it enforces, like Google (or stricter where SPEC demands it):
//! - authorization endpoint: registered client and exact redirect URI, `response_type=code`,
//!   valid scopes, no repeated or unknown parameters, and (stricter than Google, because
//!   SPEC requires it) `state` and PKCE with `code_challenge_method=S256`;
//! - token endpoint: form-encoded body, client authentication (form or HTTP Basic), codes
//!   single use, bound to client, redirect URI and PKCE challenge, valid for 10 minutes;
//! - Calendar API: a valid, unexpired, unrevoked bearer access token with a scope that
//!   Google documents for the method (events: `calendar`, `calendar.events`, ...;
//!   `calendarList.list`: `calendar`, `calendar.readonly`, `calendar.calendarlist`,
//!   `calendar.calendarlist.readonly`; `freebusy.query`: `calendar`, `calendar.readonly`,
//!   `calendar.freebusy`, `calendar.events.freebusy`), else 403 `insufficientPermissions`;
//!   event writes need role writer or owner on the calendar (403 `requiredAccessLevel`).
//! - Event writes: a new ETag on every write; `If-Match` on patch, update and delete (412
//!   `conditionNotMet` when stale), `If-None-Match` on get (304); `sendUpdates`
//!   (`all`/`externalOnly`/`none`, else 400), recorded per successful write
//!   ([`FakeGoogle::writes`]); attendee lists replaced whole on patch, `responseStatus`
//!   defaulting to `needsAction`, the read-only `self` (the account) and `organizer` flags
//!   computed, `organizer` `{email, self}` on events; conference data per
//!   `conferenceDataVersion` (see the `conference` module: Meet creation, the same
//!   `requestId` giving the same conference, `hangoutLink`).
//! - `calendarList.list` (`calendar_list` module), `freebusy.query` (`freebusy` module)
//!   and `events.instances` (`recurrence` module) with Google's paging, limits and errors.
//!
//! Accounts: calendars belong to the account a token was issued for. Consent picks the
//! account from [`FakeGoogle::set_consent_account`], else the `login_hint`, else
//! [`DEFAULT_ACCOUNT`]. An account's `primary` calendar has the account as its id. Tokens
//! carry exactly the scopes granted (plus earlier grants with `include_granted_scopes`).
//! Tests add calendars to an account's list with [`FakeGoogle::add_calendar`]; a calendar
//! shared from another account ([`CalendarListEntry::owned_by`]) answers free/busy from
//! the owner's events.
//!
//! Simplifications: `events.list` does not expand recurring events (`singleEvents=true`
//! returns them as is; `events.instances` and free/busy do expand them), all-day dates are
//! read as UTC (every fake calendar is in UTC), zone-less times in their `timeZone`; lists
//! show deleted events as tombstones carrying only `kind`, `etag`, `id` and `status`
//! (Google only guarantees `id`), `events.get` returns them in full with status
//! `cancelled`; instances are not addressable by id (no single-instance exceptions);
//! attendees who are not the organizer may change anything (Google limits them to their
//! own answer); events on a calendar shared from another account are not routed to the
//! owner's copy (only free/busy is); no calendarList sync tokens, no free/busy groups.

mod calendar;
mod calendar_list;
mod conference;
mod freebusy;
#[cfg(test)]
mod meetings_tests;
mod paging;
mod recurrence;
#[cfg(test)]
mod scheduling_tests;
#[cfg(test)]
mod tests;
mod writes;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context as _, anyhow, bail};
use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub use calendar::{
    CALENDAR_TIME_ZONE, CHANNEL_DEFAULT_TTL_SECS, Channel, DEFAULT_MAX_RESULTS, StoredEvent,
};
pub use calendar_list::{AccessRole, CalendarListEntry};
pub use conference::ConferenceOutcome;
pub use freebusy::{
    MAX_CALENDARS as FREEBUSY_MAX_CALENDARS, MAX_WINDOW_DAYS as FREEBUSY_MAX_WINDOW_DAYS,
};
pub use writes::WriteRecord;

use self::calendar::ApiError;
use super::faults::{Admission, FaultControl, Faulty};
use super::server::{Incoming, Outcome, Served, parse_form, send_request};
use super::{ALNUM, Fault, random_string};
use crate::suite_logs;

/// Account used when the authorization request names none and no override is set.
pub const DEFAULT_ACCOUNT: &str = "fake.user@example.com";
/// Default `expires_in` of access tokens, as Google answers.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3599;
/// Authorization codes expire after this long.
pub const CODE_LIFETIME_SECS: i64 = 600;
/// Prefix of Google API scopes.
pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
/// The scope the service asks for by default.
pub const CALENDAR_EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
/// Read-only access to the calendar list (SPEC section 8 default).
pub const CALENDAR_LIST_READONLY_SCOPE: &str =
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly";
/// Free/busy of the user's calendars (SPEC section 8 default).
pub const FREEBUSY_SCOPE: &str = "https://www.googleapis.com/auth/calendar.freebusy";
/// The service's default `google_scopes` (SPEC section 8).
pub const DEFAULT_SCOPES: &[&str] = &[
    CALENDAR_EVENTS_SCOPE,
    CALENDAR_LIST_READONLY_SCOPE,
    FREEBUSY_SCOPE,
];

/// Path of the authorization endpoint.
const AUTH_PATH: &str = "/o/oauth2/v2/auth";

/// Parameters the authorization endpoint understands; anything else is rejected.
const AUTH_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "access_type",
    "prompt",
    "include_granted_scopes",
    "login_hint",
    "hd",
    "nonce",
    "enable_granular_consent",
];

/// Scopes that allow reading events / writing events.
const READ_SCOPES: &[&str] = &[
    "calendar",
    "calendar.readonly",
    "calendar.events",
    "calendar.events.readonly",
    "calendar.events.owned",
    "calendar.events.owned.readonly",
];
const WRITE_SCOPES: &[&str] = &["calendar", "calendar.events", "calendar.events.owned"];
/// Scopes that allow `calendarList.list` / `freebusy.query`, as Google documents them.
const CALENDAR_LIST_SCOPES: &[&str] = &[
    "calendar",
    "calendar.readonly",
    "calendar.calendarlist",
    "calendar.calendarlist.readonly",
];
const FREEBUSY_SCOPES: &[&str] = &[
    "calendar",
    "calendar.readonly",
    "calendar.freebusy",
    "calendar.events.freebusy",
];

/// Endpoint groups of the fake Google, for fault injection. Calendar API routes belong
/// to [`Route::Calendar`] too, so a fault queued there hits any Calendar call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /o/oauth2/v2/auth` (and its approve/deny links).
    Authorize,
    /// `POST /token`
    Token,
    /// `POST /revoke`
    Revoke,
    /// Every request under `/calendar/v3`.
    Calendar,
    EventsList,
    EventsGet,
    EventsInsert,
    /// `PATCH` and `PUT` of an event.
    EventsUpdate,
    EventsDelete,
    /// `GET .../events/{id}/instances`
    EventsInstances,
    /// `GET /calendar/v3/users/me/calendarList`
    CalendarList,
    /// `POST /calendar/v3/freeBusy`
    FreeBusy,
    /// `POST .../events/watch`
    Watch,
    /// `POST /calendar/v3/channels/stop`
    ChannelsStop,
    /// Every request.
    Any,
}

impl Route {
    fn is_calendar(self) -> bool {
        matches!(
            self,
            Route::Calendar
                | Route::EventsList
                | Route::EventsGet
                | Route::EventsInsert
                | Route::EventsUpdate
                | Route::EventsDelete
                | Route::EventsInstances
                | Route::CalendarList
                | Route::FreeBusy
                | Route::Watch
                | Route::ChannelsStop
        )
    }

    fn is_oauth(self) -> bool {
        matches!(self, Route::Authorize | Route::Token | Route::Revoke)
    }
}

/// Result of an approved consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentResult {
    pub code: String,
    pub state: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// The full redirect URL the browser would follow.
    pub redirect: String,
}

/// Tokens of the last successful token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: String,
}

#[derive(Debug)]
struct Client {
    secret: String,
    redirect_uris: Vec<String>,
}

#[derive(Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
    account: String,
    /// Whether the exchange yields a refresh token.
    with_refresh: bool,
    issued_at: DateTime<Utc>,
    used: bool,
}

#[derive(Debug)]
struct AccessToken {
    account: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
    refresh: Option<String>,
    revoked: bool,
}

#[derive(Debug)]
struct RefreshToken {
    account: String,
    /// `None` for tokens seeded by tests: usable by any client.
    client_id: Option<String>,
    scopes: Vec<String>,
    revoked: bool,
}

/// A validated authorization request.
#[derive(Debug)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: String,
    challenge: String,
    offline: bool,
    prompt_consent: bool,
    include_granted: bool,
    login_hint: Option<String>,
}

/// An OAuth error: `{"error", "error_description"}`.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn response(&self) -> Response {
        oauth_error(self.status, self.error, &self.description)
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error, self.description)
    }
}

#[derive(Debug)]
struct State {
    clients: HashMap<String, Client>,
    consent_account: Option<String>,
    omit_refresh_token: bool,
    access_lifetime: i64,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    /// Scopes granted so far per (account, client), for `include_granted_scopes`.
    grants: HashMap<(String, String), BTreeSet<String>>,
    revoked: Vec<String>,
    token_calls: HashMap<String, usize>,
    last_verifier: Option<String>,
    last_challenge: Option<String>,
    last_issued: Option<IssuedTokens>,
    api_calls: usize,
    store: calendar::Store,
    calendar_list: calendar_list::CalendarList,
    /// Successful event writes, in order.
    writes: Vec<WriteRecord>,
}

/// Fake Google on loopback. See the module docs.
pub struct FakeGoogle {
    served: Served<State, Route>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test thread must not poison the fake for the others.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    response
}

/// Google's API error JSON.
fn api_error(code: u16, reason: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reason {
        "authError" => return unauthenticated(),
        "insufficientPermissions" => {
            return json_response(
                status,
                &json!({"error": {
                    "code": code,
                    "message": message,
                    "errors": [{"message": "Insufficient Permission", "domain": "global",
                                "reason": reason}],
                    "status": "PERMISSION_DENIED",
                }}),
            );
        }
        _ => {}
    }
    let domain = match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded" => "usageLimits",
        _ => "global",
    };
    json_response(
        status,
        &json!({"error": {
            "code": code,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
        }}),
    )
}

fn api_failure(error: &ApiError) -> Response {
    api_error(error.code, error.reason, &error.message)
}

/// 401 for a missing, unknown, expired or revoked access token.
fn unauthenticated() -> Response {
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access \
                        token, login cookie or other valid authentication credential. See \
                        https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "errors": [{
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }],
            "status": "UNAUTHENTICATED",
        }}),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    response
}

/// Error body for an injected status on the Calendar API (or an unknown route).
fn api_status(code: u16) -> Response {
    let (reason, message) = match code {
        400 => ("badRequest", "Bad Request"),
        401 => ("authError", "Invalid Credentials"),
        403 => ("forbidden", "Forbidden"),
        404 => ("notFound", "Not Found"),
        409 => ("conflict", "Conflict"),
        410 => ("deleted", "Resource has been deleted"),
        412 => ("conditionNotMet", "Precondition Failed"),
        429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
        500..=599 => ("backendError", "Backend Error"),
        _ => ("unknown", "Error"),
    };
    api_error(code, reason, message)
}

/// What a fault looks like on a route: OAuth endpoints answer OAuth errors, the API its
/// JSON errors.
fn fault_response(route: Option<Route>, fault: &Fault) -> Response {
    let oauth = route.is_some_and(Route::is_oauth);
    match fault {
        Fault::Status(code) if oauth => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (error, description) = match code {
                400 => ("invalid_request", "Bad Request"),
                401 => ("invalid_client", "Unauthorized"),
                503 => ("temporarily_unavailable", "Service Unavailable"),
                _ => ("server_error", "Internal Server Error"),
            };
            oauth_error(status, error, description)
        }
        Fault::Status(code) => api_status(*code),
        Fault::RateLimit403 => api_error(403, "rateLimitExceeded", "Rate Limit Exceeded"),
        Fault::Unauthorized if oauth => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized")
        }
        Fault::Unauthorized => unauthenticated(),
        Fault::Gone => {
            let error = ApiError::full_sync_required();
            api_failure(&error)
        }
        // Handled before a response is built.
        Fault::Slow(_) | Fault::Drop | Fault::CutShort => api_status(500),
    }
}

/// Route of a request from its method and raw path.
fn classify(req: &Incoming) -> Option<Route> {
    let raw: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let method = &req.method;
    let route = match raw.as_slice() {
        ["o", "oauth2", "v2", "auth"] | ["o", "oauth2", "v2", "auth", "approve" | "deny"] => {
            Route::Authorize
        }
        ["token"] => Route::Token,
        ["revoke"] => Route::Revoke,
        ["calendar", "v3", "calendars", _, "events"] if method == Method::GET => Route::EventsList,
        ["calendar", "v3", "calendars", _, "events"] if method == Method::POST => {
            Route::EventsInsert
        }
        ["calendar", "v3", "calendars", _, "events", "watch"] if method == Method::POST => {
            Route::Watch
        }
        ["calendar", "v3", "calendars", _, "events", _] => match *method {
            Method::GET => Route::EventsGet,
            Method::PATCH | Method::PUT => Route::EventsUpdate,
            Method::DELETE => Route::EventsDelete,
            _ => Route::Calendar,
        },
        ["calendar", "v3", "channels", "stop"] => Route::ChannelsStop,
        ["calendar", "v3", "calendars", _, "events", _, "instances"] => Route::EventsInstances,
        ["calendar", "v3", "users", "me", "calendarList"] => Route::CalendarList,
        ["calendar", "v3", "freeBusy"] => Route::FreeBusy,
        ["calendar", ..] => Route::Calendar,
        _ => return None,
    };
    Some(route)
}

/// Routes whose fault queues a request consumes from, most specific first.
fn fault_chain(route: Option<Route>) -> Vec<Route> {
    let mut chain = Vec::new();
    if let Some(route) = route {
        chain.push(route);
        if route.is_calendar() && route != Route::Calendar {
            chain.push(Route::Calendar);
        }
    }
    chain.push(Route::Any);
    chain
}

/// Google's transient errors, for chaos (OAuth errors on the OAuth endpoints).
const TRANSIENT: &[Fault] = &[
    Fault::Status(500),
    Fault::Status(503),
    Fault::Status(429),
    Fault::RateLimit403,
];

impl Faulty for FakeGoogle {
    type Route = Route;

    fn control(&self) -> &FaultControl<Route> {
        self.served.control()
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    control: Arc<FaultControl<Route>>,
    req: Incoming,
) -> Outcome {
    let route = classify(&req);
    {
        let mut s = lock(&state);
        if route.is_some_and(Route::is_calendar) {
            s.api_calls += 1;
        }
        if route == Some(Route::Token) {
            let body = String::from_utf8_lossy(&req.body);
            let grant = parse_form(&body)
                .into_iter()
                .find(|(k, _)| k == "grant_type")
                .map(|(_, v)| v)
                .unwrap_or_default();
            *s.token_calls.entry(grant).or_default() += 1;
        }
    }
    match control.admit(&req, &fault_chain(route)).await {
        Admission::Handle => Outcome::Respond(lock(&state).dispatch(&req)),
        Admission::Down => Outcome::Respond(fault_response(route, &Fault::Status(503))),
        Admission::Fail(fault) => Outcome::Respond(fault_response(route, &fault)),
        Admission::Drop => Outcome::Drop,
        Admission::CutShort => {
            let resp = lock(&state).dispatch(&req);
            Outcome::Respond(super::server::cut_short(resp).await)
        }
    }
}

/// Media type of a request without parameters, lowercased.
fn media_type(req: &Incoming) -> Option<String> {
    req.header("content-type")
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
}

/// The single value of each parameter; repeated parameters are an error, as at Google.
fn unique_params(pairs: &[(String, String)]) -> Result<HashMap<&str, &str>, String> {
    let mut map = HashMap::new();
    for (key, value) in pairs {
        if map.insert(key.as_str(), value.as_str()).is_some() {
            return Err(format!("Parameter not allowed to be repeated: {key}"));
        }
    }
    Ok(map)
}

fn valid_scope(scope: &str) -> bool {
    matches!(scope, "openid" | "email" | "profile")
        || scope.strip_prefix(SCOPE_PREFIX).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        })
}

/// PKCE verifier syntax (RFC 7636): 43..128 of `[A-Za-z0-9-._~]`.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// BASE64URL-NOPAD(SHA256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub(crate) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn has_scope(scopes: &[String], allowed: &[&str]) -> bool {
    scopes.iter().any(|s| {
        s.strip_prefix(SCOPE_PREFIX)
            .is_some_and(|rest| allowed.contains(&rest))
    })
}

impl State {
    fn dispatch(&mut self, req: &Incoming) -> Response {
        let Some(segments) = req.segments() else {
            return api_status(400);
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["o", "oauth2", "v2", "auth"] if req.method == Method::GET => self.authorize_page(req),
            ["o", "oauth2", "v2", "auth", "approve"] if req.method == Method::GET => {
                self.answer_consent(req, true)
            }
            ["o", "oauth2", "v2", "auth", "deny"] if req.method == Method::GET => {
                self.answer_consent(req, false)
            }
            ["token"] | ["revoke"] if req.method != Method::POST => {
                empty(StatusCode::METHOD_NOT_ALLOWED)
            }
            ["token"] => self.token(req).unwrap_or_else(|e| e.response()),
            ["revoke"] => self.revoke(req).unwrap_or_else(|e| e.response()),
            ["calendar", "v3", rest @ ..] => self.calendar_api(req, rest),
            ["o", "oauth2", "v2", "auth", ..] => empty(StatusCode::METHOD_NOT_ALLOWED),
            _ => api_status(404),
        }
    }

    // ----- authorization endpoint -------------------------------------------------

    fn parse_auth_request(&self, pairs: &[(String, String)]) -> Result<AuthRequest, OAuthError> {
        let params = unique_params(pairs).map_err(OAuthError::invalid_request)?;
        let get = |name: &str| params.get(name).copied().filter(|v| !v.is_empty());
        let missing =
            |name: &str| OAuthError::invalid_request(format!("Missing required parameter: {name}"));
        if let Some(unknown) = params.keys().find(|k| !AUTH_PARAMS.contains(k)) {
            return Err(OAuthError::invalid_request(format!(
                "Parameter not allowed for this message type: {unknown}"
            )));
        }
        let client_id = get("client_id").ok_or_else(|| missing("client_id"))?;
        let Some(client) = self.clients.get(client_id) else {
            return Err(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            ));
        };
        let redirect_uri = get("redirect_uri").ok_or_else(|| missing("redirect_uri"))?;
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                format!(
                    "The redirect URI in the request, {redirect_uri}, does not match the ones authorized for the OAuth client."
                ),
            ));
        }
        match get("response_type") {
            None => return Err(missing("response_type")),
            Some("code") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_response_type",
                    format!("Invalid response_type: {other}"),
                ));
            }
        }
        let scope = get("scope").ok_or_else(|| missing("scope"))?;
        let scopes: Vec<String> = scope.split(' ').map(str::to_owned).collect();
        let invalid: Vec<&String> = scopes.iter().filter(|s| !valid_scope(s)).collect();
        if !invalid.is_empty() {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("Some requested scopes were invalid. {{invalid={invalid:?}}}"),
            ));
        }
        let state = get("state").ok_or_else(|| missing("state"))?;
        let challenge = get("code_challenge").ok_or_else(|| missing("code_challenge"))?;
        match get("code_challenge_method") {
            None => return Err(missing("code_challenge_method")),
            Some("S256") => {}
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "Invalid code_challenge_method: {other} (the service must use S256)"
                )));
            }
        }
        // An S256 challenge is 32 bytes in unpadded base64url: exactly 43 characters.
        let challenge_ok = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !challenge_ok {
            return Err(OAuthError::invalid_request("Invalid code_challenge."));
        }
        let offline = match get("access_type") {
            None | Some("online") => false,
            Some("offline") => true,
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "Invalid access_type: {other}"
                )));
            }
        };
        let prompts: Vec<&str> = get("prompt")
            .map(|p| p.split(' ').collect())
            .unwrap_or_default();
        if prompts
            .iter()
            .any(|p| !matches!(*p, "none" | "consent" | "select_account"))
            || (prompts.contains(&"none") && prompts.len() > 1)
        {
            return Err(OAuthError::invalid_request("Invalid prompt."));
        }
        let include_granted = match get("include_granted_scopes") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "Invalid include_granted_scopes: {other}"
                )));
            }
        };
        Ok(AuthRequest {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: state.to_owned(),
            challenge: challenge.to_owned(),
            offline,
            prompt_consent: prompts.contains(&"consent"),
            include_granted,
            login_hint: get("login_hint").map(str::to_owned),
        })
    }

    /// Issues a code for an approved request and returns the consent result.
    fn approve(&mut self, request: AuthRequest) -> Result<ConsentResult, OAuthError> {
        let account = self
            .consent_account
            .clone()
            .or_else(|| request.login_hint.clone())
            .unwrap_or_else(|| DEFAULT_ACCOUNT.to_owned());
        let granted = self
            .grants
            .entry((account.clone(), request.client_id.clone()))
            .or_default();
        let mut scopes: BTreeSet<String> = request.scopes.iter().cloned().collect();
        if request.include_granted {
            scopes.extend(granted.iter().cloned());
        }
        granted.extend(request.scopes.iter().cloned());
        let scopes: Vec<String> = scopes.into_iter().collect();
        let scope = scopes.join(" ");

        let code = format!("4/0A{}", random_string(ALNUM, 70));
        suite_logs::record_secret(suite_logs::AUTHORIZATION_CODE, &code);
        self.last_challenge = Some(request.challenge.clone());
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: request.client_id,
                redirect_uri: request.redirect_uri.clone(),
                challenge: request.challenge,
                scopes,
                account,
                with_refresh: request.offline && !self.omit_refresh_token,
                issued_at: Utc::now(),
                used: false,
            },
        );
        let mut redirect = url::Url::parse(&request.redirect_uri).map_err(|_| {
            OAuthError::invalid_request("The registered redirect URI is not a URL.")
        })?;
        {
            let mut query = redirect.query_pairs_mut();
            query
                .append_pair("state", &request.state)
                .append_pair("code", &code)
                .append_pair("scope", &scope)
                .append_pair("authuser", "0");
            if request.prompt_consent {
                query.append_pair("prompt", "consent");
            }
        }
        Ok(ConsentResult {
            code,
            state: request.state,
            scope,
            redirect: redirect.into(),
        })
    }

    /// The redirect of a denied consent.
    fn deny(request: &AuthRequest) -> Result<String, OAuthError> {
        let mut redirect = url::Url::parse(&request.redirect_uri).map_err(|_| {
            OAuthError::invalid_request("The registered redirect URI is not a URL.")
        })?;
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &request.state);
        Ok(redirect.into())
    }

    fn authorize_page(&mut self, req: &Incoming) -> Response {
        let request = match self.parse_auth_request(&req.query_pairs()) {
            Ok(r) => r,
            Err(e) => return e.response(),
        };
        let query = html_escape(req.query.as_deref().unwrap_or_default());
        let page = format!(
            "<!doctype html><html><head><title>Sign in - Google Accounts</title></head><body>\
             <h1>{client} wants to access your Google Account</h1>\
             <p>Scopes: {scopes}</p>\
             <a id=\"approve\" href=\"{AUTH_PATH}/approve?{query}\">Allow</a> \
             <a id=\"deny\" href=\"{AUTH_PATH}/deny?{query}\">Cancel</a>\
             </body></html>",
            client = html_escape(&request.client_id),
            scopes = html_escape(&request.scopes.join(" ")),
        );
        let mut response = Response::new(Body::from(page));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }

    fn answer_consent(&mut self, req: &Incoming, approve: bool) -> Response {
        let result = self
            .parse_auth_request(&req.query_pairs())
            .and_then(|request| {
                if approve {
                    self.approve(request).map(|c| c.redirect)
                } else {
                    Self::deny(&request)
                }
            });
        match result.and_then(|location| {
            HeaderValue::from_str(&location)
                .map_err(|_| OAuthError::invalid_request("Unusable redirect URI."))
        }) {
            Ok(location) => {
                let mut response = empty(StatusCode::FOUND);
                response.headers_mut().insert(header::LOCATION, location);
                response
            }
            Err(e) => e.response(),
        }
    }

    // ----- token endpoint ---------------------------------------------------------

    /// Form parameters of a token or revoke request.
    fn form(req: &Incoming) -> Result<Vec<(String, String)>, OAuthError> {
        if media_type(req).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        let body = std::str::from_utf8(&req.body)
            .map_err(|_| OAuthError::invalid_request("Body is not UTF-8"))?;
        Ok(parse_form(body))
    }

    /// Authenticates the client (form fields or HTTP Basic); returns its id.
    fn authenticate_client(
        &self,
        req: &Incoming,
        params: &HashMap<&str, &str>,
    ) -> Result<String, OAuthError> {
        let unauthorized =
            || OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
        let basic = match req.header("authorization") {
            Some(value) => {
                let (scheme, encoded) = value.split_once(' ').ok_or_else(unauthorized)?;
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(unauthorized());
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(unauthorized)?;
                let (id, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
                // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
                let unescape = |s: &str| -> String {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                Some((unescape(id), unescape(secret)))
            }
            None => None,
        };
        let form_id = params.get("client_id").copied();
        let form_secret = params.get("client_secret").copied();
        let (client_id, secret) = match (&basic, form_id) {
            (Some((id, secret)), form_id) => {
                if form_id.is_some_and(|f| f != id) || form_secret.is_some_and(|f| f != secret) {
                    return Err(OAuthError::invalid_request(
                        "Client credentials in the body and the header disagree.",
                    ));
                }
                (id.clone(), Some(secret.clone()))
            }
            (None, Some(id)) => (id.to_owned(), form_secret.map(str::to_owned)),
            (None, None) => {
                return Err(OAuthError::invalid_request(
                    "Could not determine client ID from request.",
                ));
            }
        };
        let Some(client) = self.clients.get(&client_id) else {
            return Err(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            ));
        };
        if secret.as_deref() != Some(client.secret.as_str()) {
            return Err(unauthorized());
        }
        Ok(client_id)
    }

    fn token(&mut self, req: &Incoming) -> Result<Response, OAuthError> {
        let pairs = Self::form(req)?;
        let params = unique_params(&pairs).map_err(OAuthError::invalid_request)?;
        let client_id = self.authenticate_client(req, &params)?;
        match params.get("grant_type").copied() {
            None | Some("") => Err(OAuthError::invalid_request(
                "Missing required parameter: grant_type",
            )),
            Some("authorization_code") => self.exchange_code(&client_id, &params),
            Some("refresh_token") => self.refresh_grant(&client_id, &params),
            Some(other) => Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("Invalid grant_type: {other}"),
            )),
        }
    }

    fn exchange_code(
        &mut self,
        client_id: &str,
        params: &HashMap<&str, &str>,
    ) -> Result<Response, OAuthError> {
        let required = |name: &str| {
            params
                .get(name)
                .copied()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    OAuthError::invalid_request(format!("Missing required parameter: {name}"))
                })
        };
        let code = required("code")?;
        let redirect_uri = required("redirect_uri")?;
        let verifier = params.get("code_verifier").copied();
        if let Some(verifier) = verifier {
            suite_logs::record_secret(suite_logs::PKCE_VERIFIER, verifier);
            self.last_verifier = Some(verifier.to_owned());
        }
        let bad = || OAuthError::invalid_grant("Bad Request");
        let grant = self.codes.get_mut(code).ok_or_else(bad)?;
        let expired = Utc::now() - grant.issued_at > Duration::seconds(CODE_LIFETIME_SECS);
        if grant.used || expired || grant.client_id != client_id {
            return Err(bad());
        }
        if grant.redirect_uri != redirect_uri {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                "Bad Request",
            ));
        }
        let Some(verifier) = verifier else {
            return Err(OAuthError::invalid_grant("Missing code verifier."));
        };
        // A failed verification leaves the code usable (Google does not document either).
        if !valid_verifier(verifier) || pkce_challenge(verifier) != grant.challenge {
            return Err(OAuthError::invalid_grant("Invalid code verifier."));
        }
        grant.used = true;
        let account = grant.account.clone();
        let scopes = grant.scopes.clone();
        let refresh = grant.with_refresh.then(|| {
            let token = format!("1//0{}", random_string(ALNUM, 100));
            suite_logs::record_secret(suite_logs::REFRESH_TOKEN, &token);
            self.refresh.insert(
                token.clone(),
                RefreshToken {
                    account: account.clone(),
                    client_id: Some(client_id.to_owned()),
                    scopes: scopes.clone(),
                    revoked: false,
                },
            );
            token
        });
        Ok(self.token_response(&account, scopes, refresh, true))
    }

    fn refresh_grant(
        &mut self,
        client_id: &str,
        params: &HashMap<&str, &str>,
    ) -> Result<Response, OAuthError> {
        let Some(token) = params
            .get("refresh_token")
            .copied()
            .filter(|t| !t.is_empty())
        else {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: refresh_token",
            ));
        };
        let record = self
            .refresh
            .get(token)
            .filter(|r| !r.revoked)
            .ok_or_else(|| OAuthError::invalid_grant("Token has been expired or revoked."))?;
        if record.client_id.as_deref().is_some_and(|c| c != client_id) {
            return Err(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Unauthorized",
            ));
        }
        let scopes = match params.get("scope").copied().filter(|s| !s.is_empty()) {
            None => record.scopes.clone(),
            Some(requested) => {
                let requested: Vec<String> = requested.split(' ').map(str::to_owned).collect();
                if !requested.iter().all(|s| record.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "Bad Request",
                    ));
                }
                requested
            }
        };
        let account = record.account.clone();
        Ok(self.token_response(&account, scopes, Some(token.to_owned()), false))
    }

    /// Issues an access token (tied to `refresh`) and renders Google's token response.
    /// The refresh token is included only when it is new (`include_refresh`).
    fn token_response(
        &mut self,
        account: &str,
        scopes: Vec<String>,
        refresh: Option<String>,
        include_refresh: bool,
    ) -> Response {
        let access = self.issue_access(account, scopes.clone(), refresh.clone());
        let scope = scopes.join(" ");
        let mut body = json!({
            "access_token": access,
            "expires_in": self.access_lifetime,
            "scope": scope,
            "token_type": "Bearer",
        });
        let new_refresh = refresh.filter(|_| include_refresh);
        if let Some(refresh) = &new_refresh {
            body["refresh_token"] = json!(refresh);
        }
        self.last_issued = Some(IssuedTokens {
            access_token: access,
            refresh_token: new_refresh,
            scope,
        });
        let mut response = json_response(StatusCode::OK, &body);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
        );
        response
    }

    fn issue_access(
        &mut self,
        account: &str,
        scopes: Vec<String>,
        refresh: Option<String>,
    ) -> String {
        let token = format!("ya29.a0{}", random_string(ALNUM, 120));
        suite_logs::record_secret(suite_logs::ACCESS_TOKEN, &token);
        self.access.insert(
            token.clone(),
            AccessToken {
                account: account.to_owned(),
                scopes,
                expires_at: Utc::now() + Duration::seconds(self.access_lifetime),
                refresh,
                revoked: false,
            },
        );
        token
    }

    fn issue_refresh(&mut self, account: &str, scopes: Vec<String>) -> (String, String) {
        let refresh = format!("1//0{}", random_string(ALNUM, 100));
        suite_logs::record_secret(suite_logs::REFRESH_TOKEN, &refresh);
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                account: account.to_owned(),
                client_id: None,
                scopes: scopes.clone(),
                revoked: false,
            },
        );
        let access = self.issue_access(account, scopes, Some(refresh.clone()));
        (access, refresh)
    }

    /// Revokes a refresh token and every access token issued from it.
    fn revoke_refresh(&mut self, token: &str) {
        if let Some(record) = self.refresh.get_mut(token) {
            record.revoked = true;
        }
        for access in self.access.values_mut() {
            if access.refresh.as_deref() == Some(token) {
                access.revoked = true;
            }
        }
    }

    // ----- revoke endpoint --------------------------------------------------------

    fn revoke(&mut self, req: &Incoming) -> Result<Response, OAuthError> {
        let mut pairs = req.query_pairs();
        if !req.body.is_empty() {
            pairs.extend(Self::form(req)?);
        }
        let params = unique_params(&pairs).map_err(OAuthError::invalid_request)?;
        let Some(token) = params.get("token").copied().filter(|t| !t.is_empty()) else {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: token",
            ));
        };
        let invalid = || {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "Token expired or revoked",
            )
        };
        if self.refresh.get(token).is_some_and(|r| !r.revoked) {
            self.revoke_refresh(token);
        } else if let Some(access) = self
            .access
            .get_mut(token)
            .filter(|a| !a.revoked && a.expires_at > Utc::now())
        {
            // Revoking an access token also revokes the refresh token behind it.
            access.revoked = true;
            if let Some(refresh) = access.refresh.clone() {
                self.revoke_refresh(&refresh);
            }
        } else {
            return Err(invalid());
        }
        self.revoked.push(token.to_owned());
        Ok(json_response(StatusCode::OK, &json!({})))
    }

    // ----- Calendar API -----------------------------------------------------------

    /// The account and scopes of the request's bearer token.
    fn bearer(&self, req: &Incoming) -> Option<(String, Vec<String>)> {
        let (scheme, token) = req.header("authorization")?.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let access = self.access.get(token.trim())?;
        (!access.revoked && access.expires_at > Utc::now())
            .then(|| (access.account.clone(), access.scopes.clone()))
    }

    fn calendar_api(&mut self, req: &Incoming, path: &[&str]) -> Response {
        let Some((account, scopes)) = self.bearer(req) else {
            return unauthenticated();
        };
        let params = req.query_pairs();
        let insufficient = || {
            api_failure(&ApiError::new(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            ))
        };
        let can_read = has_scope(&scopes, READ_SCOPES);
        let can_write = has_scope(&scopes, WRITE_SCOPES);
        let json_body = || -> Result<Value, ApiError> {
            if media_type(req).as_deref() != Some("application/json") {
                return Err(ApiError::new(400, "parseError", "Parse Error"));
            }
            serde_json::from_slice(&req.body)
                .map_err(|_| ApiError::new(400, "parseError", "Parse Error"))
        };
        let store = &mut self.store;
        let method = &req.method;
        let result: Result<Option<Value>, ApiError> = match path {
            ["calendars", calendar, "events"] if method == Method::GET => {
                if !can_read {
                    return insufficient();
                }
                store.list(&account, calendar, &params).map(Some)
            }
            ["calendars", calendar, "events"] if method == Method::POST => {
                if !can_write {
                    return insufficient();
                }
                self.write_event(req, &account, calendar, None, &params, json_body)
            }
            ["calendars", calendar, "events", event_id, "instances"] if method == Method::GET => {
                if !can_read {
                    return insufficient();
                }
                let summary = if *calendar == "primary" {
                    account.as_str()
                } else {
                    calendar
                };
                store.get(&account, calendar, event_id).and_then(|parent| {
                    let parent = parent.as_object().cloned().unwrap_or_default();
                    recurrence::instances(&parent, &params, summary).map(Some)
                })
            }
            ["users", "me", "calendarList"] if method == Method::GET => {
                if !has_scope(&scopes, CALENDAR_LIST_SCOPES) {
                    return insufficient();
                }
                let ids = store.calendar_ids(&account);
                self.calendar_list.list(&account, &ids, &params).map(Some)
            }
            ["freeBusy"] if method == Method::POST => {
                if !has_scope(&scopes, FREEBUSY_SCOPES) {
                    return insufficient();
                }
                let list = &self.calendar_list;
                json_body()
                    .and_then(|body| {
                        freebusy::query(&body, |id| {
                            let shared = list.entry(&account, id).and_then(|e| e.owner.clone());
                            let owner = shared.unwrap_or_else(|| account.clone());
                            let events = store.events_of(&owner, id)?;
                            Some(freebusy::CalendarEvents { owner, events })
                        })
                    })
                    .map(Some)
            }
            ["calendars", calendar, "events", "watch"] if method == Method::POST => {
                if !can_read {
                    return insufficient();
                }
                json_body()
                    .and_then(|body| store.watch(&account, calendar, &body))
                    .map(Some)
            }
            ["calendars", calendar, "events", event_id] => match *method {
                Method::GET if can_read => {
                    let event = store.get(&account, calendar, event_id);
                    let etag = event.as_ref().ok().and_then(|e| e["etag"].as_str());
                    if writes::not_modified(req.header("if-none-match"), etag) {
                        return empty(StatusCode::NOT_MODIFIED);
                    }
                    event.map(Some)
                }
                Method::PATCH | Method::PUT | Method::DELETE if can_write => {
                    self.write_event(req, &account, calendar, Some(event_id), &params, json_body)
                }
                Method::GET | Method::PATCH | Method::PUT | Method::DELETE => {
                    return insufficient();
                }
                _ => Err(ApiError::new(
                    405,
                    "httpMethodNotAllowed",
                    "Method Not Allowed",
                )),
            },
            ["channels", "stop"] if method == Method::POST => {
                if !can_read {
                    return insufficient();
                }
                json_body()
                    .and_then(|body| store.stop(&account, &body))
                    .map(|()| None)
            }
            _ => Err(ApiError::not_found()),
        };
        match result {
            Ok(Some(body)) => json_response(StatusCode::OK, &body),
            Ok(None) => empty(StatusCode::NO_CONTENT),
            Err(error) => api_failure(&error),
        }
    }
}

impl FakeGoogle {
    /// Starts the fake on a free loopback port. No client is registered yet.
    pub async fn start() -> anyhow::Result<Self> {
        let state = State {
            clients: HashMap::new(),
            consent_account: None,
            omit_refresh_token: false,
            access_lifetime: ACCESS_TOKEN_LIFETIME_SECS,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            grants: HashMap::new(),
            revoked: Vec::new(),
            token_calls: HashMap::new(),
            last_verifier: None,
            last_challenge: None,
            last_issued: None,
            api_calls: 0,
            store: calendar::Store::default(),
            calendar_list: calendar_list::CalendarList::default(),
            writes: Vec::new(),
        };
        let served = Served::start(state, TRANSIENT, handle).await?;
        Ok(FakeGoogle { served })
    }

    /// `http://127.0.0.1:PORT`, the origin of every endpoint.
    pub fn origin(&self) -> String {
        self.served.origin()
    }

    /// Stops the server (connections are then refused). Dropping the fake does the same.
    pub async fn shutdown(&self) {
        self.served.shutdown().await;
    }

    // ----- requests and faults: see [`Faulty`] ---------------------------------------

    /// Number of requests received under `/calendar/v3` (faulted ones included).
    pub fn api_calls(&self) -> usize {
        lock(self.served.state()).api_calls
    }

    // ----- OAuth ------------------------------------------------------------------

    /// Registers an OAuth client, or adds a redirect URI to it (the secret is replaced).
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        suite_logs::record_secret(suite_logs::CLIENT_SECRET, client_secret);
        let mut state = lock(self.served.state());
        let client = state
            .clients
            .entry(client_id.to_owned())
            .or_insert_with(|| Client {
                secret: client_secret.to_owned(),
                redirect_uris: Vec::new(),
            });
        client.secret = client_secret.to_owned();
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            client.redirect_uris.push(redirect_uri.to_owned());
        }
    }

    /// The account that approves the next consents (`None`: `login_hint`, else
    /// [`DEFAULT_ACCOUNT`]).
    pub fn set_consent_account(&self, account: Option<&str>) {
        lock(self.served.state()).consent_account = account.map(str::to_owned);
    }

    /// While set, codes from new consents exchange without a refresh token, as Google
    /// answers a re-consent without `prompt=consent`. Without `access_type=offline` no
    /// refresh token is issued anyway.
    pub fn set_omit_refresh_token(&self, omit: bool) {
        lock(self.served.state()).omit_refresh_token = omit;
    }

    fn auth_request_of(&self, auth_url: &str) -> anyhow::Result<Vec<(String, String)>> {
        let url = url::Url::parse(auth_url).context("auth URL is not a URL")?;
        let origin = url.origin().ascii_serialization();
        if origin != self.origin() || url.path() != AUTH_PATH {
            bail!(
                "auth URL does not point at the fake's authorization endpoint {}{AUTH_PATH}: {origin}{}",
                self.origin(),
                url.path()
            );
        }
        Ok(url.query().map(parse_form).unwrap_or_default())
    }

    /// Approves an authorization URL as a user would, with the same validation as the
    /// endpoint, and returns the code and the redirect URL.
    pub fn consent(&self, auth_url: &str) -> anyhow::Result<ConsentResult> {
        let pairs = self.auth_request_of(auth_url)?;
        let mut state = lock(self.served.state());
        let request = state
            .parse_auth_request(&pairs)
            .map_err(|e| anyhow!("authorization request rejected: {e}"))?;
        state
            .approve(request)
            .map_err(|e| anyhow!("authorization request rejected: {e}"))
    }

    /// Denies an authorization URL; returns the redirect URL with `error=access_denied`.
    pub fn deny(&self, auth_url: &str) -> anyhow::Result<String> {
        let pairs = self.auth_request_of(auth_url)?;
        let state = lock(self.served.state());
        let request = state
            .parse_auth_request(&pairs)
            .map_err(|e| anyhow!("authorization request rejected: {e}"))?;
        State::deny(&request).map_err(|e| anyhow!("{e}"))
    }

    /// Makes every outstanding authorization code expired.
    pub fn expire_codes(&self) {
        let mut state = lock(self.served.state());
        let past = Utc::now() - Duration::seconds(CODE_LIFETIME_SECS + 1);
        for code in state.codes.values_mut() {
            code.issued_at = past;
        }
    }

    /// Token endpoint requests received with this `grant_type` (failed ones included).
    pub fn token_calls(&self, grant_type: &str) -> usize {
        lock(self.served.state())
            .token_calls
            .get(grant_type)
            .copied()
            .unwrap_or(0)
    }

    /// The `code_verifier` of the last code exchange.
    pub fn last_code_verifier(&self) -> Option<String> {
        lock(self.served.state()).last_verifier.clone()
    }

    /// The `code_challenge` of the last approved consent.
    pub fn last_code_challenge(&self) -> Option<String> {
        lock(self.served.state()).last_challenge.clone()
    }

    /// Tokens of the last successful token response.
    pub fn last_issued_tokens(&self) -> Option<IssuedTokens> {
        lock(self.served.state()).last_issued.clone()
    }

    /// Lifetime (`expires_in`) of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, secs: i64) {
        lock(self.served.state()).access_lifetime = secs;
    }

    /// Seeds an access and refresh token for [`DEFAULT_ACCOUNT`] (usable by any client).
    pub fn issue_tokens(&self, scopes: &[&str]) -> (String, String) {
        self.issue_tokens_for(DEFAULT_ACCOUNT, scopes)
    }

    /// Seeds an access and refresh token for an account (usable by any client).
    pub fn issue_tokens_for(&self, account: &str, scopes: &[&str]) -> (String, String) {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        lock(self.served.state()).issue_refresh(account, scopes)
    }

    /// Makes an access token expired (the API then answers 401).
    pub fn expire_access_token(&self, token: &str) {
        if let Some(access) = lock(self.served.state()).access.get_mut(token) {
            access.expires_at = Utc::now() - Duration::seconds(1);
        }
    }

    /// Revokes a refresh token and its access tokens, as a user would in their account.
    pub fn revoke_refresh_token(&self, token: &str) {
        lock(self.served.state()).revoke_refresh(token);
    }

    /// Whether an access token is currently accepted by the API.
    pub fn access_token_valid(&self, token: &str) -> bool {
        lock(self.served.state())
            .access
            .get(token)
            .is_some_and(|a| !a.revoked && a.expires_at > Utc::now())
    }

    /// Whether a refresh token is known and not revoked.
    pub fn refresh_token_valid(&self, token: &str) -> bool {
        lock(self.served.state())
            .refresh
            .get(token)
            .is_some_and(|r| !r.revoked)
    }

    /// Tokens revoked through `POST /revoke`, in order.
    pub fn revoked(&self) -> Vec<String> {
        lock(self.served.state()).revoked.clone()
    }

    // ----- Calendar ---------------------------------------------------------------

    /// Makes every sync token issued so far answer 410 `fullSyncRequired`.
    pub fn invalidate_sync_tokens(&self) {
        lock(self.served.state()).store.invalidate_sync_tokens();
    }

    /// Creates an empty (secondary) calendar for an account.
    pub fn create_calendar(&self, account: &str, calendar_id: &str) {
        lock(self.served.state())
            .store
            .create_calendar(account, calendar_id);
    }

    /// Adds (or replaces) a calendar on an account's calendar list. An own calendar (no
    /// [`CalendarListEntry::owned_by`]) is created in the event store too, so events can
    /// be written to it (through the API only with role writer or owner).
    pub fn add_calendar(&self, account: &str, entry: CalendarListEntry) {
        let mut state = lock(self.served.state());
        if entry.owner.is_none() {
            state.store.create_calendar(account, &entry.id);
        }
        state.calendar_list.add(account, entry);
    }

    /// Marks an entry added with [`add_calendar`](Self::add_calendar) deleted: listed
    /// only with `showDeleted=true`. False if there is no such entry.
    pub fn remove_calendar(&self, account: &str, calendar_id: &str) -> bool {
        lock(self.served.state())
            .calendar_list
            .remove(account, calendar_id)
    }

    /// The status of conferences created from now on (default `Success`).
    pub fn set_conference_outcome(&self, outcome: ConferenceOutcome) {
        lock(self.served.state()).store.conferences.outcome = outcome;
    }

    /// Completes every pending conference, as Google does a moment later: the events
    /// carrying one get the full conference, `hangoutLink` and a new ETag. Returns the
    /// number of events changed.
    pub fn complete_pending_conferences(&self) -> usize {
        let mut state = lock(self.served.state());
        let done = state.store.conferences.complete_pending();
        state.store.update_events(|account, calendar, event| {
            let key = conference::pending_request(event)
                .map(|r| (account.to_owned(), calendar.to_owned(), r.to_owned()));
            match key.and_then(|k| done.get(&k)) {
                Some(conference) => {
                    event.insert("conferenceData".into(), conference.clone());
                    true
                }
                None => false,
            }
        })
    }

    /// Conferences created so far (a repeated `requestId` creates none).
    pub fn conferences_created(&self) -> usize {
        lock(self.served.state()).store.conferences.created
    }

    /// Every successful event write through the API, in order.
    pub fn writes(&self) -> Vec<WriteRecord> {
        lock(self.served.state()).writes.clone()
    }

    /// `sendUpdates` of each successful write to one event, in order (`None`: absent).
    pub fn send_updates_of(&self, event_id: &str) -> Vec<Option<String>> {
        lock(self.served.state())
            .writes
            .iter()
            .filter(|w| w.event_id == event_id)
            .map(|w| w.send_updates.clone())
            .collect()
    }

    /// Sets one attendee's `responseStatus` as that attendee would from their own
    /// calendar (the event gets a new ETag, so a stale `If-Match` then fails). Returns
    /// the event as `events.get` would.
    pub fn respond_as_attendee(
        &self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
        attendee_email: &str,
        response_status: &str,
    ) -> anyhow::Result<Value> {
        let mut state = lock(self.served.state());
        let changed = state
            .store
            .update_event(account, calendar_id, event_id, |event| {
                let Some(attendees) = event.get_mut("attendees").and_then(Value::as_array_mut)
                else {
                    return false;
                };
                let Some(attendee) = attendees.iter_mut().find(|x| {
                    x["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(attendee_email))
                }) else {
                    return false;
                };
                attendee["responseStatus"] = json!(response_status);
                true
            });
        changed.with_context(|| {
            format!("{attendee_email} is not an attendee of {event_id} in {account}/{calendar_id}")
        })
    }

    /// Stores an invitation: an event organized by `organizer` (not the account) in the
    /// account's calendar, as Google copies it there; the account should be among the
    /// attendees. Returns the stored event.
    pub fn insert_invitation(
        &self,
        account: &str,
        calendar_id: &str,
        organizer: &str,
        event: Value,
    ) -> anyhow::Result<Value> {
        let created = self.insert_event_direct(account, calendar_id, event)?;
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let person = json!({ "email": organizer });
        lock(self.served.state())
            .store
            .update_event(account, calendar_id, &id, |event| {
                event.insert("organizer".into(), person.clone());
                event.insert("creator".into(), person.clone());
                true
            })
            .with_context(|| format!("invitation {id} vanished"))
    }

    /// Every stored event of every calendar, tombstones included.
    pub fn all_events(&self) -> Vec<StoredEvent> {
        lock(self.served.state()).store.all_events()
    }

    /// Events (tombstones included) of one calendar (`primary` allowed), insertion order.
    pub fn events(&self, account: &str, calendar_id: &str) -> Vec<Value> {
        let calendar_id = if calendar_id == "primary" {
            account
        } else {
            calendar_id
        };
        self.all_events()
            .into_iter()
            .filter(|e| e.account == account && e.calendar_id == calendar_id)
            .map(|e| e.event)
            .collect()
    }

    /// One stored event, as `events.get` would return it.
    pub fn event(&self, account: &str, calendar_id: &str, event_id: &str) -> Option<Value> {
        lock(self.served.state())
            .store
            .get(account, calendar_id, event_id)
            .ok()
    }

    /// Creates an event behind the service's back (a change made in Google's UI): same
    /// validation as the API, bumps the sync state.
    pub fn insert_event_direct(
        &self,
        account: &str,
        calendar_id: &str,
        event: Value,
    ) -> anyhow::Result<Value> {
        lock(self.served.state())
            .store
            .insert(account, calendar_id, &event, &[])
            .map_err(|e| anyhow!("insert rejected: {} {}: {}", e.code, e.reason, e.message))
    }

    /// Patches an event behind the service's back.
    pub fn patch_event_direct(
        &self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
        patch: Value,
    ) -> anyhow::Result<Value> {
        lock(self.served.state())
            .store
            .modify(account, calendar_id, event_id, &patch, &[], false)
            .map_err(|e| anyhow!("patch rejected: {} {}: {}", e.code, e.reason, e.message))
    }

    /// Deletes an event behind the service's back (it becomes a cancelled tombstone).
    pub fn delete_event_direct(
        &self,
        account: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> anyhow::Result<()> {
        lock(self.served.state())
            .store
            .delete(account, calendar_id, event_id, &[])
            .map_err(|e| anyhow!("delete rejected: {} {}: {}", e.code, e.reason, e.message))
    }

    /// Open push channels.
    pub fn channels(&self) -> Vec<Channel> {
        lock(self.served.state())
            .store
            .channels
            .values()
            .cloned()
            .collect()
    }

    /// Sends a push notification for a channel to its address, as Google does, and
    /// returns the receiver's status. Never sent automatically.
    pub async fn push(&self, channel_id: &str, resource_state: &str) -> anyhow::Result<u16> {
        let channel = {
            let mut state = lock(self.served.state());
            let channel = state
                .store
                .channels
                .get_mut(channel_id)
                .with_context(|| format!("no open channel {channel_id}"))?;
            channel.message_number += 1;
            channel.clone()
        };
        let expiration = DateTime::from_timestamp_millis(channel.expiration_ms)
            .context("channel expiration out of range")?
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut headers = vec![
            ("X-Goog-Channel-ID".to_owned(), channel.id.clone()),
            ("X-Goog-Channel-Expiration".to_owned(), expiration),
            ("X-Goog-Resource-ID".to_owned(), channel.resource_id.clone()),
            (
                "X-Goog-Resource-URI".to_owned(),
                channel.resource_uri.clone(),
            ),
            (
                "X-Goog-Resource-State".to_owned(),
                resource_state.to_owned(),
            ),
            (
                "X-Goog-Message-Number".to_owned(),
                channel.message_number.to_string(),
            ),
        ];
        if let Some(token) = &channel.token {
            headers.push(("X-Goog-Channel-Token".to_owned(), token.clone()));
        }
        send_request(Method::POST, &channel.address, headers).await
    }
}
