//! Syncs longer than the page bound: where they stop, how they continue, and the full
//! sync a 410 on the stored page token falls back to.

use super::listing::{Kind, MAX_SYNC_PAGES, Resume, SyncState};
use super::*;
use crate::credentials::cipher::CacheCipher;
use crate::credentials::provider as tokens;
use crate::delivery::{Outcome, handle};
use crate::secret::AccessToken;
use crate::store::Store;
use crate::testing::{MemoryStore, Scripted, block, key_vars};

const KEY: &str = "gcal:sync:u1:primary";

fn user() -> UserId {
    UserId::parse("u1").unwrap()
}

/// A store with a cached access token for `u1` and, if given, its sync state.
fn store(state: Option<&SyncState>) -> MemoryStore {
    let s = MemoryStore::default();
    let cipher = CacheCipher::new(
        crate::config::Config::new(&key_vars())
            .encryption_key()
            .unwrap(),
    );
    let expires = chrono::Utc::now() + chrono::Duration::seconds(3600);
    tokens::cache(
        &s,
        &cipher,
        &user(),
        &AccessToken::new("ya29.t".into()),
        expires,
    )
    .unwrap();
    if let Some(state) = state {
        s.set_ex(KEY, &serde_json::to_vec(state).unwrap(), 60)
            .unwrap();
    }
    s
}

fn state(s: &MemoryStore) -> SyncState {
    serde_json::from_slice(&s.get(KEY).unwrap().unwrap()).unwrap()
}

/// A page of events `ids`, ending with a next page token or a sync token.
fn page(ids: &[String], next_page: Option<&str>, sync_token: Option<&str>) -> String {
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "status": "confirmed", "summary": id, "updated": "2026-07-01T10:00:00.000Z", "start": {"dateTime": "2026-07-02T09:00:00Z"}, "end": {"dateTime": "2026-07-02T10:00:00Z"}}))
        .collect();
    let mut body = json!({"items": items});
    if let Some(p) = next_page {
        body["nextPageToken"] = json!(p);
    }
    if let Some(t) = sync_token {
        body["nextSyncToken"] = json!(t);
    }
    body.to_string()
}

/// `calendar.changed` of `u1`'s primary calendar.
fn changed() -> CloudEvent {
    CloudEvent::new(
        EventType::CalendarChanged,
        &user(),
        json!({"calendar_id": "primary"}),
    )
}

fn handled(s: &MemoryStore, http: &Scripted, e: &CloudEvent) -> Outcome {
    let vars = key_vars();
    let svc = Services {
        cfg: &crate::config::Config::new(&vars),
        http,
        store: s,
    };
    block(handle(&svc, e))
}

/// What was published since `from`, as CloudEvents.
fn published(s: &MemoryStore, from: usize) -> Vec<CloudEvent> {
    s.published.borrow()[from..]
        .iter()
        .map(|(_, p)| serde_json::from_slice(p).unwrap())
        .collect()
}

/// The query parameters of each listing request.
fn queries(http: &Scripted) -> Vec<Vec<(String, String)>> {
    http.seen
        .borrow()
        .iter()
        .map(|r| {
            url::form_urlencoded::parse(r.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect()
        })
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn ids(events: &[CloudEvent], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.type_ == kind)
        .map(|e| e.data["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_sync_longer_than_the_page_bound_continues_where_it_stopped() {
    let pages = MAX_SYNC_PAGES as usize + 5;
    let event_ids: Vec<String> = (0..pages).map(|i| format!("ev{i}")).collect();
    // A state as stored before syncs could resume: a token and when it was synced.
    let s = store(None);
    let before =
        json!({"token": "t0", "synced_at": chrono::Utc::now() - chrono::Duration::hours(1)});
    s.set_ex(KEY, before.to_string().as_bytes(), 60).unwrap();
    let answers = |range: std::ops::Range<usize>| {
        let mut http = Scripted::default();
        for i in range {
            let last = i + 1 == pages;
            let next = format!("p{}", i + 1);
            http = http.answer(
                200,
                &page(
                    &event_ids[i..=i],
                    (!last).then_some(next.as_str()),
                    last.then_some("t1"),
                ),
            );
        }
        http
    };

    // The first sync reads the bound, announces what it read, stores where it stopped
    // and publishes the `calendar.changed` that continues it.
    let first = answers(0..MAX_SYNC_PAGES as usize);
    assert_eq!(handled(&s, &first, &changed()), Outcome::Synced);
    let q = queries(&first);
    assert_eq!(q.len(), MAX_SYNC_PAGES as usize);
    assert_eq!(param(&q[0], "syncToken"), Some("t0"));
    assert_eq!(param(&q[0], "pageToken"), None);
    let out = published(&s, 0);
    assert_eq!(
        ids(&out, "calendar.event.updated"),
        event_ids[..20].to_vec()
    );
    let continued: Vec<&CloudEvent> = out
        .iter()
        .filter(|e| e.type_ == "calendar.changed")
        .collect();
    assert_eq!(continued.len(), 1, "one continuation");
    assert_eq!(continued[0].data["calendar_id"], "primary");
    let stopped = state(&s);
    assert_eq!(stopped.token.as_deref(), Some("t0"), "the old token stays");
    let resume = stopped.resume.expect("where it stopped");
    assert_eq!(
        (resume.page_token.as_str(), resume.kind),
        ("p20", Kind::Incremental)
    );

    // The continuation reads on from the stored page token, not from the start, and
    // ends with the new sync token.
    let second = answers(MAX_SYNC_PAGES as usize..pages);
    let from = s.published.borrow().len();
    assert_eq!(handled(&s, &second, continued[0]), Outcome::Synced);
    let q = queries(&second);
    assert_eq!(q.len(), 5);
    assert_eq!(param(&q[0], "pageToken"), Some("p20"));
    assert_eq!(param(&q[0], "syncToken"), Some("t0"));
    let out = published(&s, from);
    assert_eq!(
        ids(&out, "calendar.event.updated"),
        event_ids[20..].to_vec()
    );
    assert!(out.iter().all(|e| e.type_ != "calendar.changed"), "done");
    let done = state(&s);
    assert_eq!(done.token.as_deref(), Some("t1"));
    assert!(done.resume.is_none());
    assert_eq!(done.synced_at, resume.started, "when the listing began");
}

#[test]
fn a_410_on_the_stored_page_token_falls_back_to_the_full_sync() {
    let synced_at = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let before = SyncState {
        token: Some("t0".into()),
        synced_at,
        resume: Some(Resume {
            page_token: "p20".into(),
            kind: Kind::Incremental,
            started: chrono::Utc::now(),
        }),
    };
    let s = store(Some(&before));
    let mut full: Value =
        serde_json::from_str(&page(&["new".to_owned()], None, Some("t2"))).unwrap();
    full["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "old", "status": "confirmed", "updated": "2026-05-01T00:00:00.000Z"}));
    let http = Scripted::default()
        .answer(
            410,
            r#"{"error":{"code":410,"message":"Sync token is no longer valid, a full sync is required.","errors":[{"reason":"fullSyncRequired"}]}}"#,
        )
        .answer(200, &full.to_string());
    assert_eq!(handled(&s, &http, &changed()), Outcome::Synced);
    let q = queries(&http);
    assert_eq!(q.len(), 2);
    assert_eq!(param(&q[0], "pageToken"), Some("p20"));
    // From the start, without a token.
    assert_eq!(param(&q[1], "pageToken"), None);
    assert_eq!(param(&q[1], "syncToken"), None);
    let out = published(&s, 0);
    assert_eq!(
        ids(&out, "calendar.event.updated"),
        ["new"],
        "only what changed since the last sync"
    );
    let done = state(&s);
    assert_eq!(done.token.as_deref(), Some("t2"));
    assert!(done.resume.is_none());
}

#[test]
fn a_baseline_longer_than_the_bound_announces_nothing_and_continues() {
    let s = store(None);
    let mut http = Scripted::default();
    for i in 0..MAX_SYNC_PAGES {
        http = http.answer(
            200,
            &page(&[format!("ev{i}")], Some(&format!("p{}", i + 1)), None),
        );
    }
    let vars = key_vars();
    let svc = Services {
        cfg: &crate::config::Config::new(&vars),
        http: &http,
        store: &s,
    };
    block(baseline(&svc, &user(), "primary")).unwrap();
    let out = published(&s, 0);
    assert_eq!(out.len(), 1, "only the continuation");
    assert_eq!(out[0].type_, "calendar.changed");
    let resume = state(&s).resume.expect("where it stopped");
    assert_eq!(
        (resume.page_token.as_str(), resume.kind),
        ("p20", Kind::Baseline)
    );

    // Its continuation ends the baseline: still nothing announced, the token stored.
    let http = Scripted::default().answer(200, &page(&["last".to_owned()], None, Some("t1")));
    assert_eq!(handled(&s, &http, &out[0]), Outcome::Synced);
    assert_eq!(param(&queries(&http)[0], "pageToken"), Some("p20"));
    assert_eq!(published(&s, 1).len(), 0);
    assert_eq!(state(&s).token.as_deref(), Some("t1"));
}
