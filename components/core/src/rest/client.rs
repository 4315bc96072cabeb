//! The user-data REST service (SPEC section 4): users, stored Google credentials and
//! notifications. Reads and writes are retried on 5xx and connection errors.

use crate::config::{Config, ConfigError};
use crate::delivery::cloudevent::CloudEvent;
use crate::model::user_id::UserId;
use crate::outbound::{HttpRequest, HttpResponse, Outbound, TransportError, backoff};
use crate::secret::RestServiceToken;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// A credential record read for its status only (`GET /auth/status`): the other fields
/// must be there and be strings, as in a [`CredentialRecord`], but are not copied, and
/// `updated_at` is not parsed as a time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CredentialSummary {
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub status: CredentialStatus,
    #[serde(rename = "provider")]
    _provider: AnyString,
    #[serde(rename = "access_token_enc")]
    _access_token_enc: AnyString,
    #[serde(rename = "refresh_token_enc")]
    _refresh_token_enc: AnyString,
    #[serde(rename = "updated_at")]
    _updated_at: AnyString,
}

/// A string that must be present, read without keeping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AnyString;

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AnyString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<AnyString, E> {
                Ok(AnyString)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// Failures of the REST service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// It answered 5xx.
    #[error("the user-data service is unavailable (status {0})")]
    ServerError(u16),
    /// No answer: refused destination, timeout or connection failure.
    #[error("the user-data service is unavailable ({0})")]
    Transport(TransportError),
    #[error("the user-data service is unavailable (rest_service_url is not a valid URL)")]
    BadUrl,
    /// An answer the contract does not have for this request (a 4xx, say).
    #[error("the user-data service answered {0} unexpectedly")]
    Unexpected(u16),
    #[error("the user-data service sent a body we cannot read")]
    BadBody,
    /// 404 to a write for the user: the user is gone (deleted since the flow began).
    #[error("the user-data service does not know this user")]
    UserNotFound,
}

impl RestError {
    /// A stable snake_case name of what happened, for logs and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            RestError::ServerError(_) => "rest_server_error",
            RestError::Transport(TransportError::Denied) => "rest_not_allowed",
            RestError::Transport(TransportError::Timeout) => "rest_timeout",
            RestError::Transport(TransportError::Connect) => "rest_unreachable",
            RestError::BadUrl => "rest_bad_url",
            RestError::Unexpected(_) => "rest_unexpected_status",
            RestError::BadBody => "rest_bad_body",
            RestError::UserNotFound => "rest_user_not_found",
        }
    }

    /// Whether trying again later may succeed: the service was down or unreachable. A
    /// refused destination, a bad URL or an answer we cannot use repeat every time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RestError::ServerError(_)
                | RestError::Transport(TransportError::Timeout | TransportError::Connect)
        )
    }

    /// Whether another try within this call is worth it: transient, except a timeout,
    /// which already spent the whole deadline (three would outlast the request).
    fn retry_now(&self) -> bool {
        self.is_transient() && *self != RestError::Transport(TransportError::Timeout)
    }
}

pub struct RestClient<'a, O: Outbound> {
    base: Cow<'a, str>,
    token: Option<Cow<'a, RestServiceToken>>,
    http: &'a O,
}

impl<'a, O: Outbound> RestClient<'a, O> {
    /// The client of the configured service (`rest_service_url`, `rest_service_token`),
    /// borrowing both from the configuration.
    pub fn configured(cfg: &'a Config<'_>, http: &'a O) -> Result<Self, ConfigError> {
        let settings = cfg.rest()?;
        Ok(RestClient {
            // Without a trailing slash already (`Config::rest`).
            base: Cow::Borrowed(&settings.base),
            token: settings.token.as_ref().map(Cow::Borrowed),
            http,
        })
    }

    /// A client of the service at `base` (the tests' own).
    #[cfg(test)]
    pub fn new(base: impl Into<String>, token: Option<RestServiceToken>, http: &'a O) -> Self {
        RestClient {
            base: Cow::Owned(base.into().trim_end_matches('/').to_owned()),
            token: token.map(Cow::Owned),
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
        found(&resp)
    }

    pub async fn get_credentials(
        &self,
        user: &UserId,
    ) -> Result<Option<CredentialRecord>, RestError> {
        self.get_credentials_as(user).await
    }

    /// The stored record read as `T`: all of it ([`CredentialRecord`]), or what a route
    /// needs ([`CredentialSummary`]).
    pub async fn get_credentials_as<T: serde::de::DeserializeOwned>(
        &self,
        user: &UserId,
    ) -> Result<Option<T>, RestError> {
        found(&self.call("GET", &cred_path(user), None, None, true).await?)
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
            404 => Err(RestError::UserNotFound),
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = self.request(method, path, body.clone(), idempotency_key)?;
            let error = match self.http.send(req).await {
                Ok(resp) if resp.status().is_server_error() => {
                    RestError::ServerError(resp.status().as_u16())
                }
                Ok(resp) => return Ok(resp),
                Err(e) => RestError::Transport(e),
            };
            if attempt >= tries || !error.retry_now() {
                return Err(error);
            }
            self.http.sleep(backoff(attempt, BACKOFF_BASE)).await;
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<HttpRequest, RestError> {
        use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName};
        const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
        let bearer = self
            .token
            .as_ref()
            .map(|t| ["Bearer ", t.secret()].concat());
        let mut headers = Vec::with_capacity(4);
        headers.push((ACCEPT, "application/json"));
        if body.is_some() {
            headers.push((CONTENT_TYPE, "application/json"));
        }
        if let Some(b) = &bearer {
            headers.push((AUTHORIZATION, b.as_str()));
        }
        if let Some(k) = idempotency_key {
            headers.push((IDEMPOTENCY_KEY, k));
        }
        let uri = [&*self.base, path].concat();
        crate::outbound::request(method, uri, &headers, body.unwrap_or_default())
            .ok_or(RestError::BadUrl)
    }
}

fn cred_path(user: &UserId) -> String {
    format!("/users/{}/credentials/google", user.to_path_segment())
}

/// 200 with the record, or 404: none.
fn found<T: serde::de::DeserializeOwned>(resp: &HttpResponse) -> Result<Option<T>, RestError> {
    match resp.status().as_u16() {
        200 => parse(resp).map(Some),
        404 => Ok(None),
        s => Err(RestError::Unexpected(s)),
    }
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
        assert_eq!(e, RestError::ServerError(500));
        assert!(e.is_transient());
        assert_eq!(http.seen.borrow().len(), 3);
    }

    #[test]
    fn a_timeout_is_not_retried() {
        let http = Scripted::timing_out();
        let c = RestClient::new("http://rest", None, &http);
        assert_eq!(
            block(c.get_user(&user())),
            Err(RestError::Transport(TransportError::Timeout))
        );
        http.assert_tried_once();
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
    fn a_summary_reads_what_a_full_record_reads_and_refuses_what_it_refuses() {
        let full = r#"{"provider":"google","access_token_enc":"v1:a","refresh_token_enc":"v1:r",
            "expires_at":"2030-01-01T00:00:00Z","scopes":["s1","s2"],"status":"invalid",
            "updated_at":"2025-01-01T00:00:00Z"}"#;
        let http = Scripted::default().answer(200, full).answer(200, full);
        let c = RestClient::new("http://rest", None, &http);
        let record = block(c.get_credentials(&user())).unwrap().unwrap();
        let summary: CredentialSummary = block(c.get_credentials_as(&user())).unwrap().unwrap();
        assert_eq!(summary.expires_at, record.expires_at);
        assert_eq!(summary.scopes, ["s1", "s2"]);
        assert_eq!(summary.status, CredentialStatus::Invalid);
        // A record missing a token, or with one that is not a string, is unreadable to both.
        let full: serde_json::Value = serde_json::from_str(full).unwrap();
        for (field, bad) in [
            ("refresh_token_enc", None),
            ("access_token_enc", Some(serde_json::json!(7))),
            ("provider", None),
            ("expires_at", Some(serde_json::json!("soon"))),
        ] {
            let mut v = full.clone();
            match bad {
                Some(b) => v[field] = b,
                None => {
                    v.as_object_mut().unwrap().remove(field);
                }
            }
            let body = v.to_string();
            let http = Scripted::default().answer(200, &body).answer(200, &body);
            let c = RestClient::new("http://rest", None, &http);
            assert_eq!(
                block(c.get_credentials(&user())),
                Err(RestError::BadBody),
                "{field}"
            );
            assert_eq!(
                block(c.get_credentials_as::<CredentialSummary>(&user())),
                Err(RestError::BadBody),
                "{field}"
            );
        }
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

    #[test]
    fn kinds_are_stable_and_only_an_absent_service_is_transient() {
        let cases = [
            (RestError::ServerError(502), "rest_server_error", true, true),
            (
                RestError::Transport(TransportError::Connect),
                "rest_unreachable",
                true,
                true,
            ),
            (
                RestError::Transport(TransportError::Timeout),
                "rest_timeout",
                true,
                false,
            ),
            (
                RestError::Transport(TransportError::Denied),
                "rest_not_allowed",
                false,
                false,
            ),
            (RestError::BadUrl, "rest_bad_url", false, false),
            (
                RestError::Unexpected(409),
                "rest_unexpected_status",
                false,
                false,
            ),
            (RestError::BadBody, "rest_bad_body", false, false),
            (RestError::UserNotFound, "rest_user_not_found", false, false),
        ];
        for (e, kind, transient, retry_now) in cases {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.is_transient(), transient, "{e:?}");
            assert_eq!(e.retry_now(), retry_now, "{e:?}");
        }
    }
}
