//! The user-data REST service (SPEC section 4): users, stored Google credentials and
//! notifications. Reads and writes are retried on 5xx and connection errors.

use crate::config::Config;
use crate::delivery::cloudevent::CloudEvent;
use crate::http::problem::{Code, Problem};
use crate::model::user_id::UserId;
use crate::outbound::{HttpRequest, HttpResponse, Outbound, TransportError, backoff};
use crate::secret::RestServiceToken;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const TRIES: u32 = 3;
const BACKOFF_BASE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStatus {
    Active,
    Invalid,
}

/// The stored credential record; the `_enc` fields are `v1:` ciphertexts (see `crypto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub provider: String,
    pub access_token_enc: String,
    pub refresh_token_enc: String,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub status: CredentialStatus,
    pub updated_at: DateTime<Utc>,
}

/// Failures of the REST service, mapped once to problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    #[error("the user-data service is unavailable ({0})")]
    Unavailable(String),
    #[error("the user-data service answered {0} unexpectedly")]
    Unexpected(u16),
    #[error("the user-data service sent a body we cannot read")]
    BadBody,
}

impl From<RestError> for Problem {
    fn from(e: RestError) -> Self {
        let code = match e {
            RestError::Unavailable(_) => Code::RestUnavailable,
            RestError::Unexpected(_) | RestError::BadBody => Code::RestError,
        };
        Problem::new(code, e.to_string())
    }
}

pub struct RestClient<'a, O: Outbound> {
    base: String,
    token: Option<RestServiceToken>,
    http: &'a O,
}

impl<'a, O: Outbound> RestClient<'a, O> {
    /// The client of the configured service (`rest_service_url`, `rest_service_token`).
    pub fn configured(cfg: &Config<'_>, http: &'a O) -> Result<Self, Problem> {
        let settings = cfg.rest()?;
        Ok(Self::new(
            settings.base.clone(),
            settings.token.clone(),
            http,
        ))
    }

    pub fn new(base: impl Into<String>, token: Option<RestServiceToken>, http: &'a O) -> Self {
        RestClient {
            base: base.into().trim_end_matches('/').to_owned(),
            token,
            http,
        }
    }

    pub async fn get_user(&self, user: &UserId) -> Result<Option<User>, RestError> {
        let resp = self
            .call(
                "GET",
                &format!("/users/{}", user.to_path_segment()),
                None,
                None,
                true,
            )
            .await?;
        match resp.status().as_u16() {
            200 => parse(&resp).map(Some),
            404 => Ok(None),
            s => Err(RestError::Unexpected(s)),
        }
    }

    pub async fn get_credentials(
        &self,
        user: &UserId,
    ) -> Result<Option<CredentialRecord>, RestError> {
        let resp = self.call("GET", &cred_path(user), None, None, true).await?;
        match resp.status().as_u16() {
            200 => parse(&resp).map(Some),
            404 => Ok(None),
            s => Err(RestError::Unexpected(s)),
        }
    }

    pub async fn put_credentials(
        &self,
        user: &UserId,
        record: &CredentialRecord,
    ) -> Result<(), RestError> {
        let body = serde_json::to_vec(record).map_err(|_| RestError::BadBody)?;
        let resp = self
            .call("PUT", &cred_path(user), Some(body), None, true)
            .await?;
        match resp.status().as_u16() {
            200 | 201 | 204 => Ok(()),
            s => Err(RestError::Unexpected(s)),
        }
    }

    /// Whether a record was there to delete.
    pub async fn delete_credentials(&self, user: &UserId) -> Result<bool, RestError> {
        let resp = self
            .call("DELETE", &cred_path(user), None, None, true)
            .await?;
        match resp.status().as_u16() {
            200 | 204 => Ok(true),
            404 => Ok(false),
            s => Err(RestError::Unexpected(s)),
        }
    }

    /// Delivers a CloudEvent; the REST service deduplicates by `Idempotency-Key` (its id),
    /// so retrying is safe.
    pub async fn post_notification(&self, event: &CloudEvent) -> Result<(), RestError> {
        let resp = self
            .call(
                "POST",
                "/notifications",
                Some(event.to_json()),
                Some(&event.id),
                true,
            )
            .await?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            s => Err(RestError::Unexpected(s)),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
        retry: bool,
    ) -> Result<HttpResponse, RestError> {
        let tries = if retry { TRIES } else { 1 };
        let mut last = RestError::Unavailable("no attempt".into());
        for attempt in 1..=tries {
            if attempt > 1 {
                self.http.sleep(backoff(attempt - 1, BACKOFF_BASE)).await;
            }
            let req = self.request(method, path, body.clone(), idempotency_key)?;
            match self.http.send(req).await {
                Ok(resp) if resp.status().is_server_error() => {
                    last = RestError::Unavailable(format!("status {}", resp.status().as_u16()));
                }
                Ok(resp) => return Ok(resp),
                // A refused destination will be refused again; a timed-out try already spent
                // the whole deadline, and three of them would outlast the request.
                Err(e @ (TransportError::Denied | TransportError::Timeout)) => {
                    return Err(RestError::Unavailable(e.to_string()));
                }
                Err(e) => last = RestError::Unavailable(e.to_string()),
            }
        }
        Err(last)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<HttpRequest, RestError> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("accept", "application/json");
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        if let Some(t) = &self.token {
            b = b.header("authorization", format!("Bearer {}", t.secret()));
        }
        if let Some(k) = idempotency_key {
            b = b.header("idempotency-key", k);
        }
        b.body(body.unwrap_or_default())
            .map_err(|_| RestError::Unavailable("rest_service_url is not a valid URL".into()))
    }
}

fn cred_path(user: &UserId) -> String {
    format!("/users/{}/credentials/google", user.to_path_segment())
}

fn parse<T: serde::de::DeserializeOwned>(resp: &HttpResponse) -> Result<T, RestError> {
    serde_json::from_slice(resp.body()).map_err(|_| RestError::BadBody)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Scripted, block};

    fn user() -> UserId {
        UserId::parse("ann@example.com").unwrap()
    }

    #[test]
    fn get_user_encodes_the_id_and_sends_the_token() {
        let http = Scripted::default().answer(
            200,
            r#"{"id":"ann@example.com","email":"a@x","time_zone":"Europe/Berlin"}"#,
        );
        let c = RestClient::new(
            "http://rest/",
            Some(RestServiceToken::new("rt".into())),
            &http,
        );
        let u = block(c.get_user(&user())).unwrap().unwrap();
        assert_eq!(u.time_zone.as_deref(), Some("Europe/Berlin"));
        let seen = http.seen.borrow();
        assert_eq!(seen[0].uri(), "http://rest/users/ann%40example.com");
        assert_eq!(seen[0].headers()["authorization"], "Bearer rt");
    }

    #[test]
    fn retries_5xx_and_connection_errors_three_times_then_gives_up() {
        let http = Scripted::default()
            .answer(500, "")
            .fail(TransportError::Connect)
            .answer(200, r#"{"id":"x"}"#);
        let c = RestClient::new("http://rest", None, &http);
        assert!(block(c.get_user(&user())).unwrap().is_some());
        assert_eq!(http.seen.borrow().len(), 3);
        assert_eq!(http.slept.borrow().len(), 2);

        let http = Scripted::default()
            .answer(503, "")
            .answer(502, "")
            .answer(500, "")
            .answer(200, "{}");
        let c = RestClient::new("http://rest", None, &http);
        let e = block(c.get_user(&user())).unwrap_err();
        assert!(matches!(e, RestError::Unavailable(_)));
        assert_eq!(Problem::from(e).code, Code::RestUnavailable);
        assert_eq!(http.seen.borrow().len(), 3);
    }

    #[test]
    fn a_timeout_is_not_retried() {
        let http = Scripted::default()
            .fail(TransportError::Timeout)
            .answer(200, "{}");
        let c = RestClient::new("http://rest", None, &http);
        assert!(matches!(
            block(c.get_user(&user())),
            Err(RestError::Unavailable(_))
        ));
        assert_eq!(http.seen.borrow().len(), 1);
    }

    #[test]
    fn not_found_is_none_and_4xx_is_not_retried() {
        let http = Scripted::default().answer(404, "").answer(400, "");
        let c = RestClient::new("http://rest", None, &http);
        assert_eq!(block(c.get_credentials(&user())).unwrap(), None);
        assert_eq!(
            block(c.get_credentials(&user())).unwrap_err(),
            RestError::Unexpected(400)
        );
        assert_eq!(http.seen.borrow().len(), 2);
    }

    #[test]
    fn notifications_carry_the_event_id_as_idempotency_key() {
        let http = Scripted::default().answer(202, "");
        let c = RestClient::new("http://rest", None, &http);
        let ev = CloudEvent::new(
            crate::delivery::cloudevent::EventType::EventCreated,
            &user(),
            serde_json::json!({}),
        );
        block(c.post_notification(&ev)).unwrap();
        assert_eq!(
            http.seen.borrow()[0].headers()["idempotency-key"],
            ev.id.as_str()
        );
    }
}
