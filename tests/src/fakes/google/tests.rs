//! The fake Google over real HTTP.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::fakes::server::{Outcome, Server};

const CLIENT: &str = "client-1.apps.googleusercontent.com";
const SECRET: &str = "secret-1";
const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";
pub(super) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-verifier";

pub(super) async fn fake() -> FakeGoogle {
    let fake = FakeGoogle::start().await.expect("start");
    fake.register_client(CLIENT, SECRET, REDIRECT);
    fake
}

pub(super) fn auth_url(fake: &FakeGoogle, params: &[(&str, &str)]) -> String {
    let challenge = pkce_challenge(VERIFIER);
    let mut url = url::Url::parse(&format!("{}{AUTH_PATH}", fake.origin())).unwrap();
    {
        let mut query = url.query_pairs_mut();
        let defaults = [
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("scope", CALENDAR_EVENTS_SCOPE),
            ("access_type", "offline"),
            ("include_granted_scopes", "true"),
            ("prompt", "consent"),
            ("state", "state-123"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("login_hint", "alice@example.com"),
        ];
        for (name, value) in defaults {
            // An override with an empty value removes the parameter.
            match params.iter().find(|(n, _)| *n == name) {
                Some((_, "")) => {}
                Some((_, v)) => {
                    query.append_pair(name, v);
                }
                None => {
                    query.append_pair(name, value);
                }
            }
        }
        for (name, value) in params {
            if !defaults.iter().any(|(n, _)| n == name) {
                query.append_pair(name, value);
            }
        }
    }
    url.into()
}

async fn post_token(fake: &FakeGoogle, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/token", fake.origin()))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(super) async fn exchange(fake: &FakeGoogle, code: &str, verifier: &str) -> (u16, Value) {
    post_token(
        fake,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ],
    )
    .await
}

fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub(super) async fn api(
    fake: &FakeGoogle,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request =
        reqwest::Client::new().request(method, format!("{}/calendar/v3{path}", fake.origin()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("api request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn timed_event(summary: &str, hour: u32) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": format!("2030-01-01T{hour:02}:00:00+01:00")},
        "end": {"dateTime": format!("2030-01-01T{hour:02}:30:00+01:00")},
    })
}

#[tokio::test]
async fn code_flow_with_pkce_over_http() {
    let fake = fake().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = auth_url(&fake, &[]);

    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let approve = html
        .split("id=\"approve\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("approve link")
        .replace("&amp;", "&");
    let approved = client
        .get(format!("{}{approve}", fake.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 302);
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let pairs = query_of(&location);
    assert_eq!(param(&pairs, "state").as_deref(), Some("state-123"));
    assert_eq!(
        param(&pairs, "scope").as_deref(),
        Some(CALENDAR_EVENTS_SCOPE)
    );
    let code = param(&pairs, "code").expect("code");
    assert_eq!(fake.last_code_challenge(), Some(pkce_challenge(VERIFIER)));

    let wrong = "x".repeat(43);
    let (status, body) = exchange(&fake, &code, &wrong).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    let (status, body) = exchange(&fake, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], CALENDAR_EVENTS_SCOPE);
    let access = body["access_token"].as_str().unwrap();
    assert!(access.starts_with("ya29."));
    assert!(body["refresh_token"].is_string());
    assert_eq!(fake.last_code_verifier().as_deref(), Some(VERIFIER));
    assert_eq!(
        fake.last_issued_tokens().map(|t| t.access_token),
        Some(access.to_owned())
    );

    let (status, body) = exchange(&fake, &code, VERIFIER).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Bad Request"})
    );
    assert_eq!(fake.token_calls("authorization_code"), 3);
    assert_eq!(fake.token_calls("refresh_token"), 0);

    // The account is the login hint: the token reads alice's primary calendar.
    let (status, list) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events",
        Some(access),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["summary"], "alice@example.com");
}

#[tokio::test]
async fn authorization_requests_are_validated() {
    let fake = fake().await;
    let get = |url: String| async move {
        let response = reqwest::get(url).await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, body) = get(auth_url(&fake, &[("code_challenge", "")])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _) = get(auth_url(&fake, &[("code_challenge_method", "plain")])).await;
    assert_eq!(status, 400);
    let (status, _) = get(auth_url(&fake, &[("state", "")])).await;
    assert_eq!(status, 400);
    let (status, body) = get(auth_url(&fake, &[("redirect_uri", "http://evil/cb")])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("redirect_uri_mismatch"))
    );
    let (status, body) = get(auth_url(&fake, &[("client_id", "nope")])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = get(auth_url(&fake, &[("scope", "calendar")])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, _) = get(auth_url(&fake, &[("codeChallenge", "x")])).await;
    assert_eq!(status, 400);
    let padded = format!("{}=", pkce_challenge(VERIFIER));
    let (status, _) = get(auth_url(&fake, &[("code_challenge", &padded)])).await;
    assert_eq!(status, 400);

    assert!(
        fake.consent(&auth_url(&fake, &[("code_challenge", "")]))
            .is_err()
    );
    let denied = fake.deny(&auth_url(&fake, &[])).unwrap();
    let pairs = query_of(&denied);
    assert_eq!(param(&pairs, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&pairs, "state").as_deref(), Some("state-123"));
    assert_eq!(param(&pairs, "code"), None);
}

#[tokio::test]
async fn codes_are_bound_to_redirect_client_and_lifetime() {
    let fake = fake().await;
    let consent = fake.consent(&auth_url(&fake, &[])).unwrap();
    let (status, body) = post_token(
        &fake,
        &[
            ("grant_type", "authorization_code"),
            ("code", &consent.code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("redirect_uri_mismatch"))
    );
    let (status, body) = post_token(
        &fake,
        &[
            ("grant_type", "authorization_code"),
            ("code", &consent.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error": "invalid_client", "error_description": "Unauthorized"})
        )
    );
    fake.expire_codes();
    let (status, body) = exchange(&fake, &consent.code, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // HTTP Basic client authentication works as well; omit_refresh_token is honoured.
    fake.set_omit_refresh_token(true);
    let consent = fake.consent(&auth_url(&fake, &[])).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/token", fake.origin()))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", consent.code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none(), "{body}");
}

#[tokio::test]
async fn refresh_and_revoke() {
    let fake = fake().await;
    let consent = fake.consent(&auth_url(&fake, &[])).unwrap();
    let (_, tokens) = exchange(&fake, &consent.code, VERIFIER).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let first_access = tokens["access_token"].as_str().unwrap().to_owned();

    let refresh_form = |token: String| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token),
            ("client_id", CLIENT.to_owned()),
            ("client_secret", SECRET.to_owned()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let url = format!("{}/token", fake.origin());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(refresh_form(refresh.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    let second_access = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_access, first_access);
    assert_eq!(fake.token_calls("refresh_token"), 1);

    let revoke = |token: String| {
        let url = format!("{}/revoke", fake.origin());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(revoke(refresh.clone()).await, (200, json!({})));
    assert_eq!(fake.revoked(), vec![refresh.clone()]);
    let (status, body) = revoke(refresh.clone()).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "invalid_token", "error_description": "Token expired or revoked"})
        )
    );
    let (status, body) = send(refresh_form(refresh)).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        )
    );
    // The access tokens died with their refresh token.
    let (status, _) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events",
        Some(&second_access),
        None,
    )
    .await;
    assert_eq!(status, 401);

    // Revoking an access token (via the query) kills its refresh token too.
    let (access, refresh) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let response = reqwest::Client::new()
        .post(format!("{}/revoke?token={access}", fake.origin()))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!fake.refresh_token_valid(&refresh));
}

#[tokio::test]
async fn api_requires_a_valid_bearer_token() {
    let fake = fake().await;
    let path = "/calendars/primary/events";
    let (status, body) = api(&fake, reqwest::Method::GET, path, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["errors"][0]["reason"], "authError");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    let (status, _) = api(
        &fake,
        reqwest::Method::GET,
        path,
        Some("ya29.unknown"),
        None,
    )
    .await;
    assert_eq!(status, 401);

    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let (status, _) = api(&fake, reqwest::Method::GET, path, Some(&access), None).await;
    assert_eq!(status, 200);
    fake.expire_access_token(&access);
    let (status, _) = api(&fake, reqwest::Method::GET, path, Some(&access), None).await;
    assert_eq!(status, 401);

    let (read_only, _) = fake.issue_tokens(&["https://www.googleapis.com/auth/calendar.readonly"]);
    let (status, body) = api(
        &fake,
        reqwest::Method::POST,
        path,
        Some(&read_only),
        Some(timed_event("x", 9)),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["errors"][0]["reason"],
        "insufficientPermissions"
    );
    assert_eq!(fake.api_calls(), 5);
    assert!(fake.all_events().is_empty());
}

#[tokio::test]
async fn pagination_returns_each_item_once_across_three_pages() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let mut inserted = HashSet::new();
    for hour in 0..7 {
        let event = fake
            .insert_event_direct(
                DEFAULT_ACCOUNT,
                "primary",
                timed_event(&format!("e{hour}"), hour),
            )
            .unwrap();
        inserted.insert(event["id"].as_str().unwrap().to_owned());
    }
    let base = "/calendars/primary/events?maxResults=3&singleEvents=true&orderBy=startTime";
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    let mut second_page: Option<(String, Value)> = None;
    loop {
        let path = match &page_token {
            Some(token) => format!("{base}&pageToken={token}"),
            None => base.to_owned(),
        };
        let (status, body) = api(&fake, reqwest::Method::GET, &path, Some(&access), None).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        if pages == 2 {
            second_page = Some((path.clone(), body.clone()));
            // A change between pages must not shift the pages.
            fake.insert_event_direct(DEFAULT_ACCOUNT, "primary", timed_event("late", 0))
                .unwrap();
        }
        for item in body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match body["nextPageToken"].as_str() {
            Some(token) => {
                assert!(body.get("nextSyncToken").is_none());
                page_token = Some(token.to_owned());
            }
            None => {
                assert!(body["nextSyncToken"].is_string());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), inserted);
    // Ordered by start time: e0 .. e6.
    let (path, body) = second_page.unwrap();
    let (_, again) = api(&fake, reqwest::Method::GET, &path, Some(&access), None).await;
    assert_eq!(again["items"], body["items"]);
    assert_eq!(body["items"][0]["summary"], "e3");

    let bad = format!("{base}&pageToken=garbage");
    let (status, _) = api(&fake, reqwest::Method::GET, &bad, Some(&access), None).await;
    assert_eq!(status, 400);
    let (status, _) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events?maxResults=0",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events?orderBy=startTime",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events?timeMin=2030-01-01T10:00:00",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["errors"][0]["reason"], "badRequest");
}

#[tokio::test]
async fn time_window_and_query_filter() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    for (summary, hour) in [("Standup", 9), ("Lunch with Bob", 12), ("Review", 15)] {
        fake.insert_event_direct(DEFAULT_ACCOUNT, "primary", timed_event(summary, hour))
            .unwrap();
    }
    let list = |query: &str| {
        let path = format!("/calendars/primary/events?{query}");
        let fake = &fake;
        let access = access.clone();
        async move {
            let (status, body) = api(fake, reqwest::Method::GET, &path, Some(&access), None).await;
            assert_eq!(status, 200, "{body}");
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["summary"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // 09:00+01:00 is 08:00Z; window [10:00Z, 14:00Z) holds only the 12:00+01:00 lunch.
    assert_eq!(
        list("timeMin=2030-01-01T10:00:00Z&timeMax=2030-01-01T14:00:00Z").await,
        vec!["Lunch with Bob"]
    );
    assert_eq!(list("q=BOB").await, vec!["Lunch with Bob"]);
    assert_eq!(list("q=nothing").await, Vec::<String>::new());
}

#[tokio::test]
async fn sync_tokens_return_changes_and_expire() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let a = fake
        .insert_event_direct(DEFAULT_ACCOUNT, "primary", timed_event("a", 9))
        .unwrap();
    let b = fake
        .insert_event_direct(DEFAULT_ACCOUNT, "primary", timed_event("b", 10))
        .unwrap();
    fake.insert_event_direct(DEFAULT_ACCOUNT, "primary", timed_event("c", 11))
        .unwrap();
    let (_, full) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(full["items"].as_array().unwrap().len(), 3);
    let sync = full["nextSyncToken"].as_str().unwrap().to_owned();

    let (_, unchanged) = api(
        &fake,
        reqwest::Method::GET,
        &format!("/calendars/primary/events?syncToken={sync}"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(unchanged["items"], json!([]));

    let a_id = a["id"].as_str().unwrap();
    let b_id = b["id"].as_str().unwrap();
    let (status, patched) = api(
        &fake,
        reqwest::Method::PATCH,
        &format!("/calendars/primary/events/{a_id}"),
        Some(&access),
        Some(json!({"summary": "a2"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["summary"], "a2");
    assert_eq!(patched["start"], a["start"]);
    let (status, _) = api(
        &fake,
        reqwest::Method::DELETE,
        &format!("/calendars/primary/events/{b_id}"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let d = fake
        .insert_event_direct(DEFAULT_ACCOUNT, "primary", timed_event("d", 12))
        .unwrap();

    let (status, changes) = api(
        &fake,
        reqwest::Method::GET,
        &format!("/calendars/primary/events?syncToken={sync}"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 200, "{changes}");
    let items = changes["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![a_id, b_id, d["id"].as_str().unwrap()]);
    assert_eq!(items[1]["status"], "cancelled");
    let next = changes["nextSyncToken"].as_str().unwrap().to_owned();

    // The deleted event is hidden from plain lists but shown with showDeleted.
    let (_, plain) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(plain["items"].as_array().unwrap().len(), 3);
    let (_, with_deleted) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events?showDeleted=true",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(with_deleted["items"].as_array().unwrap().len(), 4);

    let (status, _) = api(
        &fake,
        reqwest::Method::GET,
        &format!("/calendars/primary/events?syncToken={next}&timeMin=2030-01-01T00:00:00Z"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 400);

    fake.invalidate_sync_tokens();
    let (status, body) = api(
        &fake,
        reqwest::Method::GET,
        &format!("/calendars/primary/events?syncToken={next}"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["errors"][0]["reason"], "fullSyncRequired");
    assert_eq!(
        body["error"]["message"],
        "Sync token is no longer valid, a full sync is required."
    );
}

#[tokio::test]
async fn event_crud_semantics() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let mut event = timed_event("meeting", 9);
    event["id"] = json!("abcdef0123456789");
    let path = "/calendars/primary/events?sendUpdates=none";
    let (status, created) = api(
        &fake,
        reqwest::Method::POST,
        path,
        Some(&access),
        Some(event.clone()),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], "abcdef0123456789");
    assert_eq!(created["status"], "confirmed");
    assert_eq!(created["kind"], "calendar#event");
    for field in ["htmlLink", "created", "updated", "etag", "iCalUID"] {
        assert!(created[field].is_string(), "{field} missing: {created}");
    }
    assert!(created["updated"].as_str().unwrap().ends_with('Z'));

    let (status, body) = api(
        &fake,
        reqwest::Method::POST,
        path,
        Some(&access),
        Some(event.clone()),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({"error": {"code": 409, "message": "The requested identifier already exists.",
            "errors": [{"domain": "global", "reason": "duplicate",
                        "message": "The requested identifier already exists."}]}})
    );

    let mut bad_id = timed_event("x", 9);
    bad_id["id"] = json!("UPPERCASE-ID");
    let (status, body) = api(
        &fake,
        reqwest::Method::POST,
        path,
        Some(&access),
        Some(bad_id),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Invalid resource id value.");

    let backwards = json!({"summary": "x",
        "start": {"dateTime": "2030-01-01T10:00:00Z"}, "end": {"dateTime": "2030-01-01T09:00:00Z"}});
    let (status, body) = api(
        &fake,
        reqwest::Method::POST,
        path,
        Some(&access),
        Some(backwards),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["errors"][0]["reason"], "timeRangeEmpty");

    let no_zone = json!({"summary": "x",
        "start": {"dateTime": "2030-01-01T10:00:00"}, "end": {"dateTime": "2030-01-01T11:00:00"}});
    let (status, body) = api(
        &fake,
        reqwest::Method::POST,
        path,
        Some(&access),
        Some(no_zone),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Missing time zone definition for start time."
    );
    let (status, _) = api(
        &fake,
        reqwest::Method::POST,
        "/calendars/primary/events?sendUpdates=sometimes",
        Some(&access),
        Some(timed_event("x", 9)),
    )
    .await;
    assert_eq!(status, 400);

    let event_path = "/calendars/primary/events/abcdef0123456789";
    let (status, patched) = api(
        &fake,
        reqwest::Method::PATCH,
        event_path,
        Some(&access),
        Some(json!({"location": "Room 1"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["summary"], "meeting");
    assert_eq!(patched["location"], "Room 1");
    assert_eq!(patched["created"], created["created"]);

    assert_eq!(
        api(
            &fake,
            reqwest::Method::DELETE,
            event_path,
            Some(&access),
            None
        )
        .await
        .0,
        204
    );
    let (status, deleted) = api(&fake, reqwest::Method::GET, event_path, Some(&access), None).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["status"], "cancelled");
    let (status, body) = api(
        &fake,
        reqwest::Method::PATCH,
        event_path,
        Some(&access),
        Some(json!({"summary": "again"})),
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["errors"][0]["reason"], "deleted");
    assert_eq!(
        api(
            &fake,
            reqwest::Method::DELETE,
            event_path,
            Some(&access),
            None
        )
        .await
        .0,
        410
    );
    let (status, body) = api(
        &fake,
        reqwest::Method::GET,
        "/calendars/primary/events/unknown0000",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["errors"][0]["reason"], "notFound");

    // Calendar ids are percent-decoded; unknown calendars are created on first write only.
    let team = "/calendars/team%40group.calendar.google.com/events";
    assert_eq!(
        api(&fake, reqwest::Method::GET, team, Some(&access), None)
            .await
            .0,
        404
    );
    let (status, _) = api(
        &fake,
        reqwest::Method::POST,
        team,
        Some(&access),
        Some(timed_event("t", 9)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.events(DEFAULT_ACCOUNT, "team@group.calendar.google.com")
            .len(),
        1
    );
    assert_eq!(
        api(&fake, reqwest::Method::GET, team, Some(&access), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn faults_are_consumed_in_order_per_route() {
    let fake = fake().await;
    let (access, refresh) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let path = "/calendars/primary/events";
    fake.fail_next(Route::EventsList, Fault::RateLimit403, 1);
    fake.fail_next(Route::EventsList, Fault::Status(503), 1);
    fake.fail_next(Route::Calendar, Fault::Gone, 1);
    fake.fail_next(Route::Token, Fault::Status(500), 1);

    let (status, body) = api(&fake, reqwest::Method::GET, path, Some(&access), None).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"error": {"code": 403, "message": "Rate Limit Exceeded", "errors": [
            {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}})
    );
    let (status, body) = api(&fake, reqwest::Method::GET, path, Some(&access), None).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["errors"][0]["reason"], "backendError");
    // EventsList is drained; the Calendar group fault applies next (even to a GET of an event).
    let (status, body) = api(
        &fake,
        reqwest::Method::GET,
        &format!("{path}/abcde"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["errors"][0]["reason"], "fullSyncRequired");
    assert_eq!(
        api(&fake, reqwest::Method::GET, path, Some(&access), None)
            .await
            .0,
        200
    );

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
    ];
    assert_eq!(post_token(&fake, &form).await.0, 500);
    assert_eq!(post_token(&fake, &form).await.0, 200);

    fake.fail_next(Route::Any, Fault::Drop, 1);
    let dropped = reqwest::Client::new()
        .get(format!("{}/calendar/v3{path}", fake.origin()))
        .bearer_auth(&access)
        .send()
        .await;
    assert!(dropped.is_err(), "expected a dropped connection");
    fake.fail_next(Route::Calendar, Fault::Slow(Duration::from_millis(200)), 1);
    let started = std::time::Instant::now();
    assert_eq!(
        api(&fake, reqwest::Method::GET, path, Some(&access), None)
            .await
            .0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(200));

    fake.set_down(true);
    assert_eq!(
        api(&fake, reqwest::Method::GET, path, Some(&access), None)
            .await
            .0,
        503
    );
    assert_eq!(post_token(&fake, &form).await.0, 503);
    fake.set_down(false);
    assert_eq!(
        api(&fake, reqwest::Method::GET, path, Some(&access), None)
            .await
            .0,
        200
    );
    assert_eq!(fake.token_calls("refresh_token"), 3);
}

#[tokio::test]
async fn watch_push_and_stop() {
    let fake = fake().await;
    let (access, _) = fake.issue_tokens(&[CALENDAR_EVENTS_SCOPE]);
    let received: Arc<Mutex<Vec<crate::fakes::server::Incoming>>> = Arc::default();
    let sink = received.clone();
    let receiver = Server::start(move |req| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push(req);
            let mut response = axum::response::Response::new(axum::body::Body::empty());
            *response.status_mut() = http::StatusCode::OK;
            Outcome::Respond(response)
        }
    })
    .await
    .unwrap();

    let address = format!("{}/webhooks/google", receiver.origin());
    let watch = json!({"id": "chan-1", "type": "web_hook", "address": address, "token": "tok"});
    let (status, channel) = api(
        &fake,
        reqwest::Method::POST,
        "/calendars/primary/events/watch",
        Some(&access),
        Some(watch.clone()),
    )
    .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["kind"], "api#channel");
    assert_eq!(channel["id"], "chan-1");
    assert_eq!(channel["token"], "tok");
    let expiration: i64 = channel["expiration"].as_str().unwrap().parse().unwrap();
    assert!(expiration > chrono::Utc::now().timestamp_millis() + 6 * 24 * 3600 * 1000);
    let (status, _) = api(
        &fake,
        reqwest::Method::POST,
        "/calendars/primary/events/watch",
        Some(&access),
        Some(watch),
    )
    .await;
    assert_eq!(status, 400, "channel ids are unique");
    let (status, _) = api(
        &fake,
        reqwest::Method::POST,
        "/calendars/primary/events/watch",
        Some(&access),
        Some(json!({"id": "chan-2", "type": "web_hook", "address": "/relative"})),
    )
    .await;
    assert_eq!(status, 400);

    assert_eq!(fake.push("chan-1", "sync").await.unwrap(), 200);
    assert_eq!(fake.push("chan-1", "exists").await.unwrap(), 200);
    {
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 2);
        let last = &received[1];
        assert_eq!(last.method, http::Method::POST);
        assert_eq!(last.path, "/webhooks/google");
        assert_eq!(last.header("x-goog-channel-id"), Some("chan-1"));
        assert_eq!(last.header("x-goog-channel-token"), Some("tok"));
        assert_eq!(last.header("x-goog-resource-state"), Some("exists"));
        assert_eq!(last.header("x-goog-message-number"), Some("2"));
        assert_eq!(
            last.header("x-goog-resource-id"),
            channel["resourceId"].as_str()
        );
        assert!(
            last.header("x-goog-channel-expiration")
                .is_some_and(|e| e.ends_with("GMT"))
        );
        assert!(last.body.is_empty());
    }

    let stop = json!({"id": "chan-1", "resourceId": channel["resourceId"]});
    let stop_path = "/channels/stop";
    let (status, _) = api(
        &fake,
        reqwest::Method::POST,
        stop_path,
        Some(&access),
        Some(stop.clone()),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = api(
        &fake,
        reqwest::Method::POST,
        stop_path,
        Some(&access),
        Some(stop),
    )
    .await;
    assert_eq!(status, 404);
    assert!(fake.push("chan-1", "exists").await.is_err());
    assert!(fake.channels().is_empty());
}
