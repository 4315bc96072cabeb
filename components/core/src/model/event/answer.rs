//! The Event we answer with, from Google's event JSON, and its notification data.

use super::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------ output

/// Our `Event` from Google's event JSON (the mapping is [`GoogleEvent::answer`]).
/// Cancelled entries from incremental sync may carry nothing but `id` and `status`:
/// missing fields are null. JSON that is no event reads as an empty one.
pub fn from_google(g: &Value, calendar_id: &str) -> Value {
    use serde::Deserialize as _;
    let event = GoogleEvent::deserialize(g).unwrap_or_default();
    serde_json::to_value(event.answer(calendar_id, None)).unwrap_or(Value::Null)
}

/// The `data` of a CloudEvent about an event: ids and times, never a token.
pub fn notification_data(event: &Value) -> Value {
    json!({
        "event_id": event["id"],
        "calendar_id": event["calendar_id"],
        "summary": event["summary"],
        "start": event["start"],
        "end": event["end"],
    })
}
