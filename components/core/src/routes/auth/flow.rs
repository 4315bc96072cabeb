//! The auth routes' work: start an authorization, finish it at the callback, report the
//! status, and revoke.

use super::state;
use crate::credentials::provider as tokens;
use crate::delivery::cloudevent::{self as notify, CloudEvent, EventType};
use crate::delivery::forget_user;
use crate::google::oauth::{OAuth, OAuthError, STATE_TTL_SECS};
use crate::http::problem::{Code, Problem};
use crate::log::{self, Level};
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::rest::client::{CredentialStatus, CredentialSummary, RestClient};
#[cfg(test)]
use crate::secret::AccessToken;
use crate::secret::{AuthorizationCode, RefreshToken};
use crate::services::Services;
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /auth/url/{user_id}`
pub async fn begin<O: Outbound>(svc: &Services<'_, O>, user: &UserId) -> Result<Value, Problem> {
    let oauth = OAuth::new(svc.cfg.oauth()?);
    let cipher = svc.cfg.cipher()?;
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    let profile = rest.get_user(user).await?.ok_or_else(|| {
        Problem::new(
            Code::UserNotFound,
            "the user-data service does not know this user",
        )
    })?;
    let already = matches!(rest.get_credentials(user).await?, Some(r) if r.status == CredentialStatus::Active);
    let req = oauth.authorization_request(profile.email.as_deref().filter(|e| !e.is_empty()));
    state::save_state(svc.store, cipher, user, &req)?;
    Ok(json!({
        "auth_url": req.url,
        "state": req.state,
        "expires_in": STATE_TTL_SECS,
        "already_authorized": already,
    }))
}

/// What the callback receives, from the query (GET) or a JSON body (POST).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl CallbackParams {
    /// From a query string. Google adds `scope`, `authuser`, `prompt`, `hd`...: ignored.
    pub fn from_query(query: &str) -> CallbackParams {
        let mut p = CallbackParams::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "code" => p.code = Some(v.into_owned()),
                "state" => p.state = Some(v.into_owned()),
                "error" => p.error = Some(v.into_owned()),
                _ => {}
            }
        }
        p
    }
}

/// The user authorized (or not): exchange the code, store the credentials encrypted,
/// publish `calendar.auth.completed`. Returns the user and the granted scopes.
pub async fn callback<O: Outbound>(
    svc: &Services<'_, O>,
    params: CallbackParams,
) -> Result<(UserId, Vec<String>), Problem> {
    let cipher = svc.cfg.cipher()?;
    if let Some(error) = params.error {
        // The state is spent either way, so a denied flow cannot be resumed.
        if let Some(state) = params.state.as_deref() {
            let _ = state::consume_state(svc.store, cipher, state);
        }
        let reason = if error.len() <= 64
            && error
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            error
        } else {
            "unknown".into()
        };
        return Err(Problem::new(
            Code::AuthorizationDenied,
            format!("Google reported `{reason}`: the user did not grant access"),
        ));
    }
    let (user, verifier) =
        state::consume_state(svc.store, cipher, params.state.as_deref().unwrap_or(""))?;
    let code = params
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .map(AuthorizationCode::new)
        .ok_or_else(|| Problem::new(Code::InvalidRequest, "`code` is required"))?;
    let oauth = OAuth::new(svc.cfg.oauth()?);
    let tokens = oauth.exchange_code(svc.http, code, verifier).await.map_err(|e| match e {
        OAuthError::InvalidGrant => Problem::new(Code::InvalidState, "the code was rejected: it is expired, used, or belongs to another authorization; start again"),
        other => other.into(),
    })?;
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    // Without a new refresh token the stored one is kept, but only while it works: an
    // `invalid` record's refresh token was already rejected by Google.
    let previous = match tokens.refresh {
        None => rest
            .get_credentials(&user)
            .await?
            .filter(|r| r.status == CredentialStatus::Active),
        Some(_) => None,
    };
    let access = tokens.access.clone();
    let record = tokens::store_tokens(cipher, &user, tokens, previous.as_ref())?;
    rest.put_credentials(&user, &record).await?;
    tokens::cache(
        svc.store,
        svc.cfg.cache_cipher()?,
        &user,
        &access,
        record.expires_at,
    )?;
    let channel = svc.cfg.auth_channel()?;
    let event = CloudEvent::new(
        EventType::AuthCompleted,
        &user,
        json!({"user_id": user.as_str(), "scopes": record.scopes}),
    );
    notify::publish(svc.store, channel, &event)?;
    Ok((user, record.scopes))
}

/// `GET /auth/status/{user_id}`
pub async fn status<O: Outbound>(svc: &Services<'_, O>, user: &UserId) -> Result<Status, Problem> {
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    Ok(
        match rest.get_credentials_as::<CredentialSummary>(user).await? {
            Some(r) => Status {
                authorized: r.status == CredentialStatus::Active,
                status: Some(r.status),
                scopes: r.scopes,
                expires_at: Some(
                    r.expires_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            },
            None => Status {
                authorized: false,
                status: None,
                scopes: Vec::new(),
                expires_at: None,
            },
        },
    )
}

/// The answer of `GET /auth/status/{user_id}` (SPEC section 3).
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Status {
    pub authorized: bool,
    pub status: Option<CredentialStatus>,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

/// `DELETE /auth/{user_id}`: stop the user's push channels and delete their channel and
/// sync records (first, while a token can still be had), revoke at Google (best effort),
/// delete the stored credentials and the cache, publish `calendar.auth.revoked`.
/// Idempotent.
pub async fn revoke<O: Outbound>(svc: &Services<'_, O>, user: &UserId) -> Result<(), Problem> {
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    let Some(record) = rest.get_credentials(user).await? else {
        forget_user(svc, user).await?;
        tokens::forget(svc.store, user)?;
        return Ok(());
    };
    forget_user(svc, user).await?;
    let cipher = svc.cfg.cipher()?;
    match cipher.decrypt::<RefreshToken>(&record.refresh_token_enc, user.as_str()) {
        Ok(refresh) => {
            let oauth = OAuth::new(svc.cfg.oauth()?);
            if let Err(e) = oauth.revoke(svc.http, &refresh).await {
                log::emit(
                    Level::Warn,
                    "revocation at Google failed; credentials are deleted anyway",
                    &[
                        ("user_id", user.as_str().into()),
                        ("error", e.to_string().into()),
                    ],
                );
            }
        }
        Err(_) => log::emit(
            Level::Warn,
            "stored refresh token does not decrypt; not revoked at Google",
            &[("user_id", user.as_str().into())],
        ),
    }
    rest.delete_credentials(user).await?;
    tokens::forget(svc.store, user)?;
    crate::http::rate_limit::forget(svc.store, user)?;
    let channel = svc.cfg.auth_channel()?;
    let event = CloudEvent::new(
        EventType::AuthRevoked,
        user,
        json!({"user_id": user.as_str()}),
    );
    Ok(notify::publish(svc.store, channel, &event)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_query_keeps_code_state_error_and_ignores_googles_extras() {
        let p =
            CallbackParams::from_query("state=s1&code=4%2F0Ab&scope=a+b&authuser=0&prompt=consent");
        assert_eq!(p.code.as_deref(), Some("4/0Ab"));
        assert_eq!(p.state.as_deref(), Some("s1"));
        assert!(p.error.is_none());
        let p = CallbackParams::from_query("error=access_denied&state=s1");
        assert_eq!(p.error.as_deref(), Some("access_denied"));
    }

    mod no_refresh_token {
        use super::super::*;
        use crate::credentials::cipher::TokenCipher;
        use crate::rest::client::CredentialRecord;
        use crate::testing::MemoryStore;
        use crate::testing::{Scripted, block};
        use base64::Engine as _;
        use std::collections::HashMap;

        fn vars() -> HashMap<String, String> {
            let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
            [
                ("google_client_id", "cid"),
                ("google_client_secret", "csecret"),
                ("google_redirect_uri", "https://app.example/auth/callback"),
                ("google_token_origin", "http://google.test"),
                ("rest_service_url", "http://rest.test"),
                ("token_encryption_key", key.as_str()),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        }

        /// A callback whose token response has no refresh token, with `stored` at REST.
        fn callback_with(
            stored: CredentialStatus,
        ) -> (Result<(UserId, Vec<String>), Problem>, Scripted) {
            let vars = vars();
            let cipher =
                TokenCipher::new(crate::config::Config::new(&vars).encryption_key().unwrap());
            let store = MemoryStore::default();
            let user = UserId::parse("u1").unwrap();
            let req = OAuth::new(crate::config::Config::new(&vars).oauth().unwrap())
                .authorization_request(None);
            state::save_state(&store, &cipher, &user, &req).unwrap();
            let record = CredentialRecord {
                provider: "google".into(),
                access_token_enc: cipher
                    .encrypt(&AccessToken::new("old-access".into()), "u1")
                    .unwrap(),
                refresh_token_enc: cipher
                    .encrypt(&RefreshToken::new("old-refresh".into()), "u1")
                    .unwrap(),
                expires_at: chrono::Utc::now(),
                scopes: vec![crate::config::defaults::GOOGLE_SCOPES.into()],
                status: stored,
                updated_at: chrono::Utc::now(),
            };
            let http = Scripted::default()
                .answer(
                    200,
                    r#"{"access_token":"new-access","token_type":"Bearer","expires_in":3599}"#,
                )
                .answer(200, &serde_json::to_string(&record).unwrap())
                .answer(200, "{}");
            let svc = Services {
                cfg: &crate::config::Config::new(&vars),
                http: &http,
                store: &store,
            };
            let params = CallbackParams {
                code: Some("4/0Acode".into()),
                state: Some(req.state.clone()),
                error: None,
            };
            let result = block(callback(&svc, params));
            (result, http)
        }

        #[test]
        fn an_active_stored_refresh_token_is_kept() {
            let (result, http) = callback_with(CredentialStatus::Active);
            assert_eq!(result.unwrap().0.as_str(), "u1");
            let seen = http.seen.borrow();
            let put: CredentialRecord = serde_json::from_slice(seen[2].body()).unwrap();
            assert_eq!(seen[2].method(), "PUT");
            let cipher = TokenCipher::new(
                crate::config::Config::new(&vars())
                    .encryption_key()
                    .unwrap(),
            );
            assert_eq!(
                cipher
                    .decrypt::<RefreshToken>(&put.refresh_token_enc, "u1")
                    .unwrap()
                    .secret(),
                "old-refresh"
            );
            assert_eq!(
                cipher
                    .decrypt::<AccessToken>(&put.access_token_enc, "u1")
                    .unwrap()
                    .secret(),
                "new-access"
            );
            assert_eq!(put.status, CredentialStatus::Active);
        }

        #[test]
        fn an_invalid_stored_refresh_token_is_not_revived() {
            let (result, http) = callback_with(CredentialStatus::Invalid);
            assert_eq!(result.unwrap_err().code, Code::NoRefreshToken);
            // Nothing was written back.
            assert!(http.seen.borrow().iter().all(|r| r.method() != "PUT"));
        }
    }

    #[test]
    fn callback_json_rejects_unknown_fields() {
        assert!(
            serde_json::from_str::<CallbackParams>(r#"{"code":"c","state":"s","x":1}"#).is_err()
        );
        let p: CallbackParams = serde_json::from_str(r#"{"code":"c","state":"s"}"#).unwrap();
        assert_eq!(p.code.as_deref(), Some("c"));
    }
}
