//! The Google Calendar v3 client: bearer token from the token provider, one refresh and
//! retry on 401, bounded retries with backoff and jitter on 429, rate-limit 403s and
//! 5xx (at most 3 tries, at most 2 s of waiting), Google's error JSON read once.

use crate::credentials::provider as tokens;
use crate::http::problem::{Code, Problem};
use crate::model::user_id::{UserId, encode_segment};
use crate::outbound::{HttpRequest, Outbound, TransportError, backoff};
use crate::secret::AccessToken;
use crate::services::Services;
use serde_json::Value;
use std::time::Duration;

const TRIES: u32 = 3;
const WAIT_BUDGET: Duration = Duration::from_secs(2);
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// A non-success answer of Google that the caller may want to interpret (404, 409, 410).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleStatus {
    pub status: u16,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Google(GoogleStatus),
    Problem(Problem),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Failure::Problem(p)
    }
}

impl From<Failure> for Problem {
    /// The default reading of Google's answers; callers match the cases they treat
    /// differently first.
    fn from(f: Failure) -> Problem {
        match f {
            Failure::Problem(p) => p,
            Failure::Google(g) => {
                let msg: String = g.message.chars().take(300).collect();
                match g.status {
                    400 => Problem::new(
                        Code::InvalidRequest,
                        format!("Google rejected the request: {msg}"),
                    ),
                    403 => Problem::new(
                        Code::InsufficientPermissions,
                        format!("Google refused: {msg}"),
                    ),
                    404 | 410 => Problem::new(Code::EventNotFound, "no such event or calendar"),
                    s => Problem::new(Code::UpstreamError, format!("Google answered {s}: {msg}")),
                }
            }
        }
    }
}

fn reason_of(body: &Value) -> (String, String) {
    let err = &body["error"];
    let reason = err["errors"][0]["reason"].as_str().unwrap_or("").to_owned();
    let message = err["message"].as_str().unwrap_or("").to_owned();
    (reason, message)
}

/// Calendar API calls on behalf of one user.
pub struct Calendar<'a, 'b, O: Outbound> {
    svc: &'a Services<'b, O>,
    user: &'a UserId,
    base: String,
}

enum Retry {
    RateLimited(Option<u64>),
    Unavailable,
}

impl<'a, 'b, O: Outbound> Calendar<'a, 'b, O> {
    pub fn new(svc: &'a Services<'b, O>, user: &'a UserId) -> Result<Self, Problem> {
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

    pub async fn list(&self, calendar: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        self.call("GET", &self.events_path(calendar), query, None)
            .await
    }

    pub async fn insert(&self, calendar: &str, body: &Value) -> Result<Value, Failure> {
        self.call("POST", &self.events_path(calendar), &[], Some(body))
            .await
    }

    pub async fn get(&self, calendar: &str, id: &str) -> Result<Value, Failure> {
        let path = format!("{}/{}", self.events_path(calendar), encode_segment(id));
        self.call("GET", &path, &[], None).await
    }

    pub async fn patch(&self, calendar: &str, id: &str, body: &Value) -> Result<Value, Failure> {
        let path = format!("{}/{}", self.events_path(calendar), encode_segment(id));
        self.call("PATCH", &path, &[], Some(body)).await
    }

    pub async fn delete(&self, calendar: &str, id: &str) -> Result<(), Failure> {
        let path = format!("{}/{}", self.events_path(calendar), encode_segment(id));
        self.call("DELETE", &path, &[], None).await.map(|_| ())
    }

    /// `events.watch`: a push channel to `address`, authenticated by `token`.
    pub async fn watch(&self, calendar: &str, body: &Value) -> Result<Value, Failure> {
        let path = format!("{}/watch", self.events_path(calendar));
        self.call("POST", &path, &[], Some(body)).await
    }

    /// `calendarList.list`: one page.
    pub async fn calendar_list(&self, query: &[(&str, String)]) -> Result<Value, Failure> {
        self.call("GET", "/users/me/calendarList", query, None)
            .await
    }

    /// `freebusy.query`
    pub async fn freebusy(&self, body: &Value) -> Result<Value, Failure> {
        self.call("POST", "/freeBusy", &[], Some(body)).await
    }

    /// `channels.stop`
    pub async fn stop_channel(&self, body: &Value) -> Result<(), Failure> {
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
        token: &AccessToken,
    ) -> Result<HttpRequest, Problem> {
        let mut url = format!("{}{path}", self.base);
        if !query.is_empty() {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            url = format!("{url}?{}", q.finish());
        }
        let mut b = http::Request::builder()
            .method(method)
            .uri(url)
            .header("authorization", format!("Bearer {}", token.secret()))
            .header("accept", "application/json");
        let bytes = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                serde_json::to_vec(v).unwrap_or_default()
            }
            None => Vec::new(),
        };
        b.body(bytes).map_err(|_| {
            Problem::new(
                Code::ConfigInvalid,
                "google_api_origin does not make a valid URL",
            )
        })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut token = tokens::access_token(self.svc, self.user).await?;
        let mut refreshed = false;
        let mut tries = 0;
        let mut waited = Duration::ZERO;
        loop {
            tries += 1;
            let req = self.request(method, path, query, body, &token)?;
            let retry = match self.svc.http.send(req).await {
                Err(TransportError::Denied) => {
                    return Err(Problem::new(
                        Code::UpstreamUnavailable,
                        "google_api_origin is not in allowed_outbound_hosts",
                    )
                    .into());
                }
                // A try that timed out already took longer than the whole retry budget:
                // another one could only make the caller wait past any sane deadline.
                Err(TransportError::Timeout) => {
                    let mut p = Problem::new(
                        Code::UpstreamUnavailable,
                        "Google Calendar did not answer in time",
                    );
                    p.retry_after = Some(5);
                    return Err(p.into());
                }
                Err(TransportError::Connect) => Retry::Unavailable,
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let json: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
                    match status {
                        200..=299 => return Ok(json),
                        401 if !refreshed => {
                            token = tokens::refresh_after_rejection(self.svc, self.user, &token)
                                .await?;
                            refreshed = true;
                            tries -= 1;
                            continue;
                        }
                        401 => {
                            return Err(Problem::new(
                                Code::ReauthorizationRequired,
                                "Google rejected a freshly refreshed token; authorize again",
                            )
                            .into());
                        }
                        429 => Retry::RateLimited(retry_after),
                        403 => {
                            let (reason, message) = reason_of(&json);
                            if matches!(
                                reason.as_str(),
                                "rateLimitExceeded" | "userRateLimitExceeded"
                            ) {
                                Retry::RateLimited(retry_after)
                            } else {
                                return Err(Failure::Google(GoogleStatus {
                                    status,
                                    reason,
                                    message,
                                }));
                            }
                        }
                        500..=599 => Retry::Unavailable,
                        _ => {
                            let (reason, message) = reason_of(&json);
                            return Err(Failure::Google(GoogleStatus {
                                status,
                                reason,
                                message,
                            }));
                        }
                    }
                }
            };
            let wait = match &retry {
                Retry::RateLimited(Some(secs)) => {
                    Duration::from_secs(*secs).max(backoff(tries, BACKOFF_BASE))
                }
                _ => backoff(tries, BACKOFF_BASE),
            };
            if tries >= TRIES || waited + wait > WAIT_BUDGET {
                return Err(give_up(retry).into());
            }
            self.svc.http.sleep(wait).await;
            waited += wait;
        }
    }
}

fn give_up(retry: Retry) -> Problem {
    match retry {
        Retry::RateLimited(after) => {
            let mut p = Problem::new(
                Code::UpstreamRateLimited,
                "Google's rate limit for this user or project was reached; retry later",
            );
            p.retry_after = Some(after.unwrap_or(5).clamp(1, 3600) as u32);
            p
        }
        Retry::Unavailable => {
            let mut p = Problem::new(
                Code::UpstreamUnavailable,
                "Google Calendar did not answer successfully after retries",
            );
            p.retry_after = Some(5);
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::cipher::TokenCipher;
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
        let cipher = TokenCipher::new(crate::config::Config::new(vars).encryption_key().unwrap());
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

    fn list(http: &Scripted) -> Result<Value, Failure> {
        let vars = vars();
        let user = UserId::parse("u1").unwrap();
        let store = store_with_token(&vars, &user);
        let svc = Services {
            cfg: &crate::config::Config::new(&vars),
            http,
            store: &store,
        };
        block(async {
            let cal = Calendar::new(&svc, &user)?;
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
        let Failure::Problem(p) = list(&down).unwrap_err() else {
            panic!("a problem")
        };
        assert_eq!(p.code, Code::UpstreamUnavailable);
        assert_eq!(down.seen.borrow().len(), 3);
    }

    #[test]
    fn a_timeout_is_not_retried() {
        // Each try may take the whole outbound timeout: retrying one would keep the
        // caller waiting several times longer than the retry budget.
        let http = Scripted::default()
            .fail(TransportError::Timeout)
            .answer(200, "{}");
        let Failure::Problem(p) = list(&http).unwrap_err() else {
            panic!("a problem")
        };
        assert_eq!(p.code, Code::UpstreamUnavailable);
        assert!(p.retry_after.is_some());
        assert_eq!(http.seen.borrow().len(), 1);
        assert!(http.slept.borrow().is_empty());
    }
}
