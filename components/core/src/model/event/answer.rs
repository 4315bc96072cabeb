//! The Event we answer with, from Google's event JSON, and its notification data.

use super::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------ output

/// Our `Event` from Google's event JSON. Cancelled entries from incremental sync may carry
/// nothing but `id` and `status`: missing fields are null.
pub fn from_google(g: &Value, calendar_id: &str) -> Value {
    let s = |k: &str| g.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": s("id"),
        "summary": s("summary"),
        "description": s("description"),
        "location": s("location"),
        "start": s("start"),
        "end": s("end"),
        "status": s("status"),
        "html_link": s("htmlLink"),
        "created": s("created"),
        "updated": s("updated"),
        "attendees": attendees_from_google(g),
        "organizer": organizer_from_google(g),
        "conference": conference_from_google(g),
        "recurrence": g.get("recurrence").cloned().unwrap_or_else(|| json!([])),
        "recurring_event_id": s("recurringEventId"),
        "calendar_id": calendar_id,
    })
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
