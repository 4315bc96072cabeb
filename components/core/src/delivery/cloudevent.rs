//! CloudEvents 1.0 (structured JSON) on the pub/sub channels and the capped stream that
//! lets a subscriber that was down catch up.

use crate::model::user_id::UserId;
use crate::store::Store;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every message is also appended here, so nothing is lost while no subscriber runs.
pub const STREAM: &str = "gcal:stream:events";
/// The stream's bound (approximate, as `MAXLEN ~`).
pub const STREAM_MAX_LEN: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    AuthCompleted,
    AuthRevoked,
    AuthRefreshFailed,
    EventCreated,
    EventUpdated,
    EventDeleted,
    CalendarChanged,
}

impl EventType {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::AuthCompleted => "calendar.auth.completed",
            EventType::AuthRevoked => "calendar.auth.revoked",
            EventType::AuthRefreshFailed => "calendar.auth.refresh_failed",
            EventType::EventCreated => "calendar.event.created",
            EventType::EventUpdated => "calendar.event.updated",
            EventType::EventDeleted => "calendar.event.deleted",
            EventType::CalendarChanged => "calendar.changed",
        }
    }

    pub const fn source(self) -> &'static str {
        match self {
            EventType::AuthCompleted | EventType::AuthRevoked | EventType::AuthRefreshFailed => {
                "/gcal/auth"
            }
            _ => "/gcal/events",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    pub data: Value,
}

impl CloudEvent {
    /// `data` must hold ids and event fields only, never a token.
    pub fn new(kind: EventType, user: &UserId, data: Value) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: uuid::Uuid::new_v4().to_string(),
            source: kind.source().into(),
            type_: kind.as_str().into(),
            subject: user.as_str().into(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            datacontenttype: "application/json".into(),
            data,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Appends to the stream first (the durable record), then publishes on `channel`.
pub fn publish(store: &dyn Store, channel: &str, event: &CloudEvent) -> Result<(), StoreError> {
    let payload = event.to_json();
    store.xadd_capped(STREAM, STREAM_MAX_LEN, "event", &payload)?;
    store.publish(channel, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    #[test]
    fn events_have_every_cloudevents_attribute_and_go_to_stream_and_channel() {
        let user = UserId::parse("u1").unwrap();
        let ev = CloudEvent::new(
            EventType::AuthCompleted,
            &user,
            serde_json::json!({"scopes": ["a"]}),
        );
        let s = MemoryStore::default();
        publish(&s, "gcal.auth", &ev).unwrap();
        let (ch, payload) = s.published.borrow()[0].clone();
        assert_eq!(ch, "gcal.auth");
        let v: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], "calendar.auth.completed");
        assert_eq!(v["source"], "/gcal/auth");
        assert_eq!(v["subject"], "u1");
        assert_eq!(v["datacontenttype"], "application/json");
        assert!(uuid::Uuid::parse_str(v["id"].as_str().unwrap()).is_ok());
        assert!(chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap()).is_ok());
        assert_eq!(s.stream.borrow()[0], (STREAM.to_string(), payload));
    }
}
