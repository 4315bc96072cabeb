//! Property tests for every parser and validator that sees outside input: never a panic,
//! always a problem code for bad input, round trips where they exist. (A unit-test
//! module: what it checks is private to the crate.)

use crate::credentials::cipher::TokenCipher;
use crate::http::problem::Code;
use crate::http::request_id::RequestId;
use crate::model::event::{self as events, EventInput, ListQuery, When};
use crate::model::user_id::{UserId, encode_segment};
use crate::secret::RefreshToken;
use proptest::prelude::*;

fn cipher() -> TokenCipher {
    crate::testing::cipher(1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn user_ids_are_accepted_exactly_by_the_rule(s in "\\PC{0,140}") {
        let valid = !s.is_empty() && s.len() <= 128 && s != "." && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_@".contains(&b));
        match UserId::parse(&s) {
            Ok(u) => { prop_assert!(valid); prop_assert_eq!(u.as_str(), s.as_str()); }
            Err(p) => { prop_assert!(!valid); prop_assert_eq!(p.code, Code::InvalidUserId); }
        }
    }

    #[test]
    fn user_ids_round_trip_through_path_segments(s in "[A-Za-z0-9._@-]{1,128}") {
        prop_assume!(s != "." && s != "..");
        let u = UserId::parse(&s).unwrap();
        let back = UserId::from_path_segment(&u.to_path_segment()).unwrap();
        prop_assert_eq!(back, u);
    }

    #[test]
    fn encoded_segments_never_carry_path_or_query_syntax(s in "\\PC{0,64}") {
        let e = encode_segment(&s);
        prop_assert!(!e.contains('/') && !e.contains('?') && !e.contains('#') && !e.contains(' '));
        let decoded = percent_encoding::percent_decode_str(&e).decode_utf8().unwrap();
        prop_assert_eq!(decoded.as_ref(), s.as_str());
    }

    #[test]
    fn path_segments_never_panic(s in "(%[0-9A-Fa-f]{2}|[^/]){0,64}") {
        if let Err(p) = UserId::from_path_segment(&s) {
            prop_assert_eq!(p.code, Code::InvalidUserId);
        }
    }

    #[test]
    fn request_ids_are_always_header_safe(s in "\\PC{0,200}") {
        let rid = RequestId::from_header(Some(&s));
        prop_assert!(rid.as_str().len() <= 128);
        prop_assert!(http::HeaderValue::from_str(rid.as_str()).is_ok());
    }

    #[test]
    fn list_queries_never_panic_and_fail_with_a_query_code(q in "[a-z_=&%0-9A-Z:+.-]{0,120}") {
        if let Err(p) = ListQuery::parse(&q) {
            prop_assert!(matches!(p.code, Code::InvalidQuery | Code::InvalidTimeRange | Code::InvalidTimeZone), "{:?}", p.code);
        }
    }

    #[test]
    fn event_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(input) = EventInput::parse(&body) {
            let _ = input.for_create(Some("Europe/Berlin"));
        }
    }

    #[test]
    fn event_json_never_panics_and_fails_with_an_event_code(
        summary in proptest::option::of("\\PC{0,40}"),
        start in "[0-9T:Z+-]{0,25}",
        end in "[0-9T:Z+-]{0,25}",
        zone in proptest::option::of("[A-Za-z/_]{0,20}"),
        all_day in any::<bool>(),
    ) {
        let key = if all_day { "date" } else { "dateTime" };
        let mut s = serde_json::json!({key: start});
        let mut e = serde_json::json!({key: end});
        if let Some(z) = &zone { s["timeZone"] = z.clone().into(); e["timeZone"] = z.clone().into(); }
        let body = serde_json::json!({"summary": summary, "start": s, "end": e});
        if let Err(p) = EventInput::parse(body.to_string().as_bytes()).and_then(|i| i.for_create(None)) {
            prop_assert!(matches!(p.code, Code::InvalidEvent | Code::InvalidTimeRange | Code::InvalidTimeZone | Code::NonexistentLocalTime | Code::MissingTimeZone), "{:?}", p.code);
        }
    }

    #[test]
    fn local_times_resolve_to_the_same_wall_clock(h in 0u32..24, m in 0u32..60, d in 1u32..28, mo in 1u32..13) {
        let local = format!("2026-{mo:02}-{d:02}T{h:02}:{m:02}:00");
        let zone = Some("America/New_York".parse().unwrap());
        match events::resolve_date_time(&local, zone) {
            Ok(t) => {
                let wall = t.with_timezone(&chrono_tz::America::New_York).format("%Y-%m-%dT%H:%M:%S").to_string();
                prop_assert_eq!(wall, local);
            }
            Err(p) => prop_assert_eq!(p.code, Code::NonexistentLocalTime),
        }
    }

    #[test]
    fn google_times_never_panic(v in "\\PC{0,40}") {
        let _ = When::from_google(&serde_json::json!({"dateTime": v}));
        let _ = When::from_google(&serde_json::json!({"date": v}));
    }

    #[test]
    fn encryption_round_trips_and_garbage_never_decrypts(plain in "\\PC{0,200}", user in "[a-z0-9]{1,16}", garbage in "\\PC{0,120}") {
        let c = cipher();
        let enc = c.encrypt(&RefreshToken::new(plain.clone()), &user).unwrap();
        let back: RefreshToken = c.decrypt(&enc, &user).unwrap();
        prop_assert_eq!(back.secret(), &plain);
        prop_assert!(c.decrypt::<RefreshToken>(&garbage, &user).is_err());
    }

    #[test]
    fn cloud_events_from_anywhere_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = serde_json::from_slice::<crate::delivery::CloudEvent>(&payload);
    }

    #[test]
    fn google_events_map_without_panicking(id in "\\PC{0,20}", status in "\\PC{0,12}", n in any::<i64>()) {
        let g = serde_json::json!({"id": id, "status": status, "start": {"dateTime": n}, "attendees": [n, {"email": n}], "recurrence": n});
        let e = events::from_google(&g, "primary");
        prop_assert_eq!(&e["calendar_id"], "primary");
    }
}
