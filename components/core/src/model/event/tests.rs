use super::*;
use serde_json::{Value, json};

fn input(v: Value) -> EventInput {
    EventInput::parse(v.to_string().as_bytes()).unwrap()
}

fn code(r: Result<Value, Problem>) -> Code {
    r.unwrap_err().code
}

#[test]
fn local_times_resolve_with_the_right_offset() {
    let berlin = Some(parse_zone("Europe/Berlin").unwrap());
    // Winter and summer offsets.
    assert_eq!(
        resolve_date_time("2026-01-10T09:00:00", berlin)
            .unwrap()
            .to_rfc3339(),
        "2026-01-10T09:00:00+01:00"
    );
    assert_eq!(
        resolve_date_time("2026-07-10T09:00:00", berlin)
            .unwrap()
            .to_rfc3339(),
        "2026-07-10T09:00:00+02:00"
    );
    // The spring-forward gap does not exist.
    assert_eq!(
        resolve_date_time("2026-03-29T02:30:00", berlin)
            .unwrap_err()
            .code,
        Code::NonexistentLocalTime
    );
    // The autumn hour exists twice: the first one (still +02:00) is taken.
    assert_eq!(
        resolve_date_time("2026-10-25T02:30:00", berlin)
            .unwrap()
            .to_rfc3339(),
        "2026-10-25T02:30:00+02:00"
    );
    // An explicit offset is kept as is, zone or not.
    assert_eq!(
        resolve_date_time("2026-03-29T02:30:00+01:00", berlin)
            .unwrap()
            .to_rfc3339(),
        "2026-03-29T02:30:00+01:00"
    );
    assert_eq!(
        resolve_date_time("2026-03-29T02:30:00Z", None)
            .unwrap()
            .to_rfc3339(),
        "2026-03-29T02:30:00+00:00"
    );
    assert_eq!(
        resolve_date_time("2026-03-29T02:30:00", None)
            .unwrap_err()
            .code,
        Code::MissingTimeZone
    );
    assert_eq!(
        resolve_date_time("tomorrow", berlin).unwrap_err().code,
        Code::InvalidEvent
    );
}

#[test]
fn zones_must_be_real() {
    assert!(parse_zone("America/New_York").is_ok());
    for bad in ["Mars/Olympus", "", "Europe/Berlin "] {
        assert_eq!(
            parse_zone(bad).unwrap_err().code,
            Code::InvalidTimeZone,
            "{bad:?}"
        );
    }
}

#[test]
fn create_builds_googles_body() {
    let body = input(json!({
        "summary": "Standup",
        "start": {"dateTime": "2026-07-10T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-07-10T09:15:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "a@example.com"}],
        "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]},
    }))
    .for_create(None)
    .unwrap();
    assert_eq!(
        body["start"],
        json!({"dateTime": "2026-07-10T09:00:00+02:00", "timeZone": "Europe/Berlin"})
    );
    assert_eq!(body["attendees"][0]["email"], "a@example.com");
    assert_eq!(body["reminders"]["overrides"][0]["minutes"], 10);
    let all_day = input(
        json!({"summary": "Off", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
    )
    .for_create(None)
    .unwrap();
    assert_eq!(all_day["end"], json!({"date": "2026-07-11"}));
}

#[test]
fn the_users_zone_applies_to_local_times_without_one() {
    let i = input(
        json!({"summary": "x", "start": {"dateTime": "2026-01-10T09:00:00"}, "end": {"dateTime": "2026-01-10T10:00:00"}}),
    );
    assert!(i.needs_user_zone());
    assert_eq!(
        i.for_create(Some("America/New_York")).unwrap()["start"]["dateTime"],
        "2026-01-10T09:00:00-05:00"
    );
    assert_eq!(code(i.for_create(None)), Code::MissingTimeZone);
    let with_offset = input(
        json!({"summary": "x", "start": {"dateTime": "2026-01-10T09:00:00Z"}, "end": {"dateTime": "2026-01-10T10:00:00Z"}}),
    );
    assert!(!with_offset.needs_user_zone());
}

#[test]
fn invalid_creates_get_their_codes() {
    let cases = [
        (
            json!({"start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
            Code::InvalidEvent,
        ),
        (
            json!({"summary": "", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
            Code::InvalidEvent,
        ),
        (
            json!({"summary": "x".repeat(1025), "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}),
            Code::InvalidEvent,
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-11"}, "end": {"date": "2026-07-11"}}),
            Code::InvalidTimeRange,
        ),
        (
            json!({"summary": "x", "start": {"dateTime": "2026-07-11T10:00:00Z"}, "end": {"dateTime": "2026-07-11T09:00:00Z"}}),
            Code::InvalidTimeRange,
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-11"}, "end": {"dateTime": "2026-07-12T09:00:00Z"}}),
            Code::InvalidEvent,
        ),
        (
            json!({"summary": "x", "start": {"dateTime": "2026-07-11T10:00:00", "timeZone": "Nowhere/City"}, "end": {"dateTime": "2026-07-11T11:00:00Z"}}),
            Code::InvalidTimeZone,
        ),
        (
            json!({"summary": "x", "start": {"dateTime": "2026-03-29T02:30:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2026-03-29T04:00:00", "timeZone": "Europe/Berlin"}}),
            Code::NonexistentLocalTime,
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}, "attendees": [{"email": "nope"}]}),
            Code::InvalidEvent,
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}, "recurrence": ["FREQ=DAILY"]}),
            Code::InvalidEvent,
        ),
        (
            json!({"summary": "x", "start": {"dateTime": "2026-07-10T09:00:00Z"}, "end": {"dateTime": "2026-07-10T10:00:00Z"}, "recurrence": ["RRULE:FREQ=DAILY"]}),
            Code::MissingTimeZone,
        ),
        (
            json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}, "reminders": {"useDefault": true, "overrides": [{"method": "popup", "minutes": 10}]}}),
            Code::InvalidEvent,
        ),
    ];
    for (body, want) in cases {
        let got = EventInput::parse(body.to_string().as_bytes()).and_then(|i| i.for_create(None));
        assert_eq!(got.map_err(|p| p.code).err(), Some(want), "{body}");
    }
}

#[test]
fn unknown_fields_and_malformed_bodies() {
    assert_eq!(
        EventInput::parse(br#"{"summary":"x","colour":1}"#)
            .unwrap_err()
            .code,
        Code::UnknownField
    );
    assert_eq!(
        EventInput::parse(br#"{"summary":"x","start":{"date":"2026-01-01","when":1}}"#)
            .unwrap_err()
            .code,
        Code::UnknownField
    );
    assert_eq!(
        EventInput::parse(b"not json").unwrap_err().code,
        Code::InvalidEvent
    );
    assert_eq!(EventInput::parse(b"").unwrap_err().code, Code::InvalidEvent);
    assert_eq!(
        EventInput::parse(br#"{"summary": 5}"#).unwrap_err().code,
        Code::InvalidEvent
    );
}

#[test]
fn patches_are_validated_against_the_merged_event() {
    let existing = json!({"id": "e1", "summary": "old", "start": {"dateTime": "2026-07-10T09:00:00+02:00"}, "end": {"dateTime": "2026-07-10T10:00:00+02:00"}});
    let ok = input(json!({"summary": "new"}))
        .for_patch(&existing, None)
        .unwrap();
    assert_eq!(ok, json!({"summary": "new"}));
    // Moving the start past the stored end is caught.
    let late = input(json!({"start": {"dateTime": "2026-07-10T11:00:00+02:00"}}));
    assert_eq!(
        code(late.for_patch(&existing, None)),
        Code::InvalidTimeRange
    );
    // Mixing a date with the stored dateTime is caught.
    let mixed = input(json!({"end": {"date": "2026-07-11"}}));
    assert_eq!(code(mixed.for_patch(&existing, None)), Code::InvalidEvent);
    assert_eq!(
        code(input(json!({})).for_patch(&existing, None)),
        Code::InvalidEvent
    );
}

#[test]
fn patching_between_all_day_and_timed_clears_the_other_kind() {
    // Google merges `start`/`end` objects on PATCH, so the field of the other kind must
    // be cleared explicitly (null), or the merged event has both `date` and `dateTime`.
    let timed = json!({"start": {"dateTime": "2026-07-10T09:00:00+02:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2026-07-10T10:00:00+02:00", "timeZone": "Europe/Berlin"}});
    let to_all_day = input(json!({"start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}}))
        .for_patch(&timed, None)
        .unwrap();
    assert_eq!(
        to_all_day,
        json!({"start": {"date": "2026-07-10", "dateTime": null}, "end": {"date": "2026-07-11", "dateTime": null}})
    );
    let all_day = json!({"start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}});
    let to_timed = input(json!({"start": {"dateTime": "2026-07-10T09:00:00Z"}, "end": {"dateTime": "2026-07-10T10:00:00Z"}}))
        .for_patch(&all_day, None)
        .unwrap();
    assert_eq!(
        to_timed,
        json!({"start": {"dateTime": "2026-07-10T09:00:00+00:00", "date": null}, "end": {"dateTime": "2026-07-10T10:00:00+00:00", "date": null}})
    );
}

#[test]
fn idempotent_ids_are_stable_per_user_and_key_and_in_googles_alphabet() {
    let a = idempotent_event_id("u1", "k1");
    assert_eq!(a, idempotent_event_id("u1", "k1"));
    assert_ne!(a, idempotent_event_id("u2", "k1"));
    assert_ne!(a, idempotent_event_id("u1", "k2"));
    assert_ne!(
        idempotent_event_id("u1", "\0k"),
        idempotent_event_id("u1\0", "k")
    );
    assert!((5..=1024).contains(&a.len()));
    assert!(
        a.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'v')),
        "{a}"
    );
    assert!(check_idempotency_key("abc-123").is_ok());
    assert!(check_idempotency_key("").is_err());
    assert!(check_idempotency_key("a b").is_err());
}

#[test]
fn google_events_map_to_ours() {
    let g = json!({"id": "e1", "summary": "S", "htmlLink": "https://g/e1", "status": "confirmed", "start": {"date": "2026-01-01"}, "end": {"date": "2026-01-02"}, "recurringEventId": "r1", "attendees": [{"email": "a@x", "responseStatus": "accepted"}]});
    let e = from_google(&g, "primary");
    assert_eq!(e["html_link"], "https://g/e1");
    assert_eq!(e["recurring_event_id"], "r1");
    assert_eq!(e["calendar_id"], "primary");
    assert_eq!(e["attendees"][0]["response_status"], "accepted");
    let cancelled = from_google(&json!({"id": "e2", "status": "cancelled"}), "primary");
    assert_eq!(cancelled["summary"], Value::Null);
    assert_eq!(notification_data(&e)["event_id"], "e1");
}

#[test]
fn list_queries_translate_and_reject_bad_combinations() {
    let q = ListQuery::parse("time_min=2026-01-01&time_max=2026-02-01T00:00:00Z&q=team&order_by=startTime&time_zone=Europe/Berlin").unwrap();
    let get = |k: &str| {
        q.google
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("timeMin").as_deref(), Some("2026-01-01T00:00:00+01:00"));
    assert_eq!(get("timeMax").as_deref(), Some("2026-02-01T00:00:00+00:00"));
    assert_eq!(get("singleEvents").as_deref(), Some("true"));
    assert_eq!(get("maxResults").as_deref(), Some("250"));
    assert_eq!(q.calendar_id, "primary");
    let bad = [
        (
            "time_min=2026-02-01&time_max=2026-01-01",
            Code::InvalidTimeRange,
        ),
        (
            "time_min=2026-01-01&time_max=2026-01-01",
            Code::InvalidTimeRange,
        ),
        ("max_results=0", Code::InvalidQuery),
        ("max_results=2501", Code::InvalidQuery),
        ("order_by=startTime&single_events=false", Code::InvalidQuery),
        ("time_zone=Mars/Base", Code::InvalidTimeZone),
        ("sync_token=abc&q=x", Code::InvalidQuery),
        ("sync_token=abc&time_min=2026-01-01", Code::InvalidQuery),
        ("q=a&q=b", Code::InvalidQuery),
        ("colour=red", Code::InvalidQuery),
        ("time_min=yesterday", Code::InvalidQuery),
        ("single_events=maybe", Code::InvalidQuery),
        ("calendar_id=a%2Fb", Code::InvalidQuery),
    ];
    for (query, want) in bad {
        assert_eq!(ListQuery::parse(query).unwrap_err().code, want, "{query}");
    }
    assert!(ListQuery::parse("sync_token=abc&show_deleted=true").is_ok());
}

/// The `TimeZone` schema of `openapi.json` lists exactly the zones `parse_zone` takes.
#[test]
fn the_documents_time_zones_are_exactly_those_accepted() {
    let doc: Value = serde_json::from_str(include_str!("../../../../../openapi.json")).unwrap();
    let documented: Vec<&str> = doc["components"]["schemas"]["TimeZone"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_str().unwrap())
        .collect();
    let accepted: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    assert_eq!(documented, accepted);
    for z in &documented {
        assert!(parse_zone(z).is_ok(), "{z}");
    }
    assert!(
        parse_zone("europe/berlin").is_err(),
        "case-sensitive, as documented"
    );
}

/// Calendar ids are bounded in characters (as the schema's `maxLength`), not bytes.
#[test]
fn calendar_ids_are_counted_in_characters() {
    assert!(check_calendar_id(&"é".repeat(256)).is_ok());
    assert!(check_calendar_id(&"é".repeat(257)).is_err());
    for bad in ["", "a/b", "a\u{85}b", "a\u{7f}"] {
        assert!(check_calendar_id(bad).is_err(), "{bad:?}");
    }
}

/// `watch` is the push-channel route, never an event id.
#[test]
fn watch_is_not_an_event_id() {
    assert!(check_event_id("watch").is_err());
    assert!(check_event_id("watch1").is_ok());
}
