//! The Google Calendar v3 client: bearer token from the token provider, one refresh and
//! retry on 401, bounded retries with backoff and jitter on 429, rate-limit 403s and
//! 5xx (at most 3 tries, at most 2 s of waiting), Google's error JSON read once.

use crate::config::ConfigError;
use crate::credentials::provider as tokens;
use crate::google::GoogleError;
use crate::model::user_id::{UserId, encode_segment};
use crate::outbound::{HttpRequest, HttpResponse, Outbound, TransportError, backoff};
use crate::secret::AccessToken;
use crate::services::Services;
use serde_json::Value;
use std::time::Duration;

const TRIES: u32 = 3;
const WAIT_BUDGET: Duration = Duration::from_secs(2);
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// Google's answer: a success as it is (its JSON is read by whoever needs it), else what
/// Google says went wrong (its error JSON read once).
fn check(resp: HttpResponse) -> Result<HttpResponse, GoogleError> {
    let status = resp.status().as_u16();
    if (200..=299).contains(&status) {
        return Ok(resp);
    }
    let json: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    let retry_after = crate::http::request::header_str(resp.headers(), http::header::RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok());
    let err = &json["error"];
    let reason = err["errors"][0]["reason"].as_str().unwrap_or("");
    let message: String = err["message"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    Err(match status {
        400 => GoogleError::Invalid { message },
        401 => GoogleError::Unauthorized,
        403 if matches!(reason, "rateLimitExceeded" | "userRateLimitExceeded") => {
            GoogleError::RateLimited { retry_after }
        }
        403 if reason == "insufficientPermissions" => GoogleError::ScopeMissing { message },
        403 => GoogleError::Forbidden { message },
        404 => GoogleError::NotFound,
        409 => GoogleError::Conflict { message },
        410 => GoogleError::Gone,
        412 => GoogleError::Stale,
        429 => GoogleError::RateLimited { retry_after },
        500..=599 => GoogleError::Unavailable,
        status => GoogleError::Rejected { status, message },
    })
}

/// A success's JSON; one without JSON (an empty 204) reads as null.
fn json(resp: HttpResponse) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or(Value::Null)
}

fn transport(e: TransportError) -> GoogleError {
    match e {
        TransportError::Denied => GoogleError::NotAllowed,
        TransportError::Timeout => GoogleError::Timeout,
        TransportError::Connect => GoogleError::Unavailable,
    }
}

/// Calendar API calls on behalf of one user.
pub struct Calendar<'a, 'b, O: Outbound> {
    svc: &'a Services<'b, O>,
    user: &'a UserId,
    base: String,
}

impl<'a, 'b, O: Outbound> Calendar<'a, 'b, O> {
    pub fn new(svc: &'a Services<'b, O>, user: &'a UserId) -> Result<Self, ConfigError> {
        let origin = svc.cfg.google_api_origin()?;
        Ok(Calendar {
            svc,
            user,
            base: format!("{origin}/calendar/v3"),
        })
    }

    fn events_path(&self, calendar: &str) -> String {
        format!("/calendars/{}/events", encode_segment(calendar))
    }

    fn event_path(&self, calendar: &str, id: &str) -> String {
        format!("{}/{}", self.events_path(calendar), encode_segment(id))
    }

    pub async fn list(
        &self,
        calendar: &str,
        query: &[(&str, String)],
    ) -> Result<Value, GoogleError> {
        Ok(json(self.list_raw(calendar, query).await?))
    }

    /// `events.list`, Google's JSON unread: the list route reads it once, typed
    /// ([`crate::model::event::GooglePage`]), instead of building a JSON tree first.
    pub async fn list_raw(
        &self,
        calendar: &str,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, GoogleError> {
        self.send("GET", &self.events_path(calendar), query, None, None)
            .await
    }

    /// `events.insert`, Google's JSON unread (read typed by [`crate::model::event::GoogleEvent`]).
    pub async fn insert_raw(
        &self,
        calendar: &str,
        body: &Value,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, GoogleError> {
        self.send("POST", &self.events_path(calendar), query, Some(body), None)
            .await
    }

    pub async fn get(&self, calendar: &str, id: &str) -> Result<Value, GoogleError> {
        Ok(json(self.get_raw(calendar, id).await?))
    }

    /// `events.get`, Google's JSON unread (read typed by [`crate::model::event::GoogleEvent`]).
    pub async fn get_raw(&self, calendar: &str, id: &str) -> Result<HttpResponse, GoogleError> {
        self.send("GET", &self.event_path(calendar, id), &[], None, None)
            .await
    }

    /// `events.patch`; with `if_match` (an ETag), only if the event is still that
    /// version (`GoogleError::Stale` otherwise).
    pub async fn patch(
        &self,
        calendar: &str,
        id: &str,
        body: &Value,
        query: &[(&str, String)],
        if_match: Option<&str>,
    ) -> Result<Value, GoogleError> {
        let path = self.event_path(calendar, id);
        self.call_if("PATCH", &path, query, Some(body), if_match)
            .await
    }

    pub async fn delete(
        &self,
        calendar: &str,
        id: &str,
        query: &[(&str, String)],
    ) -> Result<(), GoogleError> {
        let path = self.event_path(calendar, id);
        self.call("DELETE", &path, query, None).await.map(|_| ())
    }

    /// `events.instances`: one page of the occurrences of a recurring event, Google's
    /// JSON unread (read typed by [`crate::model::event::GooglePage`], like the list).
    pub async fn instances(
        &self,
        calendar: &str,
        id: &str,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, GoogleError> {
        let path = format!("{}/instances", self.event_path(calendar, id));
        self.send("GET", &path, query, None, None).await
    }

    /// `events.watch`: a push channel to `address`, authenticated by `token`.
    pub async fn watch(&self, calendar: &str, body: &Value) -> Result<Value, GoogleError> {
        let path = format!("{}/watch", self.events_path(calendar));
        self.call("POST", &path, &[], Some(body)).await
    }

    /// `calendarList.list`: one page.
    pub async fn calendar_list(&self, query: &[(&str, String)]) -> Result<Value, GoogleError> {
        self.call("GET", "/users/me/calendarList", query, None)
            .await
    }

    /// `freebusy.query`
    pub async fn freebusy(&self, body: &Value) -> Result<Value, GoogleError> {
        self.call("POST", "/freeBusy", &[], Some(body)).await
    }

    /// `channels.stop`
    pub async fn stop_channel(&self, body: &Value) -> Result<(), GoogleError> {
        self.call("POST", "/channels/stop", &[], Some(body))
            .await
            .map(|_| ())
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
        token: &AccessToken,
    ) -> Result<HttpRequest, GoogleError> {
        let mut url = format!("{}{path}", self.base);
        if !query.is_empty() {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            url = format!("{url}?{}", q.finish());
        }
        use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, IF_MATCH};
        let bearer = ["Bearer ", token.secret()].concat();
        let mut headers = Vec::with_capacity(4);
        headers.push((AUTHORIZATION, bearer.as_str()));
        headers.push((ACCEPT, "application/json"));
        if let Some(etag) = if_match {
            headers.push((IF_MATCH, etag));
        }
        let bytes = match body {
            Some(v) => {
                headers.push((CONTENT_TYPE, "application/json"));
                serde_json::to_vec(v).unwrap_or_default()
            }
            None => Vec::new(),
        };
        crate::outbound::request(method, url, &headers, bytes).ok_or(GoogleError::BadOrigin)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, GoogleError> {
        self.call_if(method, path, query, body, None).await
    }

    async fn call_if(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, GoogleError> {
        Ok(json(self.send(method, path, query, body, if_match).await?))
    }

    /// The call with its token, one refresh on 401 and bounded retries: Google's
    /// successful answer, its body unread.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<HttpResponse, GoogleError> {
        let mut token = tokens::access_token(self.svc, self.user).await?;
        let mut refreshed = false;
        let mut tries = 0;
        let mut waited = Duration::ZERO;
        loop {
            tries += 1;
            let req = self.request(method, path, query, body, if_match, &token)?;
            let error = match self.svc.http.send(req).await {
                Ok(resp) => match check(resp) {
                    Ok(resp) => return Ok(resp),
                    // One refresh per call: a rejected token may just have been revoked
                    // or rotated by another request.
                    Err(GoogleError::Unauthorized) if !refreshed => {
                        token =
                            tokens::refresh_after_rejection(self.svc, self.user, &token).await?;
                        refreshed = true;
                        tries -= 1;
                        continue;
                    }
                    Err(e) => e,
                },
                Err(e) => transport(e),
            };
            if !error.retry_now() {
                return Err(error);
            }
            let wait = match &error {
                GoogleError::RateLimited {
                    retry_after: Some(secs),
                } => Duration::from_secs(*secs).max(backoff(tries, BACKOFF_BASE)),
                _ => backoff(tries, BACKOFF_BASE),
            };
            if tries >= TRIES || waited + wait > WAIT_BUDGET {
                return Err(error);
            }
            self.svc.http.sleep(wait).await;
            waited += wait;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::cipher::CacheCipher;
    use crate::testing::MemoryStore;
    use crate::testing::{Scripted, block};
    use base64::Engine as _;
    use std::collections::HashMap;

    const KEY: [u8; 32] = [7; 32];

    fn vars() -> HashMap<String, String> {
        [
            (
                "token_encryption_key".to_string(),
                base64::engine::general_purpose::STANDARD.encode(KEY),
            ),
            ("google_api_origin".to_string(), "http://google".to_string()),
        ]
        .into()
    }

    /// A store holding a fresh cached access token for `user`.
    fn store_with_token(vars: &HashMap<String, String>, user: &UserId) -> MemoryStore {
        let store = MemoryStore::default();
        let cipher = CacheCipher::new(crate::config::Config::new(vars).encryption_key().unwrap());
        let expires = chrono::Utc::now() + chrono::Duration::seconds(3600);
        tokens::cache(
            &store,
            &cipher,
            user,
            &AccessToken::new("ya29.t".into()),
            expires,
        )
        .unwrap();
        store
    }

    fn list(http: &Scripted) -> Result<Value, GoogleError> {
        let vars = vars();
        let user = UserId::parse("u1").unwrap();
        let store = store_with_token(&vars, &user);
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http,
            store: &store,
        };
        block(async {
            let cal =
                Calendar::new(&svc, &user).map_err(crate::credentials::CredentialError::from)?;
            cal.list("primary", &[]).await
        })
    }

    #[test]
    fn server_errors_and_dropped_connections_are_retried_three_times_in_all() {
        let http = Scripted::default()
            .answer(503, "")
            .fail(TransportError::Connect)
            .answer(200, r#"{"items": []}"#);
        assert_eq!(list(&http).unwrap(), serde_json::json!({"items": []}));
        assert_eq!(http.seen.borrow().len(), 3);
        assert_eq!(http.slept.borrow().len(), 2);
        assert!(http.slept.borrow().iter().sum::<Duration>() <= WAIT_BUDGET);

        let down = Scripted::default()
            .answer(500, "")
            .answer(502, "")
            .answer(503, "")
            .answer(200, "{}");
        assert_eq!(list(&down).unwrap_err(), GoogleError::Unavailable);
        assert_eq!(down.seen.borrow().len(), 3);
    }

    #[test]
    fn a_conditional_patch_sends_if_match_and_a_stale_etag_is_not_retried() {
        let vars = vars();
        let user = UserId::parse("u1").unwrap();
        let store = store_with_token(&vars, &user);
        let http = Scripted::default()
            .answer(412, r#"{"error":{"code":412,"message":"Precondition Failed","errors":[{"reason":"conditionNotMet"}]}}"#)
            .answer(200, "{}");
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http: &http,
            store: &store,
        };
        let query = [("sendUpdates", "all".to_owned())];
        let result = block(async {
            let cal =
                Calendar::new(&svc, &user).map_err(crate::credentials::CredentialError::from)?;
            cal.patch(
                "primary",
                "e1",
                &serde_json::json!({}),
                &query,
                Some("\"e1\""),
            )
            .await
        });
        assert_eq!(result.unwrap_err(), GoogleError::Stale);
        let seen = http.seen.borrow();
        assert_eq!(seen.len(), 1, "a stale write is the caller's to redo");
        assert_eq!(seen[0].headers()["if-match"], "\"e1\"");
        assert_eq!(
            seen[0].uri().to_string(),
            "http://google/calendar/v3/calendars/primary/events/e1?sendUpdates=all"
        );
    }

    #[test]
    fn a_timeout_is_not_retried() {
        // Each try may take the whole outbound timeout: retrying one would keep the
        // caller waiting several times longer than the retry budget.
        let http = Scripted::timing_out();
        let e = list(&http).unwrap_err();
        assert_eq!(e, GoogleError::Timeout);
        assert!(e.is_transient());
        http.assert_tried_once();
    }
}
