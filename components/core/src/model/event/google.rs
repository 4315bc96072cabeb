//! Google's event JSON read typed, borrowing its strings, and our `Event` written straight
//! from it: the one mapping behind [`super::from_google`] and the list answers. Reading a
//! page of ten events this way (no JSON tree, no copies, nothing but the fields we answer
//! with) is most of what `GET /events` costs the guest (bench/, Spin cost model).
//!
//! Every field is optional, as Google omits empty ones (a cancelled entry of an
//! incremental sync has only `id` and `status`); what is absent is null in our answer,
//! flags are `false`, lists empty.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

type Text<'a> = Option<Cow<'a, str>>;

/// One page of `events.list` or `events.instances`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GooglePage<'a> {
    #[serde(default, borrow)]
    pub items: Vec<GoogleEvent<'a>>,
    #[serde(default, borrow)]
    pub next_page_token: Text<'a>,
    #[serde(default, borrow)]
    pub next_sync_token: Text<'a>,
    #[serde(default, borrow)]
    pub time_zone: Text<'a>,
}

/// A Google event, as far as our `Event` shows it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    summary: Text<'a>,
    #[serde(default, borrow)]
    description: Text<'a>,
    #[serde(default, borrow)]
    location: Text<'a>,
    #[serde(default, borrow)]
    start: Option<When<'a>>,
    #[serde(default, borrow)]
    end: Option<When<'a>>,
    #[serde(default, borrow)]
    status: Text<'a>,
    #[serde(default, borrow)]
    html_link: Text<'a>,
    #[serde(default, borrow)]
    created: Text<'a>,
    #[serde(default, borrow)]
    updated: Text<'a>,
    #[serde(default, borrow)]
    attendees: Vec<GoogleAttendee<'a>>,
    #[serde(default, borrow)]
    organizer: Option<GoogleOrganizer<'a>>,
    #[serde(default, borrow)]
    conference_data: Option<GoogleConference<'a>>,
    #[serde(default, borrow)]
    hangout_link: Text<'a>,
    #[serde(default, borrow)]
    recurrence: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    recurring_event_id: Text<'a>,
}

/// `start` / `end`: `{"date"}` or `{"dateTime", "timeZone"}`, passed on as Google gave it.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct When<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    date: Text<'a>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    date_time: Text<'a>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    time_zone: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoogleAttendee<'a> {
    #[serde(default, borrow)]
    email: Text<'a>,
    #[serde(default, borrow)]
    display_name: Text<'a>,
    #[serde(default)]
    optional: Option<bool>,
    #[serde(default, borrow)]
    response_status: Text<'a>,
    #[serde(default, rename = "self")]
    is_self: Option<bool>,
    #[serde(default)]
    organizer: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleOrganizer<'a> {
    #[serde(default, borrow)]
    email: Text<'a>,
    #[serde(default, rename = "self")]
    is_self: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoogleConference<'a> {
    #[serde(default, borrow)]
    conference_solution: Option<Solution<'a>>,
    #[serde(default, borrow)]
    create_request: Option<CreateRequest<'a>>,
    #[serde(default, borrow)]
    entry_points: Vec<GoogleEntryPoint<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Solution<'a> {
    #[serde(default, borrow)]
    key: Option<SolutionKey<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct SolutionKey<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest<'a> {
    #[serde(default, borrow)]
    conference_solution_key: Option<SolutionKey<'a>>,
    #[serde(default, borrow)]
    status: Option<CreateStatus<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStatus<'a> {
    #[serde(default, borrow)]
    status_code: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoogleEntryPoint<'a> {
    #[serde(default, borrow)]
    entry_point_type: Text<'a>,
    #[serde(default, borrow)]
    uri: Text<'a>,
    #[serde(default, borrow)]
    label: Text<'a>,
    #[serde(default, borrow)]
    pin: Text<'a>,
}

// ------------------------------------------------------------------ our Event

/// Our `Event` (SPEC 3 and 9), borrowing from Google's. Members in alphabetical order, as
/// a JSON object of them has always been written.
#[derive(Debug, Serialize)]
pub struct Event<'g> {
    attendees: Vec<Attendee<'g>>,
    calendar_id: &'g str,
    conference: Option<Conference<'g>>,
    created: &'g Text<'g>,
    description: &'g Text<'g>,
    end: &'g Option<When<'g>>,
    html_link: &'g Text<'g>,
    id: &'g Text<'g>,
    location: &'g Text<'g>,
    organizer: Option<Organizer<'g>>,
    recurrence: &'g [Cow<'g, str>],
    recurring_event_id: Option<&'g str>,
    start: &'g Option<When<'g>>,
    status: &'g Text<'g>,
    summary: &'g Text<'g>,
    updated: &'g Text<'g>,
}

/// The `data` of a CloudEvent about an event: ids and times, never a token. The same
/// object as [`notification_data`](super::notification_data) makes of the event's JSON
/// (a test keeps the two equal), straight from the typed event.
#[derive(Debug, Serialize)]
pub struct Notification<'a> {
    calendar_id: &'a str,
    end: &'a Option<When<'a>>,
    event_id: &'a Text<'a>,
    start: &'a Option<When<'a>>,
    summary: &'a Text<'a>,
}

impl<'g> Event<'g> {
    /// The event's id, empty when Google sent none.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// What a CloudEvent about this event carries.
    pub fn notification(&self) -> Notification<'_> {
        Notification {
            calendar_id: self.calendar_id,
            end: self.end,
            event_id: self.id,
            start: self.start,
            summary: self.summary,
        }
    }
}

#[derive(Debug, Serialize)]
struct Attendee<'g> {
    display_name: &'g Text<'g>,
    email: &'g Text<'g>,
    optional: bool,
    organizer: bool,
    response_status: &'g Text<'g>,
    #[serde(rename = "self")]
    is_self: bool,
}

#[derive(Debug, Serialize)]
struct Organizer<'g> {
    email: &'g Text<'g>,
    #[serde(rename = "self")]
    is_self: bool,
}

#[derive(Debug, Serialize)]
struct Conference<'g> {
    entry_points: Vec<EntryPoint<'g>>,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'g str,
    uri: Option<&'g str>,
}

#[derive(Debug, Serialize)]
struct EntryPoint<'g> {
    label: &'g Text<'g>,
    pin: &'g Text<'g>,
    #[serde(rename = "type")]
    kind: &'g Text<'g>,
    uri: &'g Text<'g>,
}

impl<'g> GoogleEvent<'g> {
    /// Reads `events.get`; an answer that is no event reads as an empty one, as a JSON
    /// tree of it did.
    pub fn read(body: &'g [u8]) -> GoogleEvent<'g> {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Our `Event` of this one, in `calendar_id`; `series` is the recurring event an
    /// entry without `recurringEventId` belongs to (the instances of one series).
    pub fn answer(&'g self, calendar_id: &'g str, series: Option<&'g str>) -> Event<'g> {
        Event {
            attendees: self.attendees.iter().map(Attendee::of).collect(),
            calendar_id,
            conference: self.conference_data.as_ref().map(|c| self.conference(c)),
            created: &self.created,
            description: &self.description,
            end: &self.end,
            html_link: &self.html_link,
            id: &self.id,
            location: &self.location,
            organizer: self.organizer.as_ref().map(|o| Organizer {
                email: &o.email,
                is_self: o.is_self.unwrap_or(false),
            }),
            recurrence: &self.recurrence,
            recurring_event_id: self.recurring_event_id.as_deref().or(series),
            start: &self.start,
            status: &self.status,
            summary: &self.summary,
            updated: &self.updated,
        }
    }

    /// `type` (`google_meet` for Meet, else Google's solution type), `status` (a
    /// conference without a create request is a made one), `uri` (the video entry point's,
    /// else `hangoutLink`) and the entry points.
    fn conference(&'g self, c: &'g GoogleConference<'g>) -> Conference<'g> {
        let solution = c
            .conference_solution
            .as_ref()
            .and_then(|s| s.key.as_ref())
            .and_then(|k| k.kind.as_deref())
            .or_else(|| {
                c.create_request
                    .as_ref()
                    .and_then(|r| r.conference_solution_key.as_ref())
                    .and_then(|k| k.kind.as_deref())
            });
        let kind = match solution {
            Some("hangoutsMeet") | None => "google_meet",
            Some(other) => other,
        };
        let code = c
            .create_request
            .as_ref()
            .and_then(|r| r.status.as_ref())
            .and_then(|s| s.status_code.as_deref());
        let status = match code {
            Some("pending") => "pending",
            Some("failure") => "failure",
            _ => "success",
        };
        let uri = match c
            .entry_points
            .iter()
            .find(|e| e.entry_point_type.as_deref() == Some("video"))
        {
            Some(video) => video.uri.as_deref(),
            None => self.hangout_link.as_deref(),
        };
        Conference {
            entry_points: c
                .entry_points
                .iter()
                .map(|e| EntryPoint {
                    label: &e.label,
                    pin: &e.pin,
                    kind: &e.entry_point_type,
                    uri: &e.uri,
                })
                .collect(),
            status,
            kind,
            uri,
        }
    }
}

impl<'g> Attendee<'g> {
    fn of(a: &'g GoogleAttendee<'g>) -> Attendee<'g> {
        Attendee {
            display_name: &a.display_name,
            email: &a.email,
            optional: a.optional.unwrap_or(false),
            organizer: a.organizer.unwrap_or(false),
            response_status: &a.response_status,
            is_self: a.is_self.unwrap_or(false),
        }
    }
}

/// Our list answer from one page of Google's: `items`, `next_page_token`,
/// `next_sync_token` and `time_zone` (Google's, else `time_zone`).
#[derive(Debug, Serialize)]
pub struct PageAnswer<'g> {
    items: Vec<Event<'g>>,
    next_page_token: &'g Text<'g>,
    next_sync_token: &'g Text<'g>,
    time_zone: Option<&'g str>,
}

impl<'g> GooglePage<'g> {
    /// Reads `events.list` or `events.instances`; an answer that is no such page (not
    /// JSON, or of another shape) reads as an empty page, as a JSON tree of it did.
    pub fn read(body: &'g [u8]) -> GooglePage<'g> {
        serde_json::from_slice(body).unwrap_or_default()
    }

    pub fn answer(
        &'g self,
        calendar_id: &'g str,
        time_zone: Option<&'g str>,
        series: Option<&'g str>,
    ) -> PageAnswer<'g> {
        PageAnswer {
            items: self
                .items
                .iter()
                .map(|e| e.answer(calendar_id, series))
                .collect(),
            next_page_token: &self.next_page_token,
            next_sync_token: &self.next_sync_token,
            time_zone: self.time_zone.as_deref().or(time_zone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn the_typed_notification_is_the_one_made_of_the_events_json() {
        let google = json!({
            "id": "e1", "summary": "Standup", "status": "confirmed",
            "start": {"dateTime": "2026-07-10T09:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"date": "2026-07-11"},
            "attendees": [{"email": "a@x"}],
        });
        let bytes = serde_json::to_vec(&google).unwrap();
        let event = GoogleEvent::read(&bytes);
        let answer = event.answer("work", None);
        let typed = serde_json::to_value(answer.notification()).unwrap();
        let of_json = super::super::notification_data(&serde_json::to_value(&answer).unwrap());
        assert_eq!(typed, of_json);
        assert_eq!(typed["event_id"], "e1");
        assert_eq!(typed["calendar_id"], "work");
        assert_eq!(answer.id(), "e1");
        // An event without summary or times: nulls, as before.
        let bare = GoogleEvent::read(br#"{"id":"e2"}"#);
        let answer = bare.answer("primary", None);
        let typed = serde_json::to_value(answer.notification()).unwrap();
        let of_json = super::super::notification_data(&serde_json::to_value(&answer).unwrap());
        assert_eq!(typed, of_json);
        assert_eq!(GoogleEvent::read(b"{}").answer("p", None).id(), "");
    }

    fn answer(page: &Value, time_zone: Option<&str>, series: Option<&str>) -> Value {
        let bytes = serde_json::to_vec(page).unwrap();
        let p = GooglePage::read(&bytes);
        serde_json::to_value(p.answer("primary", time_zone, series)).unwrap()
    }

    #[test]
    fn a_page_reads_typed_into_the_list_answer() {
        let page = json!({
            "kind": "calendar#events", "timeZone": "Europe/Berlin", "nextPageToken": "p2",
            "items": [
                {"id": "e1", "summary": "Standup \"daily\"", "status": "confirmed",
                 "start": {"dateTime": "2026-07-10T09:00:00+02:00", "timeZone": "Europe/Berlin"},
                 "end": {"date": "2026-07-11"}, "htmlLink": "https://g/e1", "sequence": 3,
                 "attendees": [{"email": "a@x.com", "responseStatus": "accepted", "self": true}],
                 "organizer": {"email": "o@x.com"}, "recurrence": ["RRULE:FREQ=DAILY"],
                 "hangoutLink": "https://meet/abc",
                 "conferenceData": {"createRequest": {"status": {"statusCode": "pending"}}}},
                {"id": "e2", "status": "cancelled", "recurringEventId": "s0"}
            ]
        });
        let a = answer(&page, Some("UTC"), Some("s1"));
        assert_eq!(a["time_zone"], "Europe/Berlin");
        assert_eq!(a["next_page_token"], "p2");
        assert_eq!(a["next_sync_token"], Value::Null);
        let e1 = &a["items"][0];
        assert_eq!(e1["summary"], "Standup \"daily\"");
        assert_eq!(
            e1["start"], page["items"][0]["start"],
            "start passed on as Google gave it"
        );
        assert_eq!(e1["end"], json!({"date": "2026-07-11"}));
        assert_eq!(e1["calendar_id"], "primary");
        assert_eq!(
            e1["attendees"],
            json!([{"email": "a@x.com", "display_name": null, "optional": false,
                    "response_status": "accepted", "self": true, "organizer": false}])
        );
        assert_eq!(e1["organizer"], json!({"email": "o@x.com", "self": false}));
        assert_eq!(
            e1["conference"],
            json!({"type": "google_meet", "status": "pending", "uri": "https://meet/abc",
                   "entry_points": []})
        );
        assert_eq!(
            e1["recurring_event_id"], "s1",
            "the series, where Google names none"
        );
        assert_eq!(e1["recurrence"], json!(["RRULE:FREQ=DAILY"]));
        let e2 = &a["items"][1];
        assert_eq!(e2["recurring_event_id"], "s0");
        assert_eq!(e2["summary"], Value::Null);
        assert_eq!(e2["attendees"], json!([]));
        assert_eq!(e2["conference"], Value::Null);
        assert_eq!(e2["organizer"], Value::Null);
    }

    #[test]
    fn what_is_no_page_reads_as_an_empty_one() {
        for body in [&b"not json"[..], b"[]", b"{\"items\": 3}"] {
            let p = GooglePage::read(body);
            let a = serde_json::to_value(p.answer("primary", Some("UTC"), None)).unwrap();
            assert_eq!(a["items"], json!([]));
            assert_eq!(a["time_zone"], "UTC");
        }
    }
}
