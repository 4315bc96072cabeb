//! Unit tests of push channels: tokens, records, the webhook's checks, renewal.

use super::*;
use crate::testing::MemoryStore;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

fn vars() -> HashMap<String, String> {
    [(
        "token_encryption_key".to_string(),
        STANDARD.encode([9u8; 32]),
    )]
    .into()
}

/// The token of channel `c1` on `user`'s primary calendar.
fn token_for(user: &str) -> ChannelToken {
    let key = mac_key(&crate::config::Config::new(&vars())).unwrap();
    channel_token(&key, "c1", user, "primary").unwrap()
}

fn record(store: &MemoryStore) -> (ChannelRecord, ChannelToken) {
    let r = ChannelRecord {
        channel_id: "c1".into(),
        user_id: "u1".into(),
        calendar_id: "primary".into(),
        resource_id: "r1".into(),
        expiration_ms: (chrono::Utc::now().timestamp() + 3 * 24 * 3600) * 1000,
    };
    save(store, &UserId::parse("u1").unwrap(), &r).unwrap();
    (r, token_for("u1"))
}

#[test]
fn a_valid_push_publishes_calendar_changed_and_sync_does_not() {
    let s = MemoryStore::default();
    let (_, token) = record(&s);
    fn push_with<'a>(token: &'a ChannelToken, state: &'a str) -> Push<'a> {
        Push {
            channel_id: Some("c1"),
            token: Some(token.secret()),
            resource_id: Some("r1"),
            resource_state: Some(state),
        }
    }
    push(
        &crate::config::Config::new(&vars()),
        &s,
        &push_with(&token, "sync"),
    )
    .unwrap();
    assert!(s.published.borrow().is_empty());
    push(
        &crate::config::Config::new(&vars()),
        &s,
        &push_with(&token, "exists"),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&s.published.borrow()[0].1).unwrap();
    assert_eq!(v["type"], "calendar.changed");
    assert_eq!(v["data"]["calendar_id"], "primary");
    assert!(!String::from_utf8_lossy(&s.published.borrow()[0].1).contains(token.secret()));
}

#[test]
fn wrong_tokens_unknown_channels_and_other_resources_are_404() {
    let s = MemoryStore::default();
    let (_, token) = record(&s);
    let other = token_for("u2");
    let cases = [
        Push {
            channel_id: Some("c1"),
            token: Some("nope"),
            resource_id: None,
            resource_state: Some("exists"),
        },
        Push {
            channel_id: Some("c1"),
            token: Some(other.secret()),
            resource_id: None,
            resource_state: Some("exists"),
        },
        Push {
            channel_id: Some("c2"),
            token: Some(token.secret()),
            resource_id: None,
            resource_state: Some("exists"),
        },
        Push {
            channel_id: Some("c1"),
            token: Some(token.secret()),
            resource_id: Some("r2"),
            resource_state: Some("exists"),
        },
    ];
    for p in cases {
        assert_eq!(
            push(&crate::config::Config::new(&vars()), &s, &p).unwrap_err(),
            ChannelError::Unknown
        );
    }
    assert!(s.published.borrow().is_empty());
}

#[test]
fn a_push_without_a_channel_token_is_refused_as_such() {
    let s = MemoryStore::default();
    record(&s);
    for token in [None, Some("")] {
        let p = Push {
            channel_id: Some("c1"),
            token,
            resource_id: Some("r1"),
            resource_state: Some("exists"),
        };
        assert_eq!(
            push(&crate::config::Config::new(&vars()), &s, &p).unwrap_err(),
            ChannelError::MissingToken
        );
    }
    assert!(s.published.borrow().is_empty());
}

#[test]
fn a_push_without_a_usable_channel_id_is_refused_as_such() {
    let s = MemoryStore::default();
    record(&s);
    let long = "c".repeat(65);
    for channel_id in [None, Some(""), Some(long.as_str())] {
        let p = Push {
            channel_id,
            token: Some("t"),
            resource_id: Some("r1"),
            resource_state: Some("exists"),
        };
        assert_eq!(
            push(&crate::config::Config::new(&vars()), &s, &p).unwrap_err(),
            ChannelError::MissingChannelId
        );
    }
    assert!(s.published.borrow().is_empty());
}

#[test]
fn a_due_channel_is_renewed_by_one_reader_only() {
    use crate::testing::{Scripted, block};
    let s = MemoryStore::default();
    let (mut r, _) = record(&s);
    r.expiration_ms = (chrono::Utc::now().timestamp() + 3600) * 1000;
    save(&s, &UserId::parse("u1").unwrap(), &r).unwrap();
    let vars = vars();
    let http = Scripted::default();
    let svc = Services {
        cfg: &crate::config::Config::new(&vars),
        http: &http,
        store: &s,
    };
    // Another reader is renewing it: nothing to do here.
    s.set_ex(&renew_key("c1"), b"1", 60).unwrap();
    block(renew_if_due(&svc, "c1")).unwrap();
    assert!(http.seen.borrow().is_empty());
    assert!(load(&s, "c1").unwrap().is_some());
    // A renewal that fails (here: no public_base_url) lets a later push try again.
    s.del(&renew_key("c1")).unwrap();
    let err = block(renew_if_due(&svc, "c1")).unwrap_err();
    assert_eq!(
        err,
        ChannelError::Config(crate::config::ConfigError::Missing("public_base_url"))
    );
    assert_eq!(s.get(&renew_key("c1")).unwrap(), None);
    assert!(load(&s, "c1").unwrap().is_some());
}
