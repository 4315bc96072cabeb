use super::*;
use serde_json::{Value, json};

fn input(v: Value) -> Result<EventInput, Problem> {
    EventInput::parse(v.to_string().as_bytes())
}

fn with_attendees(attendees: Value) -> Result<Value, Problem> {
    input(json!({
        "summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"},
        "attendees": attendees,
    }))?
    .for_create(None)
}

#[test]
fn emails_are_checked_by_the_rfc_5322_rules_with_a_top_level_domain() {
    for ok in [
        "ann@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.org",
        "x@e.io",
    ] {
        assert!(valid_email(ok), "{ok}");
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    let too_long = format!("a@{}.com", vec!["b".repeat(60); 5].join("."));
    for bad in [
        "",
        "nobody",
        "@example.com",
        "ann@",
        "ann@localhost",
        "ann@@example.com",
        "ann example@example.com",
        "Ann <ann@example.com>",
        "ann@[127.0.0.1]",
        "ann@exa mple.com",
        "ann@-example.com",
        "ann..b@example.com",
        "ann@example.com\n",
        long_local.as_str(),
        too_long.as_str(),
    ] {
        assert!(!valid_email(bad), "{bad:?}");
    }
}

#[test]
fn attendees_are_bounded_unique_and_carry_display_names() {
    let body = with_attendees(json!([
        {"email": "ann@example.com", "display_name": "Ann", "optional": true},
        {"email": "bob@example.com"},
    ]))
    .unwrap();
    assert_eq!(
        body["attendees"],
        json!([
            {"email": "ann@example.com", "displayName": "Ann", "optional": true},
            {"email": "bob@example.com"},
        ])
    );
    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"email": format!("p{i}@example.com")}))
        .collect();
    assert!(with_attendees(json!(hundred)).is_ok());
    let mut too_many = hundred.clone();
    too_many.push(json!({"email": "one-more@example.com"}));
    let cases = [
        json!(too_many),
        json!([{"email": "nobody"}]),
        json!([{"email": "a@example.com"}, {"email": "A@example.com"}]),
        json!([{"email": "a@example.com", "display_name": ""}]),
        json!([{"email": "a@example.com", "display_name": "x".repeat(MAX_DISPLAY_NAME + 1)}]),
        json!([{"email": "a@example.com", "display_name": "a\u{7}b"}]),
    ];
    for attendees in cases {
        let e = with_attendees(attendees.clone()).unwrap_err();
        assert_eq!(e.code, Code::InvalidEvent, "{attendees}");
    }
    let long_name = "x".repeat(MAX_DISPLAY_NAME);
    assert!(with_attendees(json!([{"email": "a@example.com", "display_name": long_name}])).is_ok());
    let e = with_attendees(json!([{"email": "a@example.com", "self": true}])).unwrap_err();
    assert_eq!(e.code, Code::UnknownField);
}

#[test]
fn the_conference_field_asks_for_google_meet_only() {
    let base =
        json!({"summary": "x", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-11"}});
    let mut meet = base.clone();
    meet["conference"] = json!({"type": "google_meet"});
    assert_eq!(
        input(meet).unwrap().conference,
        Some(ConferenceInput {
            kind: ConferenceType::GoogleMeet
        })
    );
    for other in [
        json!({"type": "zoom"}),
        json!({}),
        json!("google_meet"),
        json!({"type": "google_meet", "extra": 1}),
    ] {
        let mut b = base.clone();
        b["conference"] = other.clone();
        assert!(input(b).is_err(), "{other}");
    }
    // A patch asking only for a conference is a change.
    let patch = input(json!({"conference": {"type": "google_meet"}})).unwrap();
    assert!(patch.for_patch(&json!({}), None).is_ok());
}

#[test]
fn conference_request_ids_follow_user_and_seed() {
    let a = conference_request_id("u1", "k1");
    assert_eq!(a, conference_request_id("u1", "k1"));
    assert_ne!(a, conference_request_id("u1", "k2"));
    assert_ne!(a, conference_request_id("u2", "k1"));
    // Length-prefixed: ("u1", "1k") and ("u11", "k") differ.
    assert_ne!(
        conference_request_id("u1", "1k"),
        conference_request_id("u11", "k")
    );
    assert_eq!(
        conference_create(&a),
        json!({"createRequest": {"requestId": a, "conferenceSolutionKey": {"type": "hangoutsMeet"}}})
    );
}

#[test]
fn the_answer_carries_conference_organizer_and_attendee_flags() {
    let g = json!({
        "id": "e1", "status": "confirmed",
        "organizer": {"email": "me@example.com", "self": true},
        "attendees": [
            {"email": "me@example.com", "responseStatus": "accepted", "self": true, "organizer": true},
            {"email": "bob@example.com", "displayName": "Bob", "optional": true, "responseStatus": "needsAction"},
        ],
        "hangoutLink": "https://meet.google.com/abc-defg-hij",
        "conferenceData": {
            "createRequest": {"requestId": "r", "status": {"statusCode": "success"}},
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}},
            "entryPoints": [
                {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij", "label": "meet.google.com/abc-defg-hij"},
                {"entryPointType": "phone", "uri": "tel:+1-555", "label": "+1 555", "pin": "123"},
            ],
        },
    });
    let e = from_google(&g, "primary");
    assert_eq!(
        e["organizer"],
        json!({"email": "me@example.com", "self": true})
    );
    assert_eq!(
        e["attendees"],
        json!([
            {"email": "me@example.com", "display_name": null, "optional": false, "response_status": "accepted", "self": true, "organizer": true},
            {"email": "bob@example.com", "display_name": "Bob", "optional": true, "response_status": "needsAction", "self": false, "organizer": false},
        ])
    );
    assert_eq!(
        e["conference"],
        json!({
            "type": "google_meet", "status": "success", "uri": "https://meet.google.com/abc-defg-hij",
            "entry_points": [
                {"type": "video", "uri": "https://meet.google.com/abc-defg-hij", "label": "meet.google.com/abc-defg-hij", "pin": null},
                {"type": "phone", "uri": "tel:+1-555", "label": "+1 555", "pin": "123"},
            ],
        })
    );
    let pending = json!({"conferenceData": {"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "hangoutsMeet"}, "status": {"statusCode": "pending"}}}});
    assert_eq!(
        from_google(&pending, "primary")["conference"],
        json!({"type": "google_meet", "status": "pending", "uri": null, "entry_points": []})
    );
    assert!(has_live_conference(&pending));
    let mut failed = pending.clone();
    failed["conferenceData"]["createRequest"]["status"]["statusCode"] = json!("failure");
    assert_eq!(
        from_google(&failed, "primary")["conference"]["status"],
        "failure"
    );
    assert!(!has_live_conference(&failed));
    let none = from_google(&json!({"id": "e2"}), "primary");
    assert_eq!(
        (&none["conference"], &none["organizer"]),
        (&Value::Null, &Value::Null)
    );
    assert!(!has_live_conference(&json!({"id": "e2"})));
}

#[test]
fn an_rsvp_changes_only_the_users_own_entry() {
    let rsvp = Rsvp::parse(br#"{"response": "declined", "comment": "away"}"#).unwrap();
    let event = json!({"attendees": [
        {"email": "org@example.com", "organizer": true, "responseStatus": "accepted"},
        {"email": "me@example.com", "self": true, "responseStatus": "needsAction", "displayName": "Me"},
        {"email": "bob@example.com", "responseStatus": "tentative", "comment": "maybe"},
    ]});
    assert_eq!(
        rsvp.apply(&event).unwrap(),
        json!([
            {"email": "org@example.com", "organizer": true, "responseStatus": "accepted"},
            {"email": "me@example.com", "self": true, "responseStatus": "declined", "displayName": "Me", "comment": "away"},
            {"email": "bob@example.com", "responseStatus": "tentative", "comment": "maybe"},
        ])
    );
    assert_eq!(
        rsvp.apply(&json!({"attendees": [{"email": "bob@example.com"}]})),
        None
    );
    assert_eq!(rsvp.apply(&json!({"id": "e"})), None);
    let long = format!(
        r#"{{"response": "accepted", "comment": "{}"}}"#,
        "x".repeat(MAX_COMMENT + 1)
    );
    for bad in [
        r#"{"response": "needsAction"}"#,
        r#"{"response": "maybe"}"#,
        r#"{}"#,
        long.as_str(),
    ] {
        assert_eq!(
            Rsvp::parse(bad.as_bytes()).unwrap_err().code,
            Code::InvalidEvent,
            "{bad}"
        );
    }
    let unknown = Rsvp::parse(br#"{"response": "accepted", "email": "x@example.com"}"#);
    assert_eq!(unknown.unwrap_err().code, Code::UnknownField);
}

#[test]
fn send_updates_maps_to_googles_names_and_defaults_to_none() {
    let q = |s: &str| WriteQuery::parse(s).map(|w| w.send_updates);
    assert_eq!(q(""), Ok("none"));
    assert_eq!(q("send_updates=none"), Ok("none"));
    assert_eq!(q("send_updates=all"), Ok("all"));
    assert_eq!(q("send_updates=external_only"), Ok("externalOnly"));
    for bad in [
        "send_updates=externalOnly",
        "send_updates=",
        "send_updates=all&send_updates=none",
        "sendUpdates=all",
    ] {
        assert_eq!(q(bad).unwrap_err().code, Code::InvalidQuery, "{bad}");
    }
    let w = WriteQuery::parse("calendar_id=team%40example.com&send_updates=all").unwrap();
    assert_eq!(w.calendar_id, "team@example.com");
    assert_eq!(
        w.google_write(),
        vec![
            ("conferenceDataVersion", "1".to_owned()),
            ("sendUpdates", "all".to_owned())
        ]
    );
    assert_eq!(w.google_delete(), vec![("sendUpdates", "all".to_owned())]);
    // A create names its calendar in the body.
    assert!(WriteQuery::parse_create("calendar_id=primary").is_err());
    assert_eq!(
        WriteQuery::parse_create("send_updates=external_only")
            .unwrap()
            .send_updates,
        "externalOnly"
    );
}

#[test]
fn the_instances_query_takes_the_lists_window_and_paging() {
    let q = InstancesQuery::parse(
        "time_min=2026-07-01&time_max=2026-08-01&time_zone=Europe/Berlin&max_results=5&page_token=abc&show_deleted=true",
    )
    .unwrap();
    assert_eq!(q.calendar_id, "primary");
    assert_eq!(
        q.google,
        vec![
            ("maxResults", "5".to_owned()),
            ("showDeleted", "true".to_owned()),
            ("timeMin", "2026-07-01T00:00:00+02:00".to_owned()),
            ("timeMax", "2026-08-01T00:00:00+02:00".to_owned()),
            ("pageToken", "abc".to_owned()),
            ("timeZone", "Europe/Berlin".to_owned()),
        ]
    );
    assert_eq!(
        InstancesQuery::parse("").unwrap().google,
        vec![("maxResults", "250".to_owned())]
    );
    for (bad, code) in [
        ("q=x", Code::InvalidQuery),
        ("single_events=true", Code::InvalidQuery),
        ("sync_token=x", Code::InvalidQuery),
        ("max_results=0", Code::InvalidQuery),
        ("max_results=2501", Code::InvalidQuery),
        ("time_zone=Mars/Olympus", Code::InvalidTimeZone),
        (
            "time_min=2026-08-01&time_max=2026-07-01",
            Code::InvalidTimeRange,
        ),
    ] {
        assert_eq!(InstancesQuery::parse(bad).unwrap_err().code, code, "{bad}");
    }
}
