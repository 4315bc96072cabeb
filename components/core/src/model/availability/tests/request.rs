//! `POST /availability` bodies: every SPEC section 8 limit, with its code.

use super::*;
use chrono::{NaiveTime, TimeDelta, Weekday};
use serde_json::{Value, json};

fn base() -> Value {
    json!({
        "participants": [{"user_id": "ann"}, {"user_id": "bob@example.com", "calendar_ids": ["primary", "team@example.com"]}],
        "time_min": "2026-10-19T00:00:00Z",
        "time_max": "2026-10-26T00:00:00+00:00",
        "duration_minutes": 30,
    })
}

fn parse(v: &Value) -> Result<AvailabilityRequest, AvailabilityError> {
    AvailabilityRequest::from_json(v.to_string().as_bytes())
}

fn with(path: &[&str], value: Value) -> Value {
    let mut v = base();
    let mut at = &mut v;
    for (i, key) in path.iter().enumerate() {
        if i + 1 == path.len() {
            at[*key] = value.clone();
        } else {
            at = &mut at[*key];
        }
    }
    v
}

fn code(v: &Value) -> &'static str {
    match parse(v) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn hours(start: &str, end: &str, days: Value) -> Value {
    with(
        &["working_hours"],
        json!({"start": start, "end": end, "days": days}),
    )
}

#[test]
fn defaults_of_a_minimal_body() {
    let r = parse(&base()).unwrap();
    assert_eq!(r.participants.len(), 2);
    assert_eq!(r.participants[0].user_id, user("ann"));
    assert_eq!(r.participants[0].calendar_ids, vec!["primary".to_owned()]);
    assert_eq!(
        r.participants[1].calendar_ids,
        vec!["primary".to_owned(), "team@example.com".to_owned()]
    );
    let q = &r.query;
    assert_eq!(q.window, iv("2026-10-19T00:00:00Z", "2026-10-26T00:00:00Z"));
    assert_eq!(q.duration, TimeDelta::minutes(30));
    assert_eq!(q.interval, TimeDelta::minutes(15));
    assert_eq!(q.buffer, TimeDelta::zero());
    assert_eq!(q.max_slots, 100);
    assert_eq!(q.working_hours, None);
    assert_eq!(q.freebusy_window(), q.window);
}

#[test]
fn every_field_given() {
    let mut v = base();
    v["interval_minutes"] = json!(30);
    v["buffer_minutes"] = json!(10);
    v["max_slots"] = json!(7);
    v["working_hours"] = json!({"start": "09:00", "end": "17:30", "days": ["mon", "fri", "sun"], "time_zone": "Asia/Kolkata"});
    let q = parse(&v).unwrap().query;
    assert_eq!(
        (q.interval, q.buffer, q.max_slots),
        (TimeDelta::minutes(30), TimeDelta::minutes(10), 7)
    );
    assert_eq!(
        q.freebusy_window(),
        iv("2026-10-18T23:50:00Z", "2026-10-26T00:10:00Z")
    );
    let wh = q.working_hours.unwrap();
    assert_eq!(wh.start, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
    assert_eq!(wh.end, NaiveTime::from_hms_opt(17, 30, 0).unwrap());
    assert_eq!(wh.days, vec![Weekday::Mon, Weekday::Fri, Weekday::Sun]);
    assert_eq!(wh.time_zone, Some(chrono_tz::Asia::Kolkata));
}

#[test]
fn shape_errors() {
    assert_eq!(
        AvailabilityRequest::from_json(b"{").unwrap_err().code(),
        "invalid_request"
    );
    assert_eq!(
        AvailabilityRequest::from_json(b"[]").unwrap_err().code(),
        "invalid_request"
    );
    let mut missing = base();
    missing.as_object_mut().unwrap().remove("duration_minutes");
    assert_eq!(code(&missing), "invalid_request");
    assert_eq!(
        code(&with(&["duration_minutes"], json!("30"))),
        "invalid_request"
    );
    assert_eq!(
        code(&with(&["duration_minutes"], json!(30.5))),
        "invalid_request"
    );
    assert_eq!(code(&with(&["time_zone"], json!("UTC"))), "unknown_field");
    let mut p = base();
    p["participants"][0]["email"] = json!("x");
    assert_eq!(code(&p), "unknown_field");
    let wh = with(
        &["working_hours"],
        json!({"start": "09:00", "end": "17:00", "days": ["mon"], "tz": "UTC"}),
    );
    assert_eq!(code(&wh), "unknown_field");
}

#[test]
fn participant_limits() {
    let people = |n: usize| {
        json!(
            (0..n)
                .map(|i| json!({"user_id": format!("u{i}")}))
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(code(&with(&["participants"], people(0))), "no_participants");
    assert_eq!(code(&with(&["participants"], people(1))), "ok");
    assert_eq!(code(&with(&["participants"], people(20))), "ok");
    assert_eq!(
        code(&with(&["participants"], people(21))),
        "too_many_participants"
    );
    for bad in ["", "a/b", "..", "a b", "é", &"x".repeat(129)] {
        let v = with(
            &["participants"],
            json!([{"user_id": "ok"}, {"user_id": bad}]),
        );
        assert_eq!(
            parse(&v).unwrap_err(),
            AvailabilityError::InvalidUserId { index: 1 },
            "{bad:?}"
        );
    }
    let v = with(&["participants"], json!([{"user_id": &"x".repeat(128)}]));
    assert_eq!(code(&v), "ok");
    let dup = with(
        &["participants"],
        json!([{"user_id": "ann"}, {"user_id": "bob"}, {"user_id": "ann"}]),
    );
    assert_eq!(
        parse(&dup).unwrap_err(),
        AvailabilityError::DuplicateParticipant {
            user_id: "ann".into()
        }
    );
}

#[test]
fn calendar_limits() {
    let cals = |ids: Value| {
        with(
            &["participants"],
            json!([{"user_id": "ann", "calendar_ids": ids}]),
        )
    };
    let many = |n: usize| {
        json!(
            (0..n)
                .map(|i| format!("c{i}@example.com"))
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(code(&cals(many(50))), "ok");
    assert_eq!(
        parse(&cals(many(51))).unwrap_err(),
        AvailabilityError::TooManyCalendars {
            user_id: "ann".into(),
            count: 51
        }
    );
    for bad in [
        json!([]),
        json!(["a/b"]),
        json!([""]),
        json!(["x".repeat(257)]),
        json!(["a", "a"]),
        json!(["a\nb"]),
    ] {
        assert_eq!(code(&cals(bad.clone())), "invalid_calendar_ids", "{bad}");
    }
    assert_eq!(code(&cals(json!(["x".repeat(256)]))), "ok");
}

#[test]
fn window_limits() {
    let window = |a: &str, b: &str| {
        let mut v = base();
        v["time_min"] = json!(a);
        v["time_max"] = json!(b);
        v
    };
    for (min, max, want) in [
        ("yesterday", "2026-10-20T00:00:00Z", "invalid_time"),
        (
            "2026-10-19T10:00:00Z",
            "2026-10-19T10:00:00Z",
            "invalid_time_range",
        ),
        (
            "2026-10-19T12:00:00+02:00",
            "2026-10-19T10:00:00Z",
            "invalid_time_range",
        ),
        ("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "ok"),
        (
            "2026-10-01T00:00:00Z",
            "2026-11-01T00:01:00Z",
            "window_too_long",
        ),
    ] {
        assert_eq!(code(&window(min, max)), want, "{min} {max}");
    }
    assert_eq!(
        parse(&window("2026-10-19T00:00:00Z", "2026-10-20T25:00:00Z")).unwrap_err(),
        AvailabilityError::InvalidTime { field: "time_max" }
    );
    // Dates are midnight UTC without a zone...
    let q = parse(&window("2026-10-19", "2026-10-20")).unwrap().query;
    assert_eq!(q.window, iv("2026-10-19T00:00:00Z", "2026-10-20T00:00:00Z"));
    // ... and midnight in working_hours.time_zone with one (CEST, then CET after the change).
    let mut v = window("2026-10-24", "2026-10-26");
    v["working_hours"] =
        json!({"start": "09:00", "end": "17:00", "days": ["mon"], "time_zone": "Europe/Berlin"});
    let q = parse(&v).unwrap().query;
    assert_eq!(q.window, iv("2026-10-23T22:00:00Z", "2026-10-25T23:00:00Z"));
}

#[test]
fn number_limits() {
    let n = |field: &str, value: i64| code(&with(&[field], json!(value)));
    for (field, low, high, err) in [
        ("duration_minutes", 5, 1440, "invalid_duration"),
        ("interval_minutes", 5, 1440, "invalid_interval"),
        ("buffer_minutes", 0, 240, "invalid_buffer"),
        ("max_slots", 1, 1000, "invalid_max_slots"),
    ] {
        assert_eq!(n(field, low), "ok", "{field}");
        assert_eq!(n(field, high), "ok", "{field}");
        assert_eq!(n(field, low - 1), err, "{field}");
        assert_eq!(n(field, high + 1), err, "{field}");
        assert_eq!(n(field, i64::MIN), err, "{field}");
    }
}

#[test]
fn working_hours_limits() {
    assert_eq!(
        code(&hours(
            "09:00",
            "17:00",
            json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
        )),
        "ok"
    );
    assert_eq!(code(&hours("00:00", "23:59", json!(["sun", "sun"]))), "ok");
    for (s, e) in [
        ("9:00", "17:00"),
        ("09:00", "24:00"),
        ("09:60", "17:00"),
        ("0900", "17:00"),
        ("09:00:00", "17:00"),
        ("+9:00", "17:00"),
        ("09:00", ""),
    ] {
        assert_eq!(
            code(&hours(s, e, json!(["mon"]))),
            "invalid_working_hours",
            "{s}-{e}"
        );
    }
    assert_eq!(
        code(&hours("17:00", "17:00", json!(["mon"]))),
        "invalid_working_hours"
    );
    assert_eq!(
        code(&hours("17:00", "09:00", json!(["mon"]))),
        "invalid_working_hours"
    );
    assert_eq!(
        code(&hours("09:00", "17:00", json!([]))),
        "invalid_working_hours"
    );
    for day in ["funday", "Mon", "monday", ""] {
        assert_eq!(
            parse(&hours("09:00", "17:00", json!(["tue", day]))).unwrap_err(),
            AvailabilityError::UnknownWeekday(day.into())
        );
    }
    let zone = |z: &str| {
        with(
            &["working_hours"],
            json!({"start": "09:00", "end": "17:00", "days": ["mon"], "time_zone": z}),
        )
    };
    assert_eq!(code(&zone("Mars/Olympus_Mons")), "invalid_time_zone");
    assert_eq!(code(&zone("+02:00")), "invalid_time_zone");
    assert_eq!(code(&zone("America/New_York")), "ok");
}

#[test]
fn participant_zones() {
    let ann = user("ann");
    let plain = parse(&base()).unwrap();
    assert_eq!(plain.participant_zone(&ann, None), Ok(None));
    assert_eq!(
        plain.participant_zone(&ann, Some("Asia/Kolkata")),
        Ok(Some(chrono_tz::Asia::Kolkata))
    );
    assert_eq!(plain.participant_zone(&ann, Some("nowhere")), Ok(None));
    let own = parse(&hours("09:00", "17:00", json!(["mon"]))).unwrap();
    assert_eq!(
        own.participant_zone(&ann, Some("Europe/Berlin")),
        Ok(Some(chrono_tz::Europe::Berlin))
    );
    assert_eq!(
        own.participant_zone(&ann, Some("nowhere"))
            .unwrap_err()
            .code(),
        "invalid_time_zone"
    );
    assert_eq!(
        own.participant_zone(&ann, None),
        Err(AvailabilityError::MissingTimeZone {
            user_id: "ann".into()
        })
    );
    let fixed = parse(&with(
        &["working_hours"],
        json!({"start": "09:00", "end": "17:00", "days": ["mon"], "time_zone": "UTC"}),
    ))
    .unwrap();
    assert_eq!(
        fixed.participant_zone(&ann, Some("Europe/Berlin")),
        Ok(Some(chrono_tz::UTC))
    );
    assert_eq!(fixed.participant_zone(&ann, None), Ok(Some(chrono_tz::UTC)));
}

#[test]
fn codes_are_distinct_snake_case_and_listed() {
    let codes = AvailabilityError::CODES;
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), codes.len());
    assert!(
        codes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    );
    let samples = [
        AvailabilityError::InvalidRequest(String::new()),
        AvailabilityError::NoParticipants,
        AvailabilityError::WindowTooLong,
        AvailabilityError::InvalidWorkingHours("x"),
        AvailabilityError::MissingTimeZone {
            user_id: "a".into(),
        },
    ];
    assert!(samples.iter().all(|e| codes.contains(&e.code())));
}
