//! Calendar ids, event ids and idempotency keys.

use super::*;
use crate::http::problem::{Code, Problem};

/// Calendar ids go into URL paths (percent-encoded): 1 to [`MAX_CALENDAR_ID`] characters,
/// no `/` and no control characters (the `CalendarId` schema of `openapi.json`).
pub fn is_calendar_id(id: &str) -> bool {
    let n = id.chars().count();
    (1..=MAX_CALENDAR_ID).contains(&n) && !id.chars().any(|c| c.is_control() || c == '/')
}

/// [`is_calendar_id`], else 400 `invalid_query`.
pub fn check_calendar_id(id: &str) -> Result<(), Problem> {
    if !is_calendar_id(id) {
        return Err(bad(
            Code::InvalidQuery,
            "calendar_id must be 1 to 256 characters, no `/` or control characters",
        ));
    }
    Ok(())
}

/// Event ids from paths: Google's own are base32hex, instances and imports add `_` and
/// upper case; nothing else is accepted. `watch` names the push-channel route
/// (`/events/{user_id}/watch`), never an event: it is not base32hex, so Google never
/// gives an event that id.
pub fn check_event_id(id: &str) -> Result<(), Problem> {
    let ok = (1..=1024).contains(&id.len())
        && id != "watch"
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidRequest,
            "event_id must be 1 to 1024 characters of A-Z, a-z, 0-9, '_', '-', '.', '@' (and not `watch`)",
        ))
    }
}

/// The Google event id for a create with `Idempotency-Key`: the same user and key always
/// give the same id (base32hex, as Google requires), so a retry can never duplicate.
pub fn idempotent_event_id(user: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    // Length-prefixed, so no (user, key) pair can collide with another.
    let digest = Sha256::new()
        .chain_update((user.len() as u64).to_be_bytes())
        .chain_update(user.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let encoded = data_encoding::BASE32HEX_NOPAD
        .encode(&digest)
        .to_ascii_lowercase();
    format!("gcal{encoded}")
}

/// Idempotency keys: 1 to 255 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), Problem> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(bad(
            Code::InvalidRequest,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ))
    }
}
