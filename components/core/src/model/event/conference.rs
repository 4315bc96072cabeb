//! Conferencing: `conference: {"type": "google_meet"}` in, Google's
//! `conferenceData.createRequest` out, and the `conference` of our answer.

use serde::Deserialize;
use serde_json::{Value, json};

/// What a client may ask for: a Google Meet conference.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConferenceInput {
    #[serde(rename = "type")]
    pub kind: ConferenceType,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConferenceType {
    GoogleMeet,
}

/// The `requestId` of a conference create: derived from the user and a seed (the
/// `Idempotency-Key`, or a per-request random id), so the same create asked again, by
/// the client or by our own retries, names the same conference and Google makes one.
pub fn conference_request_id(user: &str, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"conference\0")
        .chain_update((user.len() as u64).to_be_bytes())
        .chain_update(user.as_bytes())
        .chain_update(seed.as_bytes())
        .finalize();
    data_encoding::HEXLOWER.encode(&digest[..16])
}

/// Google's `conferenceData` asking for a new Meet conference under `request_id`.
pub fn conference_create(request_id: &str) -> Value {
    json!({
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
        }
    })
}

/// Whether a Google event has a conference that is made or being made (a patch asking
/// for one again keeps it rather than make another).
pub fn has_live_conference(g: &Value) -> bool {
    let status = g["conferenceData"]["createRequest"]["status"]["statusCode"].as_str();
    g.get("conferenceData").is_some_and(Value::is_object) && status != Some("failure")
}
