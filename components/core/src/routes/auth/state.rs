//! The state record of an authorization: what `state` stands for while the user is at
//! Google (the user and the PKCE verifier, encrypted), in Redis for 10 minutes and
//! consumed once.

use crate::credentials::cipher::TokenCipher;
use crate::google::oauth::{AuthorizationRequest, STATE_TTL_SECS};
use crate::http::problem::{Code, Problem};
use crate::model::user_id::UserId;
use crate::secret::PkceCodeVerifier;
use crate::store::Store;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};

// ------------------------------------------------------------------ the state record

/// What `state` stands for while the user is at Google: who, and the PKCE verifier
/// (encrypted: it is a secret). Lives in Redis for 10 minutes, consumed once.
#[derive(Debug, Serialize, Deserialize)]
struct StateRecord {
    user_id: String,
    verifier_enc: String,
    created_at: DateTime<Utc>,
}

fn state_key(state: &str) -> String {
    format!("gcal:state:{state}")
}

/// Stores the state record of a new authorization.
pub fn save_state(
    store: &dyn Store,
    cipher: &TokenCipher,
    user: &UserId,
    req: &AuthorizationRequest,
) -> Result<(), Problem> {
    let record = StateRecord {
        user_id: user.as_str().to_owned(),
        verifier_enc: cipher
            .encrypt(&req.verifier, user.as_str())
            .map_err(internal)?,
        created_at: Utc::now(),
    };
    let json = serde_json::to_vec(&record).map_err(internal)?;
    if !store.set_nx_px(&state_key(&req.state), &json, STATE_TTL_SECS * 1000)? {
        return Err(Problem::new(Code::Internal, "state collision"));
    }
    Ok(())
}

/// Takes the state record out of Redis (atomically, `GETDEL`): a second callback with the
/// same state finds nothing. Returns the user and the PKCE verifier.
pub fn consume_state(
    store: &dyn Store,
    cipher: &TokenCipher,
    state: &str,
) -> Result<(UserId, PkceCodeVerifier), Problem> {
    let invalid = || {
        Problem::new(
            Code::InvalidState,
            "unknown, expired or already used state; start the authorization again",
        )
    };
    if state.is_empty() || state.len() > 256 {
        return Err(invalid());
    }
    let raw = store.get_del(&state_key(state))?.ok_or_else(invalid)?;
    let record: StateRecord = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if Utc::now() - record.created_at > ChronoDuration::seconds(STATE_TTL_SECS as i64) {
        return Err(invalid());
    }
    let user = UserId::parse(&record.user_id).map_err(|_| invalid())?;
    let verifier = cipher
        .decrypt(&record.verifier_enc, user.as_str())
        .map_err(|_| invalid())?;
    Ok((user, verifier))
}

fn internal(_: impl std::fmt::Display) -> Problem {
    Problem::new(Code::Internal, "could not encode the state record")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    #[test]
    fn state_is_consumed_exactly_once() {
        let oauth = crate::testing::oauth();
        let store = MemoryStore::default();
        let user = UserId::parse("u1").unwrap();
        let req = oauth.authorization_request(None);
        save_state(&store, &crate::testing::cipher(3), &user, &req).unwrap();
        // The verifier is not stored in clear.
        let raw = String::from_utf8(store.map.borrow().values().next().unwrap().clone()).unwrap();
        assert!(!raw.contains(req.verifier.secret()));
        let (u, v) = consume_state(&store, &crate::testing::cipher(3), &req.state).unwrap();
        assert_eq!((u, v.secret()), (user, req.verifier.secret()));
        for bad in [req.state.as_str(), "", "unknown"] {
            assert_eq!(
                consume_state(&store, &crate::testing::cipher(3), bad)
                    .unwrap_err()
                    .code,
                Code::InvalidState
            );
        }
    }
}
