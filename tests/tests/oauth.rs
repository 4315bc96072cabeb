//! Issue 3: OAuth 2.0 through the real auth component, in the test host, against a real
//! Redis and the fake Google and REST services.
//!
//! Every test ends by checking that no secret (tokens, codes, PKCE verifiers, the client
//! secret, the API token, the encryption key) reached the captured component logs, a
//! response body or header we received, a published message, or Redis in clear.
//!
//! Not covered here yet: refresh through a route (expired access token refreshed once,
//! 20 concurrent requests → one refresh, `invalid_grant` → 401 `reauthorization_required`).
//! No route uses the token provider until the events component exists (issue 4).

mod common;

use base64::Engine as _;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use common::{
    API_TOKEN, Api, App, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Resp, Subscription, cipher,
    connect, segment, stream_events,
};
use gcal_core::TokenCipher;
use gcal_core::{AccessToken, RefreshToken};
use gcal_tests::fakes::google::{self, ConsentResult, Route as GoogleRoute};
use gcal_tests::fakes::rest::Route as RestRoute;
use gcal_tests::fakes::{Fault, Faulty as _};
use redis::Commands as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// The default `google_scopes` (SPEC section 8), in the order the authorization URL asks.
const DEFAULT_SCOPE_PARAM: &str = "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.calendarlist.readonly https://www.googleapis.com/auth/calendar.freebusy";

/// The default scopes as granted and stored: sorted, as Google lists them.
fn granted() -> serde_json::Value {
    let mut scopes: Vec<&str> = DEFAULT_SCOPE_PARAM.split(' ').collect();
    scopes.sort();
    json!(scopes)
}
const AUTH_CHANNEL: &str = "gcal.auth";
/// What Chromium and Firefox send when they navigate.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

// ------------------------------------------------------------------ the client side

/// What `GET /auth/url/{user}` handed out.
struct Begun {
    body: Value,
    url: String,
    state: String,
    params: HashMap<String, String>,
}

/// The auth routes on the shared client.
trait AuthApi {
    async fn auth_url(&self, user_segment: &str) -> Resp;
    async fn status(&self, user_segment: &str) -> Resp;
    async fn revoke(&self, user_segment: &str) -> Resp;
    /// The browser's callback: no API token.
    async fn callback_get(&self, query: &str) -> Resp;
    /// The browser's callback with `Accept` (`None`: no `Accept` header).
    async fn callback_accepting(&self, query: &str, accept: Option<&str>) -> Resp;
    async fn callback_post(&self, body: &Value) -> Resp;
    /// `GET /auth/url/{user}`, asserted to succeed.
    async fn begin(&self, user: &str) -> Begun;
}

impl AuthApi for Api<'_> {
    async fn auth_url(&self, user_segment: &str) -> Resp {
        self.get(&format!("/auth/url/{user_segment}")).await
    }

    async fn status(&self, user_segment: &str) -> Resp {
        self.get(&format!("/auth/status/{user_segment}")).await
    }

    async fn revoke(&self, user_segment: &str) -> Resp {
        self.delete(&format!("/auth/{user_segment}")).await
    }

    async fn callback_get(&self, query: &str) -> Resp {
        self.callback_accepting(query, None).await
    }

    async fn callback_accepting(&self, query: &str, accept: Option<&str>) -> Resp {
        let mut req = self.request(Method::GET, &format!("/auth/callback?{query}"));
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        self.send(req).await
    }

    async fn callback_post(&self, body: &Value) -> Resp {
        self.post("/auth/callback", body).await
    }

    async fn begin(&self, user: &str) -> Begun {
        let resp = self.auth_url(&segment(user)).await;
        assert_eq!(resp.status, 200, "{} {}", resp.text, self.app.logs());
        let body = resp.json();
        let url = body["auth_url"].as_str().expect("auth_url").to_owned();
        let state = body["state"].as_str().expect("state").to_owned();
        let params = query_map(&url);
        Begun {
            body,
            url,
            state,
            params,
        }
    }
}

fn query_map(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The query Google's redirect carries (state, code and Google's extras).
fn callback_query(consent: &ConsentResult) -> String {
    url::Url::parse(&consent.redirect)
        .unwrap()
        .query()
        .unwrap()
        .to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

// ------------------------------------------------------------------ Redis side

fn state_keys(app: &App) -> Vec<String> {
    app.redis().keys("gcal:state:*").unwrap()
}

/// A CloudEvent 1.0 of our auth source about `user`.
#[track_caller]
fn assert_auth_event(event: &Value, kind: &str, user: &str) {
    assert_eq!(event["specversion"], "1.0", "{event}");
    assert_eq!(event["type"], kind, "{event}");
    assert_eq!(event["source"], "/gcal/auth", "{event}");
    assert_eq!(event["subject"], user, "{event}");
    assert_eq!(event["datacontenttype"], "application/json", "{event}");
    assert!(
        uuid::Uuid::parse_str(event["id"].as_str().unwrap_or("")).is_ok(),
        "{event}"
    );
    let time = DateTime::parse_from_rfc3339(event["time"].as_str().unwrap_or("")).expect("time");
    assert!((Utc::now() - time.with_timezone(&Utc)).num_seconds().abs() < 60);
    assert_eq!(event["data"]["user_id"], user, "{event}");
}

// ------------------------------------------------------------------ assertions

/// Every parameter SPEC section 3 requires, and nothing Google would reject.
#[track_caller]
fn assert_auth_url(app: &App, begun: &Begun, login_hint: Option<&str>) {
    let url = url::Url::parse(&begun.url).unwrap();
    assert_eq!(url.origin().ascii_serialization(), app.google.origin());
    assert_eq!(url.path(), "/o/oauth2/v2/auth");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let names: BTreeSet<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names.len(), pairs.len(), "a repeated parameter: {pairs:?}");
    let mut expected: BTreeSet<&str> = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "access_type",
        "include_granted_scopes",
        "prompt",
        "state",
        "code_challenge",
        "code_challenge_method",
    ]
    .into();
    if login_hint.is_some() {
        expected.insert("login_hint");
    }
    assert_eq!(names, expected);
    let p = &begun.params;
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["client_id"], CLIENT_ID);
    assert_eq!(p["redirect_uri"], REDIRECT_URI);
    assert_eq!(p["scope"], DEFAULT_SCOPE_PARAM);
    assert_eq!(p["access_type"], "offline");
    assert_eq!(p["include_granted_scopes"], "true");
    assert_eq!(p["prompt"], "consent");
    assert_eq!(p["code_challenge_method"], "S256");
    assert_eq!(p.get("login_hint").map(String::as_str), login_hint);
    assert_eq!(p["state"], begun.state);
    // S256: 32 bytes, base64url without padding.
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&p["code_challenge"])
        .expect("the challenge is base64url");
    assert_eq!(challenge.len(), 32);
    // At least 128 bits of randomness.
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&begun.state)
        .expect("the state is base64url");
    assert!(state.len() >= 16, "state {} is too short", begun.state);
    assert_eq!(begun.body["expires_in"], 600);
    assert!(begun.body["already_authorized"].is_boolean());
}

/// The REST record per SPEC section 4, its tokens decrypting to what Google issued.
#[track_caller]
fn assert_stored(app: &App, user: &str, access: &str, refresh: &str) -> Value {
    let record = app
        .rest
        .credentials(user)
        .unwrap_or_else(|| panic!("no credentials stored for {user}"));
    let fields: BTreeSet<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "provider",
            "access_token_enc",
            "refresh_token_enc",
            "expires_at",
            "scopes",
            "status",
            "updated_at",
        ])
    );
    assert_eq!(record["provider"], "google");
    assert_eq!(record["status"], "active");
    assert_eq!(record["scopes"], granted());
    let expires_at = rfc3339(&record["expires_at"]);
    let lifetime = (expires_at - Utc::now()).num_seconds();
    assert!(
        (google::ACCESS_TOKEN_LIFETIME_SECS - 60..=google::ACCESS_TOKEN_LIFETIME_SECS)
            .contains(&lifetime),
        "expires_at {expires_at} is {lifetime} s away"
    );
    let updated_at = rfc3339(&record["updated_at"]);
    assert!((Utc::now() - updated_at).num_seconds().abs() < 60);
    let cipher = cipher();
    for (field, plain) in [("access_token_enc", access), ("refresh_token_enc", refresh)] {
        let enc = record[field].as_str().unwrap();
        assert!(enc.starts_with("v1:"), "{field}: {enc}");
        assert!(!enc.contains(plain), "{field} holds the token in clear");
        let open = |user: &str| match field {
            "access_token_enc" => cipher.decrypt(enc, user).map(AccessToken::into_secret),
            _ => cipher.decrypt(enc, user).map(RefreshToken::into_secret),
        };
        assert_eq!(open(user).expect(field), plain);
        // The user id is bound in: the ciphertext is useless on another user's record.
        assert!(open("someone-else").is_err(), "{field}");
    }
    record
}

fn rfc3339(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a string: {v}")))
        .unwrap_or_else(|e| panic!("{v} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

// ------------------------------------------------------------------ the whole flow

#[tokio::test]
async fn the_whole_flow_stores_encrypted_credentials_and_announces_them() {
    let app = App::start().await;
    let sub = Subscription::start(&app, AUTH_CHANNEL).await;
    let api = app.api();
    let user = "ann.lee@example.com";
    app.rest.add_user(user, Some("ann@mail.example"), None);

    let begun = api.begin(user).await;
    assert_auth_url(&app, &begun, Some("ann@mail.example"));
    assert_eq!(begun.body["already_authorized"], false);
    // Building the URL asked Google nothing.
    assert!(app.google.requests().is_empty());

    // The state record lives 10 minutes and names the user.
    let key = format!("gcal:state:{}", begun.state);
    let mut con = app.redis();
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!((590_000..=600_000).contains(&ttl), "state TTL {ttl} ms");
    let state_record: String = con.get(&key).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&state_record).unwrap()["user_id"],
        user
    );

    // The browser comes back from Google with code, state and Google's extras.
    let consent = app.google.consent(&begun.url).unwrap();
    assert_eq!(consent.state, begun.state);
    let resp = api.callback_get(&callback_query(&consent)).await;
    assert_eq!(resp.status, 200, "{} {}", resp.text, app.logs());
    assert_eq!(
        resp.json(),
        json!({"status": "authorized", "user_id": user, "scopes": granted()})
    );

    // One code exchange, with the verifier that belongs to the challenge in the URL.
    assert_eq!(app.google.token_calls("authorization_code"), 1);
    let verifier = app.google.last_code_verifier().expect("a code_verifier");
    assert!((43..=128).contains(&verifier.len()), "{verifier}");
    assert_eq!(
        google::pkce_challenge(&verifier),
        begun.params["code_challenge"]
    );
    assert_eq!(
        app.google.last_code_challenge().as_deref(),
        Some(begun.params["code_challenge"].as_str())
    );
    // The verifier was never in Redis in clear, and the state is spent.
    assert!(!state_record.contains(&verifier));
    assert!(!con.exists::<_, bool>(&key).unwrap());

    // Stored in the REST service under the encoded id, tokens encrypted.
    let issued = app.google.last_issued_tokens().unwrap();
    let refresh = issued.refresh_token.clone().expect("a refresh token");
    let record = assert_stored(&app, user, &issued.access_token, &refresh);
    let puts: Vec<_> = app
        .rest
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0].path,
        "/users/ann.lee%40example.com/credentials/google"
    );

    // The access token is cached in the key-value store (this Redis, as the runtime
    // config makes it), encrypted, with its expiry: it is served until 60 s before it.
    // The store has no TTLs; the entry is the user's one, replaced by each refresh.
    let cache_key = format!("gcal:token:{user}");
    let cached: String = con.get(&cache_key).expect("a cached access token");
    assert!(!cached.contains(&issued.access_token));
    let entry: Value = serde_json::from_str(&cached).unwrap();
    let expires: DateTime<Utc> = entry["expires_at"].as_str().unwrap().parse().unwrap();
    let left = (expires - Utc::now()).num_seconds();
    let lifetime = google::ACCESS_TOKEN_LIFETIME_SECS;
    assert!(
        (lifetime - 30..=lifetime).contains(&left),
        "cached until {expires}"
    );

    // Status: authorized, with scopes and expiry.
    let status = api.status(&segment(user)).await;
    assert_eq!(status.status, 200, "{}", status.text);
    let status = status.json();
    assert_eq!(status["authorized"], true, "{status}");
    assert_eq!(status["scopes"], granted());
    assert_eq!(
        rfc3339(&status["expires_at"]).timestamp(),
        rfc3339(&record["expires_at"]).timestamp()
    );

    // A new URL for the same user says it is already authorized.
    assert_eq!(api.begin(user).await.body["already_authorized"], true);

    // `calendar.auth.completed` on the auth channel and in the stream.
    let messages = sub.wait_for(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_auth_event(&messages[0], "calendar.auth.completed", user);
    assert_eq!(messages[0]["data"]["scopes"], granted());
    assert_eq!(stream_events(&app), messages);

    let secrets = common::flow_secrets(issued.access_token, refresh, consent.code, verifier);
    api.assert_no_secrets(&secrets, &messages);
}

#[tokio::test]
async fn each_authorization_url_has_every_parameter_and_a_fresh_state_and_challenge() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let mut states = BTreeSet::new();
    let mut challenges = BTreeSet::new();
    for _ in 0..10 {
        let begun = api.begin("u1").await;
        // No email at the REST service: no login_hint.
        assert_auth_url(&app, &begun, None);
        assert_eq!(begun.body["already_authorized"], false);
        assert!(!begun.url.contains(CLIENT_SECRET));
        states.insert(begun.state.clone());
        challenges.insert(begun.params["code_challenge"].clone());
    }
    assert_eq!(states.len(), 10);
    assert_eq!(challenges.len(), 10);
    let keys: BTreeSet<String> = state_keys(&app).into_iter().collect();
    let expected: BTreeSet<String> = states.iter().map(|s| format!("gcal:state:{s}")).collect();
    assert_eq!(keys, expected);
    // Every one of them is a URL the real endpoint accepts.
    let begun = api.begin("u1").await;
    assert!(app.google.consent(&begun.url).is_ok());
    api.assert_no_secrets(&[], &[]);
}

#[tokio::test]
async fn post_callback_with_json_completes_the_flow() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", Some("u1@example.com"), None);
    let begun = api.begin("u1").await;
    assert_auth_url(&app, &begun, Some("u1@example.com"));
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api
        .callback_post(&json!({"code": consent.code, "state": consent.state}))
        .await;
    assert_eq!(resp.status, 200, "{} {}", resp.text, app.logs());
    assert_eq!(
        resp.json(),
        json!({"status": "authorized", "user_id": "u1", "scopes": granted()})
    );
    let issued = app.google.last_issued_tokens().unwrap();
    let refresh = issued.refresh_token.clone().unwrap();
    assert_stored(&app, "u1", &issued.access_token, &refresh);
    let verifier = app.google.last_code_verifier().unwrap();
    assert_eq!(
        google::pkce_challenge(&verifier),
        begun.params["code_challenge"]
    );

    // Malformed bodies are 400 before anything is consumed.
    let begun = api.begin("u1").await;
    for body in [
        "{not json".to_owned(),
        json!({"code": "c", "state": begun.state, "extra": 1}).to_string(),
        json!(["code", "state"]).to_string(),
    ] {
        let resp = api
            .send(
                api.authed(Method::POST, "/auth/callback")
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        resp.problem(400, "invalid_request");
    }
    assert_eq!(
        state_keys(&app),
        vec![format!("gcal:state:{}", begun.state)]
    );
    assert_eq!(app.google.token_calls("authorization_code"), 1);

    let stream = stream_events(&app);
    assert_eq!(stream.len(), 1);
    assert_auth_event(&stream[0], "calendar.auth.completed", "u1");
    let secrets = common::flow_secrets(issued.access_token, refresh, consent.code, verifier);
    api.assert_no_secrets(&secrets, &stream);
}

// ------------------------------------------------------------------ state

#[tokio::test]
async fn unknown_missing_and_expired_states_are_invalid_state() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let mut secrets = Vec::new();

    // Unknown (well formed, never issued), empty, missing, absurdly long.
    let unknown = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 16]);
    for query in [
        form(&[("code", "4/0Aunknown-state-code"), ("state", &unknown)]),
        form(&[("code", "4/0Aunknown-state-code"), ("state", "")]),
        form(&[("code", "4/0Aunknown-state-code")]),
        form(&[
            ("code", "4/0Aunknown-state-code"),
            ("state", &"s".repeat(5000)),
        ]),
    ] {
        api.callback_get(&query).await.problem(400, "invalid_state");
    }
    api.callback_post(&json!({"code": "4/0Aunknown-state-code", "state": unknown}))
        .await
        .problem(400, "invalid_state");

    // Expired: Redis let the record go.
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    let key = format!("gcal:state:{}", begun.state);
    let _: bool = app.redis().pexpire(&key, 1).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    api.callback_get(&callback_query(&consent))
        .await
        .problem(400, "invalid_state");
    secrets.push(("code", consent.code.clone()));

    // Expired: the record is older than 10 minutes even though the key lingers.
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    let key = format!("gcal:state:{}", begun.state);
    let mut con = app.redis();
    let mut record: Value = serde_json::from_str(&con.get::<_, String>(&key).unwrap()).unwrap();
    assert_eq!(record["user_id"], "u1", "{record}");
    assert!(record["created_at"].is_string(), "{record}");
    record["created_at"] = json!((Utc::now() - ChronoDuration::minutes(11)).to_rfc3339());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(record.to_string())
        .arg("KEEPTTL")
        .query(&mut con)
        .unwrap();
    api.callback_get(&callback_query(&consent))
        .await
        .problem(400, "invalid_state");
    secrets.push(("code", consent.code.clone()));

    // None of this reached Google's token endpoint or stored anything.
    assert_eq!(app.google.token_calls("authorization_code"), 0);
    assert!(app.rest.credentials("u1").is_none());
    assert!(stream_events(&app).is_empty());
    api.assert_no_secrets(&secrets, &[]);
}

#[tokio::test]
async fn a_state_is_consumed_exactly_once() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    let query = callback_query(&consent);
    let first = api.callback_get(&query).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let issued = app.google.last_issued_tokens().unwrap();
    let stored = app.rest.credentials("u1").unwrap();

    // The same state again, by GET or POST: refused before Google is asked.
    api.callback_get(&query).await.problem(400, "invalid_state");
    api.callback_post(&json!({"code": consent.code, "state": consent.state}))
        .await
        .problem(400, "invalid_state");
    assert_eq!(app.google.token_calls("authorization_code"), 1);
    assert_eq!(app.rest.credentials("u1").unwrap(), stored);
    assert_eq!(stream_events(&app).len(), 1);

    let secrets = common::flow_secrets(
        issued.access_token,
        issued.refresh_token.unwrap(),
        consent.code,
        app.google.last_code_verifier().unwrap(),
    );
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

#[tokio::test]
async fn concurrent_callbacks_with_one_state_succeed_once() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    let query = callback_query(&consent);
    let results = futures::future::join_all((0..8).map(|_| api.callback_get(&query))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);
    for r in results.iter().filter(|r| r.status == 400) {
        r.problem(400, "invalid_state");
    }
    assert_eq!(app.google.token_calls("authorization_code"), 1);
    assert_eq!(stream_events(&app).len(), 1);
    let issued = app.google.last_issued_tokens().unwrap();
    let secrets = common::flow_secrets(
        issued.access_token,
        issued.refresh_token.unwrap(),
        consent.code,
        app.google.last_code_verifier().unwrap(),
    );
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

#[tokio::test]
async fn a_state_with_the_code_of_another_flow_is_invalid_state() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("alice", None, None);
    app.rest.add_user("mallory", None, None);
    let alice = api.begin("alice").await;
    let mallory = api.begin("mallory").await;
    let alice_consent = app.google.consent(&alice.url).unwrap();
    let mallory_consent = app.google.consent(&mallory.url).unwrap();

    // Mallory's code with Alice's state: the PKCE verifier of Alice's flow does not
    // match Mallory's challenge, so Google refuses and nothing is stored for anyone.
    let mixed = form(&[("code", &mallory_consent.code), ("state", &alice.state)]);
    api.callback_get(&mixed).await.problem(400, "invalid_state");
    let sent_verifier = app.google.last_code_verifier().unwrap();
    assert_ne!(
        google::pkce_challenge(&sent_verifier),
        mallory.params["code_challenge"]
    );
    assert_eq!(
        google::pkce_challenge(&sent_verifier),
        alice.params["code_challenge"]
    );
    assert!(app.rest.credentials("alice").is_none());
    assert!(app.rest.credentials("mallory").is_none());
    assert!(app.google.last_issued_tokens().is_none());

    // Alice's state is spent by the attempt.
    api.callback_get(&callback_query(&alice_consent))
        .await
        .problem(400, "invalid_state");
    // Mallory's own flow is untouched and completes for Mallory only.
    let resp = api.callback_get(&callback_query(&mallory_consent)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json()["user_id"], "mallory");
    assert!(app.rest.credentials("alice").is_none());
    let issued = app.google.last_issued_tokens().unwrap();
    let refresh = issued.refresh_token.clone().unwrap();
    assert_stored(&app, "mallory", &issued.access_token, &refresh);

    let secrets = vec![
        ("code", alice_consent.code.clone()),
        ("code", mallory_consent.code.clone()),
        ("verifier", sent_verifier),
        ("verifier", app.google.last_code_verifier().unwrap()),
        ("access token", issued.access_token),
        ("refresh token", refresh),
    ];
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

// ------------------------------------------------------------------ refusals and failures

#[tokio::test]
async fn a_denied_consent_is_authorization_denied_and_spends_the_state() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let begun = api.begin("u1").await;
    let denied = app.google.deny(&begun.url).unwrap();
    let query = url::Url::parse(&denied)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    assert!(query.contains("error=access_denied"), "{query}");
    let body = api
        .callback_get(&query)
        .await
        .problem(400, "authorization_denied");
    assert!(
        body["detail"].as_str().unwrap().contains("access_denied"),
        "{body}"
    );
    assert!(
        state_keys(&app).is_empty(),
        "the denied flow's state is spent"
    );

    // A code for that state later on is refused.
    let consent = app.google.consent(&begun.url).unwrap();
    api.callback_get(&callback_query(&consent))
        .await
        .problem(400, "invalid_state");

    // Any other error, even a hostile one, is a denial and is not echoed.
    let body = api
        .callback_get(&form(&[
            ("error", "<script>alert(1)</script>"),
            ("state", "x"),
        ]))
        .await
        .problem(400, "authorization_denied");
    assert!(!body.to_string().contains("<script>"), "{body}");
    api.callback_post(&json!({"error": "access_denied", "state": "x"}))
        .await
        .problem(400, "authorization_denied");

    assert_eq!(app.google.token_calls("authorization_code"), 0);
    assert!(app.rest.credentials("u1").is_none());
    assert!(stream_events(&app).is_empty());
    api.assert_no_secrets(&[("code", consent.code)], &[]);
}

#[tokio::test]
async fn no_refresh_token_is_refused_unless_one_is_stored() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);

    // First authorization without a refresh token: nothing to work with later.
    app.google.set_omit_refresh_token(true);
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    api.callback_get(&callback_query(&consent))
        .await
        .problem(400, "no_refresh_token");
    let first_access = app.google.last_issued_tokens().unwrap();
    assert_eq!(first_access.refresh_token, None);
    assert!(app.rest.credentials("u1").is_none());
    assert!(stream_events(&app).is_empty());
    let mut secrets = vec![
        ("code", consent.code),
        ("access token", first_access.access_token),
    ];

    // With a refresh token stored, a re-consent without one keeps the stored one.
    app.google.set_omit_refresh_token(false);
    let connected = connect(&api, "u1").await;
    secrets.extend(connected.secrets());
    app.google.set_omit_refresh_token(true);
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api.callback_get(&callback_query(&consent)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let issued = app.google.last_issued_tokens().unwrap();
    assert_eq!(issued.refresh_token, None);
    assert_stored(&app, "u1", &issued.access_token, &connected.refresh);
    secrets.push(("code", consent.code));
    secrets.push(("access token", issued.access_token));

    // A stored record marked invalid (Google rejected its refresh token) is no fallback.
    let mut record = app.rest.credentials("u1").unwrap();
    record["status"] = json!("invalid");
    app.rest.set_credentials("u1", record.clone());
    let begun = api.begin("u1").await;
    assert_eq!(begun.body["already_authorized"], false);
    let consent = app.google.consent(&begun.url).unwrap();
    api.callback_get(&callback_query(&consent))
        .await
        .problem(400, "no_refresh_token");
    assert_eq!(app.rest.credentials("u1").unwrap(), record);
    secrets.push(("code", consent.code));
    secrets.push((
        "access token",
        app.google.last_issued_tokens().unwrap().access_token,
    ));
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

#[tokio::test]
async fn an_unknown_user_is_404_and_leaves_nothing_behind() {
    let app = App::start().await;
    let api = app.api();
    api.auth_url("nobody").await.problem(404, "user_not_found");
    assert!(state_keys(&app).is_empty());
    assert!(app.google.requests().is_empty());
    let asked: Vec<String> = app.rest.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(asked, ["/users/nobody"]);
    api.assert_no_secrets(&[], &[]);
}

/// Deleted at the REST service between `/auth/url` and the callback: 404 `user_not_found`
/// (the REST service's 404 to the write), not a 502, and nothing stored.
#[tokio::test]
async fn a_user_deleted_during_the_flow_is_404_user_not_found() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    app.rest.remove_user("u1");
    api.callback_get(&callback_query(&consent))
        .await
        .problem(404, "user_not_found");
    assert!(app.rest.credentials("u1").is_none());
    assert!(stream_events(&app).is_empty(), "no calendar.auth.completed");
}

#[tokio::test]
async fn the_rest_service_down_is_503_rest_unavailable() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);

    app.rest.set_down(true);
    api.auth_url("u1").await.problem(503, "rest_unavailable");
    // Retried: three tries of the same read.
    let reads: Vec<String> = app.rest.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(reads, ["/users/u1", "/users/u1", "/users/u1"]);
    api.status("u1").await.problem(503, "rest_unavailable");
    api.revoke("u1").await.problem(503, "rest_unavailable");
    assert!(state_keys(&app).is_empty());

    // A passing fault is absorbed by the retries.
    app.rest.set_down(false);
    app.rest.fail_next(RestRoute::Users, Fault::Status(502), 2);
    let begun = api.begin("u1").await;
    assert_auth_url(&app, &begun, None);

    // Down while the callback stores the credentials.
    let consent = app.google.consent(&begun.url).unwrap();
    app.rest.set_down(true);
    api.callback_get(&callback_query(&consent))
        .await
        .problem(503, "rest_unavailable");
    app.rest.set_down(false);
    assert!(app.rest.credentials("u1").is_none());
    assert!(stream_events(&app).is_empty());

    let issued = app.google.last_issued_tokens().unwrap();
    let secrets = vec![
        ("code", consent.code),
        ("access token", issued.access_token),
        ("refresh token", issued.refresh_token.unwrap()),
        ("verifier", app.google.last_code_verifier().unwrap()),
    ];
    api.assert_no_secrets(&secrets, &[]);
}

#[tokio::test]
async fn token_endpoint_failures_are_503_upstream_unavailable() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let mut secrets = Vec::new();

    for fault in [
        Some(Fault::Status(500)),
        Some(Fault::Status(503)),
        Some(Fault::Drop),
        None,
    ] {
        let begun = api.begin("u1").await;
        let consent = app.google.consent(&begun.url).unwrap();
        match &fault {
            Some(f) => app.google.fail_next(GoogleRoute::Token, f.clone(), 3),
            None => app.google.set_down(true),
        }
        let body = api
            .callback_get(&callback_query(&consent))
            .await
            .problem(503, "upstream_unavailable");
        assert!(!body.to_string().contains(&consent.code), "{fault:?}");
        app.google.clear_faults();
        app.google.set_down(false);
        secrets.push(("code", consent.code));
    }
    assert!(app.google.token_calls("authorization_code") >= 4);
    assert!(app.google.last_issued_tokens().is_none());
    assert!(app.rest.credentials("u1").is_none());
    assert!(stream_events(&app).is_empty());
    if let Some(v) = app.google.last_code_verifier() {
        secrets.push(("verifier", v));
    }
    api.assert_no_secrets(&secrets, &[]);
}

#[tokio::test]
async fn invalid_user_ids_are_rejected_before_any_outbound_call() {
    let app = App::start().await;
    let api = app.api();
    let long = "x".repeat(129);
    let forms = [
        "..%2Fx",
        "%2F",
        "a/b",
        long.as_str(),
        "a%20b",
        "%C3%A9",
        "a%3Fb",
        "",
    ];
    for form in forms {
        for path in [
            format!("/auth/url/{form}"),
            format!("/auth/status/{form}"),
            format!("/auth/{form}"),
        ] {
            let method = if path.starts_with("/auth/url") || path.starts_with("/auth/status") {
                Method::GET
            } else {
                Method::DELETE
            };
            let resp = api.send(api.authed(method.clone(), &path)).await;
            assert_eq!(
                (resp.status, resp.json()["code"].as_str().unwrap_or("")),
                (400, "invalid_user_id"),
                "{method} {path}: {}",
                resp.text
            );
        }
    }
    assert!(app.google.requests().is_empty());
    assert!(app.rest.requests().is_empty(), "{:?}", app.rest.requests());
    assert!(state_keys(&app).is_empty());

    // The longest allowed id (128) is fine and reaches the REST service encoded.
    let longest = "x".repeat(128);
    app.rest.add_user(&longest, None, None);
    api.begin(&longest).await;
    app.rest.add_user("A.b_c-9@e", None, None);
    api.begin("A.b_c-9@e").await;
    let asked: Vec<String> = app.rest.requests().into_iter().map(|r| r.path).collect();
    assert!(asked.contains(&format!("/users/{longest}")), "{asked:?}");
    assert!(
        asked.contains(&"/users/A.b_c-9%40e".to_owned()),
        "{asked:?}"
    );
    api.assert_no_secrets(&[], &[]);
}

#[tokio::test]
async fn redis_down_is_503_redis_unavailable() {
    let app = App::start().await;
    app.rest.add_user("u1", None, None);
    let consent = {
        let api = app.api();
        let begun = api.begin("u1").await;
        app.google.consent(&begun.url).unwrap()
    };
    app.kill_redis();
    {
        let api = app.api();
        api.auth_url("u1").await.problem(503, "redis_unavailable");
        let resp = api.callback_get(&callback_query(&consent)).await;
        resp.problem(503, "redis_unavailable");
        assert!(!resp.text.contains(&consent.code));
        assert_eq!(app.google.token_calls("authorization_code"), 0);
        assert!(app.rest.credentials("u1").is_none());
    }
    // Back up: nothing is stuck, a new authorization starts.
    app.restart_redis();
    let api = app.api();
    let begun = api.begin("u1").await;
    assert_auth_url(&app, &begun, None);
    api.assert_no_secrets(&[("code", consent.code)], &[]);
}

#[tokio::test]
async fn an_unusable_encryption_key_is_a_500_naming_the_variable_not_its_value() {
    let bad_key = "bm90LWEtMzItYnl0ZS1rZXk="; // "not-a-32-byte-key"
    let app = App::start_with(|c| c.variable("token_encryption_key", bad_key)).await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let body = api.auth_url("u1").await.problem(500, "config_invalid");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("token_encryption_key"),
        "{body}"
    );
    assert!(!body.to_string().contains(bad_key), "{body}");
    assert!(!app.logs().contains(bad_key));
    assert!(state_keys(&app).is_empty());
}

#[tokio::test]
async fn status_and_delete_cope_with_invalid_or_undecryptable_records() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let connected = connect(&api, "u1").await;

    // Marked invalid after Google refused its refresh token: not authorized.
    let mut record = app.rest.credentials("u1").unwrap();
    record["status"] = json!("invalid");
    app.rest.set_credentials("u1", record.clone());
    let status = api.status("u1").await;
    assert_eq!(status.status, 200, "{}", status.text);
    let status = status.json();
    assert_eq!(status["authorized"], false, "{status}");
    assert_eq!(status["scopes"], granted());

    // Sealed with another key (or for another user): nothing to revoke at Google, but the
    // record is deleted all the same.
    let other =
        TokenCipher::from_base64_key(&base64::engine::general_purpose::STANDARD.encode([1u8; 32]))
            .unwrap();
    record["refresh_token_enc"] = json!(
        other
            .encrypt(&RefreshToken::new("1//0foreign".into()), "u1")
            .unwrap()
    );
    app.rest.set_credentials("u1", record);
    let resp = api.revoke("u1").await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert!(app.google.revoked().is_empty());
    assert!(app.rest.credentials("u1").is_none());
    let status = api.status("u1").await.json();
    assert_eq!(
        status,
        json!({"authorized": false, "status": null, "scopes": [], "expires_at": null})
    );
    api.assert_no_secrets(&connected.secrets(), &stream_events(&app));
}

#[tokio::test]
async fn configured_scopes_are_requested_and_the_granted_ones_stored() {
    let readonly = "https://www.googleapis.com/auth/calendar.readonly";
    let app =
        App::start_with(|c| c.variable("google_scopes", format!("{CALENDAR_EVENTS}  {readonly}")))
            .await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let begun = api.begin("u1").await;
    assert_eq!(
        begun.params["scope"],
        format!("{CALENDAR_EVENTS} {readonly}")
    );
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api.callback_get(&callback_query(&consent)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let granted: BTreeSet<String> = consent.scope.split(' ').map(str::to_owned).collect();
    let answered: BTreeSet<String> = serde_json::from_value(resp.json()["scopes"].clone()).unwrap();
    assert_eq!(answered, granted);
    assert_eq!(granted.len(), 2);
    let stored: BTreeSet<String> =
        serde_json::from_value(app.rest.credentials("u1").unwrap()["scopes"].clone()).unwrap();
    assert_eq!(stored, granted);
    let status: BTreeSet<String> =
        serde_json::from_value(api.status("u1").await.json()["scopes"].clone()).unwrap();
    assert_eq!(status, granted);
    let issued = app.google.last_issued_tokens().unwrap();
    let secrets = common::flow_secrets(
        issued.access_token,
        issued.refresh_token.unwrap(),
        consent.code,
        app.google.last_code_verifier().unwrap(),
    );
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

// ------------------------------------------------------------------ browser redirect

#[tokio::test]
async fn the_browser_callback_ends_with_a_303_when_post_auth_redirect_url_is_set() {
    let app = App::start_with(|c| {
        c.variable(
            "post_auth_redirect_url",
            "https://app.example/connected?from=gcal",
        )
    })
    .await;
    let api = app.api();
    let user = "ann@example.com";
    app.rest.add_user(user, None, None);
    let mut secrets = Vec::new();

    // Success.
    let begun = api.begin(user).await;
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api.callback_get(&callback_query(&consent)).await;
    let (location, pairs) = resp.redirect();
    assert_eq!(
        location.origin().ascii_serialization(),
        "https://app.example"
    );
    assert_eq!(location.path(), "/connected");
    assert_eq!(
        pairs,
        [("from", "gcal"), ("status", "ok"), ("user_id", user)]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let issued = app.google.last_issued_tokens().unwrap();
    let refresh = issued.refresh_token.clone().unwrap();
    assert_stored(&app, user, &issued.access_token, &refresh);
    secrets.extend([
        ("code", consent.code.clone()),
        ("access token", issued.access_token),
        ("refresh token", refresh),
        ("verifier", app.google.last_code_verifier().unwrap()),
    ]);

    // A browser is redirected the same way.
    let begun = api.begin(user).await;
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api
        .callback_accepting(&callback_query(&consent), Some(BROWSER_ACCEPT))
        .await;
    let (location, pairs) = resp.redirect();
    assert_eq!(location.path(), "/connected");
    assert!(pairs.contains(&("status".into(), "ok".into())), "{pairs:?}");
    secrets.push(("code", consent.code.clone()));
    secrets.push((
        "access token",
        app.google.last_issued_tokens().unwrap().access_token,
    ));

    // Errors: the code of the problem, nothing else.
    for (query, code) in [
        (callback_query(&consent), "invalid_state"),
        (
            url::Url::parse(&app.google.deny(&api.begin(user).await.url).unwrap())
                .unwrap()
                .query()
                .unwrap()
                .to_owned(),
            "authorization_denied",
        ),
    ] {
        let resp = api.callback_get(&query).await;
        let (location, pairs) = resp.redirect();
        assert_eq!(location.path(), "/connected");
        assert_eq!(
            pairs,
            [("from", "gcal"), ("status", "error"), ("code", code)]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    // The API callback still answers JSON.
    let begun = api.begin(user).await;
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api
        .callback_post(&json!({"code": consent.code, "state": consent.state}))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json()["status"], "authorized");
    secrets.push(("code", consent.code));
    let issued = app.google.last_issued_tokens().unwrap();
    secrets.push(("access token", issued.access_token));
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

/// An HTML page for the person in the browser, with every header a page needs.
#[track_caller]
fn assert_page(resp: &Resp, status: u16, says: &[&str]) {
    assert_eq!(resp.status, status, "{}", resp.text);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = resp
        .header("content-security-policy")
        .expect("a Content-Security-Policy");
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(resp.header("referrer-policy"), Some("no-referrer"));
    assert!(!resp.header("x-request-id").unwrap_or("").is_empty());
    assert!(resp.text.starts_with("<!doctype html>"), "{}", resp.text);
    assert!(
        !resp.text.to_lowercase().contains("<script"),
        "{}",
        resp.text
    );
    let lower = resp.text.to_lowercase();
    for s in says {
        assert!(
            lower.contains(&s.to_lowercase()),
            "`{s}` not in {}",
            resp.text
        );
    }
}

#[tokio::test]
async fn a_browser_gets_a_page_for_each_outcome_and_api_clients_keep_the_json() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let mut secrets = Vec::new();
    let browser = Some(BROWSER_ACCEPT);

    // Connected: the page, and the credentials stored as for an API client.
    let begun = api.begin("u1").await;
    let consent = app.google.consent(&begun.url).unwrap();
    let resp = api
        .callback_accepting(&callback_query(&consent), browser)
        .await;
    assert_page(&resp, 200, &["Google Calendar connected for u1"]);
    let issued = app.google.last_issued_tokens().unwrap();
    let refresh = issued.refresh_token.clone().unwrap();
    assert_stored(&app, "u1", &issued.access_token, &refresh);
    assert_eq!(stream_events(&app).len(), 1);
    secrets.extend([
        ("access token", issued.access_token),
        ("refresh token", refresh),
        ("verifier", app.google.last_code_verifier().unwrap()),
        ("code", consent.code.clone()),
    ]);

    // The same link again: spent. The page names the code and the request id.
    let resp = api
        .callback_accepting(&callback_query(&consent), browser)
        .await;
    let rid = resp.header("x-request-id").unwrap_or("").to_owned();
    assert_page(
        &resp,
        400,
        &["expired", "invalid_state", "start again from the app", &rid],
    );
    assert!(resp.text.contains("Reference: <code>"), "{}", resp.text);
    assert!(app.logs().contains("\"code\":\"invalid_state\""));

    // Cancel on the consent page.
    let denied = app.google.deny(&api.begin("u1").await.url).unwrap();
    let query = url::Url::parse(&denied)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let resp = api.callback_accepting(&query, browser).await;
    assert_page(
        &resp,
        400,
        &["was not connected", "authorization_denied", "click Allow"],
    );

    // No refresh token from Google and none stored.
    app.rest.add_user("u2", None, None);
    app.google.set_omit_refresh_token(true);
    let consent = app.google.consent(&api.begin("u2").await.url).unwrap();
    let resp = api
        .callback_accepting(&callback_query(&consent), browser)
        .await;
    assert_page(&resp, 400, &["no refresh token", "no_refresh_token"]);
    app.google.set_omit_refresh_token(false);
    assert!(app.rest.credentials("u2").is_none());
    secrets.push(("code", consent.code));
    secrets.push((
        "access token",
        app.google.last_issued_tokens().unwrap().access_token,
    ));

    // A dependency down: the generic page, with the status of the problem.
    let consent = app.google.consent(&api.begin("u1").await.url).unwrap();
    app.rest.set_down(true);
    let resp = api
        .callback_accepting(&callback_query(&consent), browser)
        .await;
    app.rest.set_down(false);
    assert_page(
        &resp,
        503,
        &[
            "could not be connected",
            "rest_unavailable",
            "usually temporary",
        ],
    );
    secrets.push(("code", consent.code));
    let issued = app.google.last_issued_tokens().unwrap();
    secrets.push(("access token", issued.access_token));
    secrets.push(("refresh token", issued.refresh_token.unwrap()));

    // API clients: the JSON, exactly as before, whatever else they accept.
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("application/json, text/html"),
        Some("text/html;q=0.5, application/json"),
    ] {
        let consent = app.google.consent(&api.begin("u1").await.url).unwrap();
        let resp = api
            .callback_accepting(&callback_query(&consent), accept)
            .await;
        assert_eq!(resp.status, 200, "{accept:?}: {}", resp.text);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert!(resp.header("content-security-policy").is_none());
        assert_eq!(
            resp.json(),
            json!({"status": "authorized", "user_id": "u1", "scopes": granted()}),
            "{accept:?}"
        );
        let again = api
            .callback_accepting(&callback_query(&consent), accept)
            .await;
        again.problem(400, "invalid_state");
        secrets.push(("code", consent.code));
        secrets.push((
            "access token",
            app.google.last_issued_tokens().unwrap().access_token,
        ));
    }
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

// ------------------------------------------------------------------ revocation

#[tokio::test]
async fn delete_revokes_at_google_deletes_the_record_and_is_idempotent() {
    let app = App::start().await;
    let sub = Subscription::start(&app, AUTH_CHANNEL).await;
    let api = app.api();
    let user = "bob@example.com";
    app.rest.add_user(user, None, None);
    let connected = connect(&api, user).await;
    assert!(app.google.refresh_token_valid(&connected.refresh));
    app.google.clear_requests();

    let resp = api.revoke(&segment(user)).await;
    assert_eq!(resp.status, 204, "{} {}", resp.text, app.logs());
    assert!(resp.text.is_empty());

    // Google got the refresh token, in the form body (never in a URL).
    assert_eq!(
        app.google.revoked(),
        vec![connected.refresh.clone()],
        "{}",
        app.logs()
    );
    assert!(!app.google.refresh_token_valid(&connected.refresh));
    let revokes: Vec<_> = app
        .google
        .requests()
        .into_iter()
        .filter(|r| r.path == "/revoke")
        .collect();
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0].method, "POST");
    assert!(
        !revokes[0]
            .query
            .clone()
            .unwrap_or_default()
            .contains(&connected.refresh)
    );
    assert!(
        revokes[0]
            .form()
            .contains(&("token".to_owned(), connected.refresh.clone()))
    );

    // The record and the cache are gone; status says so.
    assert!(app.rest.credentials(user).is_none());
    assert!(
        !app.redis()
            .exists::<_, bool>(format!("gcal:token:{user}"))
            .unwrap()
    );
    let status = api.status(&segment(user)).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.json()["authorized"], false);

    // Announced on the channel and in the stream.
    let messages = sub.wait_for(2).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_auth_event(&messages[0], "calendar.auth.completed", user);
    assert_auth_event(&messages[1], "calendar.auth.revoked", user);
    assert_eq!(stream_events(&app), messages);

    // Again: still 204, Google is not asked again.
    let resp = api.revoke(&segment(user)).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert_eq!(app.google.revoked().len(), 1);
    assert!(app.rest.credentials(user).is_none());

    api.assert_no_secrets(&connected.secrets(), &sub.messages());
}

#[tokio::test]
async fn delete_still_deletes_when_google_revocation_fails() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    app.rest.add_user("u2", None, None);
    let u1 = connect(&api, "u1").await;
    let u2 = connect(&api, "u2").await;

    // Google is down: best effort, the credentials are deleted anyway.
    app.google.set_down(true);
    let resp = api.revoke("u1").await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    app.google.set_down(false);
    assert!(app.google.revoked().is_empty());
    assert!(app.rest.credentials("u1").is_none());
    let types: Vec<Value> = stream_events(&app)
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            "calendar.auth.completed",
            "calendar.auth.completed",
            "calendar.auth.revoked"
        ]
    );

    // The REST service is down: nothing is deleted and the caller learns it.
    app.rest.set_down(true);
    api.revoke("u2").await.problem(503, "rest_unavailable");
    app.rest.set_down(false);
    assert_stored(&app, "u2", &u2.access, &u2.refresh);
    assert_eq!(stream_events(&app).len(), 3);

    let mut secrets = u1.secrets();
    secrets.extend(u2.secrets());
    api.assert_no_secrets(&secrets, &stream_events(&app));
}

// ------------------------------------------------------------------ API token

#[tokio::test]
async fn every_protected_auth_route_needs_the_api_token() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", None, None);
    let wrong = [
        None,
        Some("Bearer wrong".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Bearer {API_TOKEN}x")),
        Some(format!("Bearer {}", &API_TOKEN[..API_TOKEN.len() - 1])),
        Some(format!("Basic {API_TOKEN}")),
        Some(API_TOKEN.to_owned()),
    ];
    let routes = [
        (Method::GET, "/auth/url/u1"),
        (Method::POST, "/auth/callback"),
        (Method::GET, "/auth/status/u1"),
        (Method::DELETE, "/auth/u1"),
        (Method::GET, "/auth/no-such-route"),
    ];
    for (method, path) in &routes {
        for auth in &wrong {
            let mut req = api
                .request(method.clone(), path)
                .json(&json!({"code": "c", "state": "s"}));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let resp = api.send(req).await;
            resp.problem(401, "unauthorized");
        }
    }
    assert!(app.google.requests().is_empty());
    assert!(app.rest.requests().is_empty());
    assert!(state_keys(&app).is_empty());

    // Either configured token is accepted.
    for token in [API_TOKEN, "other-token"] {
        let resp = api
            .send(
                api.request(Method::GET, "/auth/status/u1")
                    .bearer_auth(token),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.json()["authorized"], false);
    }
    // The browser callback needs none: the state authenticates it.
    api.callback_get("code=c&state=s")
        .await
        .problem(400, "invalid_state");
    api.assert_no_secrets(&[], &[]);
}
