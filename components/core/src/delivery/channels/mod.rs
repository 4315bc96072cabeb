//! Google push channels: start and stop them, and verify the notifications Google sends to
//! `/webhooks/google` (the channel token is an HMAC only this service can make).

use crate::config::Config;
use crate::delivery as updates;
use crate::delivery::ChannelError;
use crate::delivery::cloudevent::{self as notify, CloudEvent, EventType};
use crate::google::calendar::Calendar;
use crate::model::user_id::UserId;
use crate::outbound::Outbound;
use crate::secret::{ChannelMacKey, ChannelToken};
use crate::services::Services;
use crate::store::{Store, StoreError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

/// Channels are asked for a week (Google's maximum for Calendar).
const CHANNEL_TTL_SECS: i64 = 7 * 24 * 3600;
/// A channel closer than this to its end is renewed when a notification for it arrives.
const RENEW_WITHIN_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelRecord {
    pub channel_id: String,
    pub user_id: String,
    pub calendar_id: String,
    pub resource_id: String,
    /// Milliseconds since the epoch, as Google reports it.
    pub expiration_ms: i64,
}

fn channel_key(id: &str) -> String {
    format!("gcal:channel:{id}")
}

/// Held by the reader renewing a channel.
fn renew_key(id: &str) -> String {
    format!("gcal:renew:{id}")
}
const RENEW_CLAIM_MS: u64 = 60_000;

fn watch_key(user: &UserId, calendar: &str) -> String {
    format!("gcal:watch:{user}:{calendar}")
}

/// The MAC key for channel tokens, derived from `token_encryption_key` so the two uses
/// never share a key.
fn mac_key(cfg: &Config<'_>) -> Result<ChannelMacKey, ChannelError> {
    let key = cfg.encryption_key()?;
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key.secret()).map_err(|_| ChannelError::Key)?;
    mac.update(b"gcal channel token v1");
    Ok(ChannelMacKey::new(mac.finalize().into_bytes().into()))
}

fn channel_mac(
    key: &ChannelMacKey,
    channel_id: &str,
    user: &str,
    calendar: &str,
) -> Result<Hmac<Sha256>, ChannelError> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key.secret()).map_err(|_| ChannelError::Key)?;
    for part in [channel_id, user, calendar] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    Ok(mac)
}

/// The token Google echoes back in `X-Goog-Channel-Token`.
pub fn channel_token(
    key: &ChannelMacKey,
    channel_id: &str,
    user: &str,
    calendar: &str,
) -> Result<ChannelToken, ChannelError> {
    let tag = channel_mac(key, channel_id, user, calendar)?
        .finalize()
        .into_bytes();
    Ok(ChannelToken::new(URL_SAFE_NO_PAD.encode(tag)))
}

fn verify_token(key: &ChannelMacKey, record: &ChannelRecord, token: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    channel_mac(
        key,
        &record.channel_id,
        &record.user_id,
        &record.calendar_id,
    )
    .is_ok_and(|m| m.verify_slice(&tag).is_ok())
}

fn save(store: &dyn Store, user: &UserId, record: &ChannelRecord) -> Result<(), StoreError> {
    let ttl =
        ((record.expiration_ms / 1000) - chrono::Utc::now().timestamp() + 3600).max(60) as u64;
    let json = serde_json::to_vec(record).unwrap_or_default();
    store.set_ex(&channel_key(&record.channel_id), &json, ttl)?;
    store.set_ex(
        &watch_key(user, &record.calendar_id),
        record.channel_id.as_bytes(),
        ttl,
    )?;
    updates::user_records::remember(store, user, &record.calendar_id)
}

fn load(store: &dyn Store, channel_id: &str) -> Result<Option<ChannelRecord>, StoreError> {
    Ok(store
        .get(&channel_key(channel_id))?
        .and_then(|raw| serde_json::from_slice(&raw).ok()))
}

/// Opens a channel at Google for the user's calendar and records it.
async fn open<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    calendar: &str,
) -> Result<ChannelRecord, ChannelError> {
    let base = svc.cfg.public_base_url()?;
    let channel_id = uuid::Uuid::new_v4().to_string();
    let token = channel_token(&mac_key(svc.cfg)?, &channel_id, user.as_str(), calendar)?;
    let body = json!({
        "id": channel_id,
        "type": "web_hook",
        "address": format!("{base}/webhooks/google"),
        "token": token.secret(),
        "expiration": (chrono::Utc::now().timestamp() + CHANNEL_TTL_SECS) * 1000,
    });
    let cal = Calendar::new(svc, user)?;
    let resp = cal.watch(calendar, &body).await?;
    let expiration_ms = match &resp["expiration"] {
        Value::String(s) => s.parse().unwrap_or_default(),
        Value::Number(n) => n.as_i64().unwrap_or_default(),
        _ => (chrono::Utc::now().timestamp() + CHANNEL_TTL_SECS) * 1000,
    };
    let record = ChannelRecord {
        channel_id,
        user_id: user.as_str().to_owned(),
        calendar_id: calendar.to_owned(),
        resource_id: resp["resourceId"].as_str().unwrap_or_default().to_owned(),
        expiration_ms,
    };
    save(svc.store, user, &record)?;
    Ok(record)
}

fn describe(r: &ChannelRecord) -> Value {
    json!({"channel_id": r.channel_id, "resource_id": r.resource_id, "calendar_id": r.calendar_id, "expiration": chrono::DateTime::from_timestamp_millis(r.expiration_ms).map(|t| t.to_rfc3339())})
}

/// `POST /events/{user_id}/watch`: 201 with a new channel, or 200 with the live one.
/// The sync token is established first, so the first change is announced, not the past.
pub async fn start<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    calendar: &str,
) -> Result<(u16, Value), ChannelError> {
    if let Some(id) = svc.store.get(&watch_key(user, calendar))?
        && let Some(r) = load(svc.store, &String::from_utf8_lossy(&id))?
        && !due(&r)
    {
        return Ok((200, describe(&r)));
    }
    updates::baseline(svc, user, calendar).await?;
    let record = open(svc, user, calendar).await?;
    Ok((201, describe(&record)))
}

fn due(r: &ChannelRecord) -> bool {
    r.expiration_ms / 1000 - chrono::Utc::now().timestamp() < RENEW_WITHIN_SECS
}

/// `DELETE /events/{user_id}/watch`: stops the channel at Google and forgets it.
pub async fn stop<O: Outbound>(
    svc: &Services<'_, O>,
    user: &UserId,
    calendar: &str,
) -> Result<(), ChannelError> {
    let Some(id) = svc.store.get(&watch_key(user, calendar))? else {
        return Ok(());
    };
    let id = String::from_utf8_lossy(&id).into_owned();
    if let Some(r) = load(svc.store, &id)? {
        let cal = Calendar::new(svc, user)?;
        // Already gone at Google (404) is as good as stopped.
        match cal
            .stop_channel(&json!({"id": r.channel_id, "resourceId": r.resource_id}))
            .await
        {
            Ok(()) | Err(crate::google::GoogleError::NotFound) => {}
            Err(f) => return Err(f.into()),
        }
    }
    Ok(forget(svc.store, user, calendar)?)
}

/// Deletes the records of the user's channel for `calendar` (without asking Google).
pub(crate) fn forget(store: &dyn Store, user: &UserId, calendar: &str) -> Result<(), StoreError> {
    if let Some(id) = store.get(&watch_key(user, calendar))? {
        store.del(&channel_key(&String::from_utf8_lossy(&id)))?;
    }
    store.del(&watch_key(user, calendar))
}

/// What Google's push carries.
pub struct Push<'a> {
    pub channel_id: Option<&'a str>,
    pub token: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub resource_state: Option<&'a str>,
}

/// `POST /webhooks/google`: nothing is trusted before the channel and its token check
/// out (a push without a token or a channel id is refused as such, 400; a wrong one is
/// 404, as for an unknown channel). `sync` (the channel's hello) is acknowledged; a
/// change publishes `calendar.changed` for the updates component, which does the slow
/// work.
pub fn push(cfg: &Config<'_>, store: &dyn Store, p: &Push<'_>) -> Result<(), ChannelError> {
    let unknown = || ChannelError::Unknown;
    let token = p
        .token
        .filter(|t| !t.is_empty())
        .ok_or(ChannelError::MissingToken)?;
    let id = p
        .channel_id
        .filter(|i| (1..=64).contains(&i.len()))
        .ok_or(ChannelError::MissingChannelId)?;
    let record = load(store, id)?.ok_or_else(unknown)?;
    if !verify_token(&mac_key(cfg)?, &record, token) {
        return Err(unknown());
    }
    if p.resource_id.is_some_and(|r| r != record.resource_id) {
        return Err(unknown());
    }
    if p.resource_state == Some("sync") {
        return Ok(());
    }
    let user = UserId::parse(&record.user_id).map_err(|_| ChannelError::BadRecord)?;
    let channel = cfg.events_channel()?;
    let event = CloudEvent::new(
        EventType::CalendarChanged,
        &user,
        json!({"user_id": record.user_id, "calendar_id": record.calendar_id, "channel_id": record.channel_id}),
    );
    Ok(notify::publish(store, channel, &event)?)
}

/// Renews a channel that ends within a day: a new one is opened, the old one stopped.
pub async fn renew_if_due<O: Outbound>(
    svc: &Services<'_, O>,
    channel_id: &str,
) -> Result<(), ChannelError> {
    let Some(r) = load(svc.store, channel_id)? else {
        return Ok(());
    };
    if !due(&r) {
        return Ok(());
    }
    // Pushes for one channel may be synced by several replicas at once: one renews, or
    // the others would open channels nobody stops.
    if !svc
        .store
        .set_nx_px(&renew_key(channel_id), b"1", RENEW_CLAIM_MS)?
    {
        return Ok(());
    }
    let user = UserId::parse(&r.user_id).map_err(|_| ChannelError::BadRecord)?;
    if let Err(p) = open(svc, &user, &r.calendar_id).await {
        // A later push tries again.
        let _ = svc.store.del(&renew_key(channel_id));
        return Err(p);
    }
    let cal = Calendar::new(svc, &user)?;
    let _ = cal
        .stop_channel(&json!({"id": r.channel_id, "resourceId": r.resource_id}))
        .await;
    Ok(svc.store.del(&channel_key(&r.channel_id))?)
}

#[cfg(test)]
mod tests;
