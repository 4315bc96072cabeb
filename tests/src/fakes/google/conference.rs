//! Conference data (Google Meet) on event writes.
//!
//! Like Google: with `conferenceDataVersion=0` (the default) the request's
//! `conferenceData` is ignored and an event keeps the conference it has (on update too);
//! with `conferenceDataVersion=1` a `conferenceData.createRequest` creates a Meet
//! conference (`conferenceSolutionKey.type` must be `hangoutsMeet`, `requestId`
//! required), a repeated `requestId` on the same calendar gives the conference made for
//! it the first time (Google: "the request is ignored"), `conferenceData: null` removes
//! the conference and a `conferenceData` without `createRequest` is copied as given.
//! `hangoutLink` follows the video entry point. New conferences are created with the
//! status set by [`super::FakeGoogle::set_conference_outcome`] (`success` by default);
//! `pending` ones become `success` on [`super::FakeGoogle::complete_pending_conferences`].

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::super::random_string;
use super::calendar::{ApiError, single};

const MEET_ICON: &str = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png";

/// The status new conferences get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConferenceOutcome {
    #[default]
    Success,
    /// `createRequest.status.statusCode = "pending"`, no entry points until completed.
    Pending,
    /// `failure`: no conference, no entry points.
    Failure,
}

/// A conference made for a `requestId`.
#[derive(Debug, Clone)]
struct Made {
    status: ConferenceOutcome,
    request: Value,
    code: String,
    pin: String,
}

impl Made {
    fn render(&self) -> Value {
        let mut request = self.request.clone();
        let status = match self.status {
            ConferenceOutcome::Success => "success",
            ConferenceOutcome::Pending => "pending",
            ConferenceOutcome::Failure => "failure",
        };
        request["status"] = json!({ "statusCode": status });
        if self.status != ConferenceOutcome::Success {
            return json!({ "createRequest": request });
        }
        let code = &self.code;
        let pin = &self.pin;
        json!({
            "createRequest": request,
            "entryPoints": [
                {"entryPointType": "video", "uri": format!("https://meet.google.com/{code}"),
                 "label": format!("meet.google.com/{code}")},
                {"entryPointType": "phone", "uri": "tel:+1-555-010-0199",
                 "label": "+1 555-010-0199", "pin": pin, "regionCode": "US"},
                {"entryPointType": "more", "uri": format!("https://tel.meet/{code}?pin={pin}"),
                 "pin": pin},
            ],
            "conferenceSolution": {
                "key": {"type": "hangoutsMeet"},
                "name": "Google Meet",
                "iconUri": MEET_ICON,
            },
            "conferenceId": code,
        })
    }
}

/// Conferences made so far, by (account, calendar, requestId).
#[derive(Debug, Default)]
pub struct Conferences {
    pub outcome: ConferenceOutcome,
    made: HashMap<(String, String, String), Made>,
    /// Conferences created (a repeated `requestId` creates none).
    pub created: usize,
}

fn meet_code() -> String {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    format!(
        "{}-{}-{}",
        random_string(LOWER, 3),
        random_string(LOWER, 4),
        random_string(LOWER, 3)
    )
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(400, "invalid", message)
}

fn request_id_of(conference: &Value) -> Option<&str> {
    conference
        .get("createRequest")
        .and_then(|r| r.get("requestId"))
        .and_then(Value::as_str)
}

impl Conferences {
    /// Applies `conferenceDataVersion` to the writable fields of a write (`changes`),
    /// given the stored event's conference (`existing`). `replace` is true for updates.
    pub fn prepare(
        &mut self,
        account: &str,
        calendar: &str,
        changes: &mut Map<String, Value>,
        params: &[(String, String)],
        existing: Option<&Value>,
        replace: bool,
    ) -> Result<(), ApiError> {
        let version = single(params, "conferenceDataVersion")?;
        let requested = changes.remove("conferenceData");
        if version.as_deref() != Some("1") {
            // Ignored; the stored conference stays, on update as on patch.
            if let Some(existing) = existing {
                changes.insert("conferenceData".into(), existing.clone());
            }
            return Ok(());
        }
        let conference = match requested {
            None if replace => None,
            None => return Ok(()),
            Some(Value::Null) if replace => None,
            // A patch with null removes the conference.
            Some(Value::Null) => Some(Value::Null),
            Some(Value::Object(requested)) => {
                Some(self.resolve(account, calendar, &requested, existing)?)
            }
            Some(_) => return Err(ApiError::new(400, "parseError", "Parse Error")),
        };
        if let Some(conference) = conference {
            changes.insert("conferenceData".into(), conference);
        }
        Ok(())
    }

    fn resolve(
        &mut self,
        account: &str,
        calendar: &str,
        requested: &Map<String, Value>,
        existing: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let Some(create) = requested.get("createRequest").filter(|v| !v.is_null()) else {
            // Copying a conference from another event.
            let has_solution = requested
                .get("conferenceSolution")
                .and_then(|s| s.get("key"))
                .and_then(|k| k.get("type"))
                .is_some_and(Value::is_string);
            let has_entry = requested
                .get("entryPoints")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty());
            if !(has_solution && has_entry) {
                return Err(invalid("Invalid conference data."));
            }
            return Ok(Value::Object(requested.clone()));
        };
        let request_id = create
            .get("requestId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::new(400, "required", "Missing conference request id."))?;
        match create
            .get("conferenceSolutionKey")
            .and_then(|k| k.get("type"))
            .and_then(Value::as_str)
        {
            Some("hangoutsMeet") => {}
            Some(_) => return Err(invalid("Invalid conference type value.")),
            None => {
                return Err(ApiError::new(
                    400,
                    "required",
                    "Missing conference solution key.",
                ));
            }
        }
        if let Some(existing) = existing
            && request_id_of(existing) == Some(request_id)
        {
            return Ok(existing.clone());
        }
        let key = (
            account.to_owned(),
            calendar.to_owned(),
            request_id.to_owned(),
        );
        if let Some(made) = self.made.get(&key) {
            return Ok(made.render());
        }
        let made = Made {
            status: self.outcome,
            request: json!({
                "requestId": request_id,
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }),
            code: meet_code(),
            pin: random_string(b"0123456789", 10),
        };
        let out = made.render();
        self.made.insert(key, made);
        self.created += 1;
        Ok(out)
    }

    /// Turns every pending conference into a successful one; returns the new
    /// `conferenceData` by (account, calendar, `requestId`).
    pub fn complete_pending(&mut self) -> HashMap<(String, String, String), Value> {
        let mut done = HashMap::new();
        for (key, made) in &mut self.made {
            if made.status == ConferenceOutcome::Pending {
                made.status = ConferenceOutcome::Success;
                done.insert(key.clone(), made.render());
            }
        }
        done
    }
}

/// The `requestId` of a pending conference on an event, if any.
pub fn pending_request(event: &Map<String, Value>) -> Option<&str> {
    let conference = event.get("conferenceData")?;
    let status = conference
        .get("createRequest")?
        .get("status")?
        .get("statusCode")?
        .as_str()?;
    (status == "pending")
        .then(|| request_id_of(conference))
        .flatten()
}

/// Sets `hangoutLink` from a Meet conference's video entry point (removes it otherwise).
pub fn sync_hangout_link(event: &mut Map<String, Value>) {
    let link = event.get("conferenceData").and_then(|c| {
        let meet = c
            .get("conferenceSolution")
            .and_then(|s| s.get("key"))
            .and_then(|k| k.get("type"))
            .and_then(Value::as_str)
            == Some("hangoutsMeet");
        let video = c
            .get("entryPoints")?
            .as_array()?
            .iter()
            .find(|e| e.get("entryPointType").and_then(Value::as_str) == Some("video"))?;
        meet.then(|| video.get("uri").cloned()).flatten()
    });
    match link {
        Some(link) => {
            event.insert("hangoutLink".into(), link);
        }
        None => {
            event.remove("hangoutLink");
        }
    }
}
