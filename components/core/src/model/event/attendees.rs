//! Attendees: what clients send (validated), what Google gets, and what we answer with
//! (the attendee list and the organizer).

use super::*;
use crate::http::problem::{Code, Problem};
use serde::Deserialize;
use serde_json::{Value, json};

/// Longest `display_name` of an attendee, in characters.
pub(crate) const MAX_DISPLAY_NAME: usize = 256;

/// Longest RSVP `comment`, in characters.
pub(crate) const MAX_COMMENT: usize = 1024;

/// One attendee of a create or patch body.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Attendee {
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub optional: Option<bool>,
}

/// An email address to invite: an RFC 5322 `addr-spec` as the `email_address` crate
/// checks it (local part at most 64 and domain labels at most 63 characters), without
/// display text or an IP literal, with a top-level domain (`a@example.com`, never
/// `a@localhost`), at most 254 characters in all (the RFC 5321 path limit).
pub fn valid_email(email: &str) -> bool {
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    email.len() <= 254 && email_address::EmailAddress::parse_with_options(email, options).is_ok()
}

/// At most [`MAX_ATTENDEES`], each with a valid email (once), a bounded `display_name`.
pub(crate) fn check_attendees(list: &[Attendee]) -> Result<(), Problem> {
    if list.len() > MAX_ATTENDEES {
        return Err(bad(
            Code::InvalidEvent,
            format!("at most {MAX_ATTENDEES} attendees"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for at in list {
        if !valid_email(&at.email) {
            return Err(bad(
                Code::InvalidEvent,
                format!(
                    "attendee `{}` is not a valid email address",
                    clip(&at.email)
                ),
            ));
        }
        if !seen.insert(at.email.to_ascii_lowercase()) {
            return Err(bad(
                Code::InvalidEvent,
                format!("attendee `{}` is listed twice", clip(&at.email)),
            ));
        }
        if let Some(name) = &at.display_name {
            let n = name.chars().count();
            if n == 0 || n > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
                return Err(bad(
                    Code::InvalidEvent,
                    format!(
                        "an attendee's `display_name` must be 1 to {MAX_DISPLAY_NAME} characters, no control characters"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Google's `attendees` for a write.
pub(crate) fn attendees_to_google(list: &[Attendee]) -> Value {
    list.iter()
        .map(|at| {
            let mut o = json!({"email": at.email});
            if let Some(name) = &at.display_name {
                o["displayName"] = name.clone().into();
            }
            if let Some(opt) = at.optional {
                o["optional"] = opt.into();
            }
            o
        })
        .collect()
}

// ------------------------------------------------------------------ RSVP

/// The body of `POST /events/{user_id}/{event_id}/rsvp`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rsvp {
    pub response: String,
    #[serde(default)]
    pub comment: Option<String>,
}

impl Rsvp {
    /// Parses and checks an RSVP body: `response` is `accepted`, `declined` or
    /// `tentative`; `comment` at most [`MAX_COMMENT`] characters.
    pub fn parse(body: &[u8]) -> Result<Rsvp, Problem> {
        let rsvp: Rsvp = parse_body(body)?;
        if !matches!(
            rsvp.response.as_str(),
            "accepted" | "declined" | "tentative"
        ) {
            return Err(bad(
                Code::InvalidEvent,
                "`response` must be accepted, declined or tentative",
            ));
        }
        if let Some(c) = &rsvp.comment
            && (c.chars().count() > MAX_COMMENT
                || c.chars().any(|ch| ch.is_control() && ch != '\n'))
        {
            return Err(bad(
                Code::InvalidEvent,
                format!(
                    "`comment` must be at most {MAX_COMMENT} characters, no control characters but line feeds"
                ),
            ));
        }
        Ok(rsvp)
    }

    /// Google's whole attendee list with the connected user's own entry (`self: true`)
    /// answered, every other entry as it was; `None` if the user is not an attendee.
    pub fn apply(&self, event: &Value) -> Option<Value> {
        let mut attendees = event.get("attendees")?.as_array()?.clone();
        let own = attendees
            .iter_mut()
            .find(|a| a.get("self").and_then(Value::as_bool) == Some(true))?;
        own["responseStatus"] = self.response.clone().into();
        if let Some(c) = &self.comment {
            own["comment"] = c.clone().into();
        }
        Some(Value::Array(attendees))
    }
}
