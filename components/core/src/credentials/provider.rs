//! The token provider: an access token for a user, from the cache (encrypted, in the
//! key-value store: one entry per user, replaced by each refresh and removed at a
//! disconnect, and served only until 60 s before the token expires), else the REST
//! service, refreshed at Google when within 60 s of expiry. One refresh at a time
//! per user (a Redis lock with a TTL); the others wait briefly and read the result.

use crate::credentials::CredentialError;
use crate::credentials::cipher::{CacheCipher, TokenCipher};
use crate::delivery::cloudevent::{self as notify, CloudEvent, EventType};
use crate::google::oauth::{OAuth, OAuthError, Tokens};
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::rest::client::{CredentialRecord, CredentialStatus, RestClient};
use crate::secret::{AccessToken, RefreshToken};
use crate::services::Services;
use crate::store::Store;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A token this close to expiry is refreshed before use.
pub const REFRESH_MARGIN_SECS: i64 = 60;
const LOCK_TTL_MS: u64 = 10_000;
const WAIT_STEP: Duration = Duration::from_millis(50);
const WAIT_STEPS: u32 = 100;

#[derive(Serialize, Deserialize)]
struct Cached {
    access_enc: String,
    expires_at: DateTime<Utc>,
}

fn cache_key(user: &UserId) -> String {
    format!("gcal:token:{user}")
}

fn lock_key(user: &UserId) -> String {
    format!("gcal:lock:refresh:{user}")
}

fn fresh(expires_at: DateTime<Utc>) -> bool {
    expires_at - Utc::now() > ChronoDuration::seconds(REFRESH_MARGIN_SECS)
}

/// Caches an access token until 60 s before it expires. A token that lives less than
/// that is not cached, and whatever the cache held for the user is removed: the entry it
/// would have replaced is older, and may be a token Google has just refused.
pub fn cache(
    store: &dyn Store,
    cipher: &CacheCipher,
    user: &UserId,
    access: &AccessToken,
    expires_at: DateTime<Utc>,
) -> Result<(), CredentialError> {
    let ttl = (expires_at - Utc::now()).num_seconds() - REFRESH_MARGIN_SECS;
    if ttl <= 0 {
        return forget(store, user);
    }
    let entry = Cached {
        access_enc: cipher
            .encrypt(access, user.as_str())
            .map_err(|_| CredentialError::Encryption)?,
        expires_at,
    };
    let json = serde_json::to_vec(&entry).unwrap_or_default();
    Ok(store.kv_set(&cache_key(user), &json)?)
}

fn cached(
    store: &dyn Store,
    cipher: &CacheCipher,
    user: &UserId,
) -> Result<Option<AccessToken>, CredentialError> {
    let Some(raw) = store.kv_get(&cache_key(user))? else {
        return Ok(None);
    };
    // An unreadable entry (other key, old format) is a miss, not an error.
    let Ok(entry) = serde_json::from_slice::<Cached>(&raw) else {
        return Ok(None);
    };
    if !fresh(entry.expires_at) {
        return Ok(None);
    }
    Ok(cipher.decrypt(&entry.access_enc, user.as_str()).ok())
}

/// Drops the cached access token (after revocation or a rejected token).
pub fn forget(store: &dyn Store, user: &UserId) -> Result<(), CredentialError> {
    Ok(store.kv_delete(&cache_key(user))?)
}

/// The user's stored credentials, while usable: not there is `not_authorized`, marked
/// invalid is `reauthorization_required`.
async fn usable_record<O: Outbound>(
    rest: &RestClient<'_, O>,
    user: &UserId,
) -> Result<CredentialRecord, CredentialError> {
    let record = rest
        .get_credentials(user)
        .await?
        .ok_or(CredentialError::NotConnected)?;
    if record.status == CredentialStatus::Invalid {
        return Err(CredentialError::Revoked);
    }
    Ok(record)
}

/// An access token for `user`: the cache is asked first, the REST service only on a miss.
pub async fn access_token<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
) -> Result<AccessToken, CredentialError> {
    let cache_cipher = svc.cfg.cache_cipher()?;
    if let Some(t) = cached(svc.store, cache_cipher, user)? {
        return Ok(t);
    }
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    let record = usable_record(&rest, user).await?;
    if fresh(record.expires_at) {
        let access = svc
            .cfg
            .cipher()?
            .decrypt(&record.access_token_enc, user.as_str())
            .map_err(|_| CredentialError::Undecryptable)?;
        cache(svc.store, cache_cipher, user, &access, record.expires_at)?;
        return Ok(access);
    }
    refresh_once(svc, user, None).await
}

/// After Google rejected `rejected` with 401: a new token, refreshed once for everyone.
/// The rejected token leaves the cache first, so no later request sends it again, even
/// if this refresh fails.
pub async fn refresh_after_rejection<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    rejected: &AccessToken,
) -> Result<AccessToken, CredentialError> {
    let cache_cipher = svc.cfg.cache_cipher()?;
    if cached(svc.store, cache_cipher, user)?.is_some_and(|t| t.secret() == rejected.secret()) {
        forget(svc.store, user)?;
    }
    refresh_once(svc, user, Some(rejected)).await
}

/// Refreshes under the per-user lock. Whoever holds it refreshes; the rest wait for the
/// cache. After taking the lock the cache is checked again, so a refresh that finished a
/// moment ago is not repeated.
async fn refresh_once<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    rejected: Option<&AccessToken>,
) -> Result<AccessToken, CredentialError> {
    let cache_cipher = svc.cfg.cache_cipher()?;
    let usable = |t: &AccessToken| rejected.is_none_or(|r| r.secret() != t.secret());
    let me = uuid::Uuid::new_v4().to_string();
    for _ in 0..WAIT_STEPS {
        if svc
            .store
            .set_nx_px(&lock_key(user), me.as_bytes(), LOCK_TTL_MS)?
        {
            let result = match cached(svc.store, cache_cipher, user)? {
                Some(t) if usable(&t) => Ok(t),
                _ => refresh(svc, svc.cfg.cipher()?, cache_cipher, user).await,
            };
            svc.store.del_if_eq(&lock_key(user), me.as_bytes())?;
            return result;
        }
        svc.http.sleep(WAIT_STEP).await;
        if let Some(t) = cached(svc.store, cache_cipher, user)?
            && usable(&t)
        {
            return Ok(t);
        }
    }
    Err(CredentialError::RefreshBusy)
}

async fn refresh<O: Outbound>(
    svc: &Services<'_, O>,
    cipher: &TokenCipher,
    cache_cipher: &CacheCipher,
    user: &UserId,
) -> Result<AccessToken, CredentialError> {
    let rest = RestClient::configured(svc.cfg, svc.http)?;
    let record = usable_record(&rest, user).await?;
    let refresh_token: RefreshToken = cipher
        .decrypt(&record.refresh_token_enc, user.as_str())
        .map_err(|_| CredentialError::Undecryptable)?;
    let oauth = OAuth::new(svc.cfg.oauth()?);
    match oauth.refresh(svc.http, &refresh_token).await {
        Ok(tokens) => {
            let access = tokens.access.clone();
            let updated = store_tokens(cipher, user, tokens, Some(&record))?;
            rest.put_credentials(user, &updated).await?;
            cache(svc.store, cache_cipher, user, &access, updated.expires_at)?;
            Ok(access)
        }
        Err(OAuthError::InvalidGrant) => {
            let invalid = CredentialRecord {
                status: CredentialStatus::Invalid,
                updated_at: Utc::now(),
                ..record
            };
            rest.put_credentials(user, &invalid).await?;
            forget(svc.store, user)?;
            let channel = svc.cfg.auth_channel()?;
            let event = CloudEvent::new(
                EventType::AuthRefreshFailed,
                user,
                serde_json::json!({"user_id": user.as_str(), "reason": "invalid_grant"}),
            );
            notify::publish(svc.store, channel, &event)?;
            Err(CredentialError::Revoked)
        }
        Err(e) => Err(e.into()),
    }
}

/// The credential record for fresh tokens. Google omits the refresh token on a refresh
/// (and sometimes on re-consent): the stored one is kept then.
pub fn store_tokens(
    cipher: &TokenCipher,
    user: &UserId,
    tokens: Tokens,
    previous: Option<&CredentialRecord>,
) -> Result<CredentialRecord, CredentialError> {
    let failed = |_| CredentialError::Encryption;
    let refresh_token_enc = match (&tokens.refresh, previous) {
        (Some(r), _) => cipher.encrypt(r, user.as_str()).map_err(failed)?,
        (None, Some(p)) => p.refresh_token_enc.clone(),
        (None, None) => return Err(CredentialError::NoRefreshToken),
    };
    Ok(CredentialRecord {
        provider: "google".into(),
        access_token_enc: cipher
            .encrypt(&tokens.access, user.as_str())
            .map_err(failed)?,
        refresh_token_enc,
        expires_at: tokens.expires_at,
        scopes: tokens.scopes,
        status: CredentialStatus::Active,
        updated_at: Utc::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    #[test]
    fn the_cache_holds_tokens_encrypted_and_only_while_fresh() {
        let s = MemoryStore::default();
        let u = UserId::parse("u1").unwrap();
        let t = AccessToken::new("ya29.cached".into());
        cache(
            &s,
            &crate::testing::cache_cipher(5),
            &u,
            &t,
            Utc::now() + ChronoDuration::seconds(600),
        )
        .unwrap();
        let raw = String::from_utf8(s.map.borrow()["gcal:token:u1"].clone()).unwrap();
        assert!(!raw.contains("ya29"), "{raw}");
        assert_eq!(
            cached(&s, &crate::testing::cache_cipher(5), &u)
                .unwrap()
                .map(|c| c.secret().clone()),
            Some("ya29.cached".to_owned())
        );
        // Within the margin: not cached at all, and an old entry is a miss.
        let s2 = MemoryStore::default();
        cache(
            &s2,
            &crate::testing::cache_cipher(5),
            &u,
            &t,
            Utc::now() + ChronoDuration::seconds(30),
        )
        .unwrap();
        assert!(s2.map.borrow().is_empty());
        // ... and a token within the margin removes what the cache held before.
        let s3 = MemoryStore::default();
        let later = Utc::now() + ChronoDuration::seconds(600);
        cache(&s3, &crate::testing::cache_cipher(5), &u, &t, later).unwrap();
        assert!(s3.map.borrow().contains_key("gcal:token:u1"));
        let soon = Utc::now() + ChronoDuration::seconds(30);
        cache(&s3, &crate::testing::cache_cipher(5), &u, &t, soon).unwrap();
        assert!(!s3.map.borrow().contains_key("gcal:token:u1"));
        s.map.borrow_mut().insert(
            "gcal:token:u1".into(),
            serde_json::to_vec(&Cached {
                access_enc: crate::testing::cache_cipher(5).encrypt(&t, "u1").unwrap(),
                expires_at: Utc::now() + ChronoDuration::seconds(59),
            })
            .unwrap(),
        );
        assert!(
            cached(&s, &crate::testing::cache_cipher(5), &u)
                .unwrap()
                .is_none()
        );
        // An entry an earlier release wrote (AES-GCM, `v1:`): a miss, not an error.
        s.map.borrow_mut().insert(
            "gcal:token:u1".into(),
            serde_json::to_vec(&Cached {
                access_enc: crate::testing::cipher(5).encrypt(&t, "u1").unwrap(),
                expires_at: Utc::now() + ChronoDuration::seconds(600),
            })
            .unwrap(),
        );
        assert!(
            cached(&s, &crate::testing::cache_cipher(5), &u)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_missing_refresh_token_keeps_the_stored_one_or_fails() {
        let u = UserId::parse("u1").unwrap();
        let tokens = |refresh: Option<&str>| Tokens {
            access: AccessToken::new("a".into()),
            refresh: refresh.map(|r| RefreshToken::new(r.into())),
            expires_at: Utc::now(),
            scopes: vec!["s".into()],
        };
        let first = store_tokens(&crate::testing::cipher(5), &u, tokens(Some("r1")), None).unwrap();
        assert_eq!(
            crate::testing::cipher(5)
                .decrypt::<RefreshToken>(&first.refresh_token_enc, "u1")
                .unwrap()
                .secret(),
            "r1"
        );
        let second =
            store_tokens(&crate::testing::cipher(5), &u, tokens(None), Some(&first)).unwrap();
        assert_eq!(second.refresh_token_enc, first.refresh_token_enc);
        let e = store_tokens(&crate::testing::cipher(5), &u, tokens(None), None).unwrap_err();
        assert_eq!(e, CredentialError::NoRefreshToken);
    }
}
