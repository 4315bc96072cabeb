//! Faults under load (issue 8): a few thousand mixed requests from concurrent clients while
//! the fake Google and REST services answer about 10% of requests with transient errors
//! and add latency, Redis is killed (SIGKILL) and restarted once in the middle, and the
//! REST service refuses a burst of notifications. Afterwards:
//! - no 5xx (or 4xx) answer lacked an `application/problem+json` body with a `code`, and
//!   the host never had to answer for a component (no trap, no timeout);
//! - with the faults gone every route answers normally again;
//! - every event created (a create the client saw succeed, retrying with the same
//!   `Idempotency-Key` until it did) exists at Google once and got exactly one
//!   `calendar.event.created` notification delivered, after the dead letters were
//!   counted and replayed;
//! - the test process's memory (host, fakes and all) is back near where it was after a
//!   warm-up.
//!
//! Bounded: about 2,500 requests, seconds not minutes. The fakes' random choices are
//! seeded, so a failing run can be repeated. No timing is asserted (speed lives in
//! `bench/`).
//!
//! Redis runs with `appendonly yes` and `appendfsync always`, as production must (see the
//! README's operator notes): without persistence a restart forgets the stream, the claims
//! and the dead letters, and nothing can promise "nothing lost".

mod common;

use common::{App, Callback, GROUP, STREAM};
use gcal_tests::fakes::rest::Route as RestRoute;
use gcal_tests::fakes::{FakeRest, Fault, Faulty as _};
use rand::{Rng as _, SeedableRng as _};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SEED: u64 = 0x0008_fa17_5eed;
const USERS: usize = 6;
const CLIENTS: usize = 24;
const WARMUP_REQUESTS: usize = 300;
const LOAD_REQUESTS: usize = 2_400;
/// Share of the fakes' answers that are transient errors, and their added latency.
const ERROR_RATE: f64 = 0.10;
const MAX_LATENCY: Duration = Duration::from_millis(20);
/// Notifications the REST service refuses in a burst (3 tries each: ~10 dead letters).
const REFUSED_NOTIFICATIONS: usize = 30;
/// How far above the warm-up baseline the process's memory may end.
const MEMORY_SLACK: u64 = 64 << 20;
/// A create is retried (same key) this many times at most; covers a Redis restart and an
/// announcement claim left pending by it (5 s).
const CREATE_TRIES: usize = 200;
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The clients' users: `load0` .. `load{USERS-1}`.
fn user(i: usize) -> String {
    format!("load{i}")
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    codes: BTreeMap<String, usize>,
    /// Error answers without a problem body: what, and why.
    bare: Vec<String>,
    /// Requests that got no answer at all.
    transport: Vec<String>,
    /// Events whose create succeeded: event id -> user.
    created: BTreeMap<String, String>,
    /// Creates that never succeeded within their tries.
    abandoned: Vec<String>,
    /// Answers a request of that kind should never get.
    unexpected: Vec<String>,
    create_retries: usize,
}

/// The answer of one request, read whole.
struct Answer {
    status: u16,
    body: Value,
}

impl Tally {
    /// What went wrong for the clients, by kind: each list must stay empty.
    fn failures(&self) -> [(&'static str, &[String]); 4] {
        [
            ("answers without a problem body", &self.bare),
            ("requests without an answer", &self.transport),
            ("unexpected answers", &self.unexpected),
            ("creates that never succeeded", &self.abandoned),
        ]
    }
}

/// Sends, reads, checks the body of error answers, and counts.
async fn send(
    app: &App,
    tally: &Mutex<Tally>,
    what: &str,
    req: reqwest::RequestBuilder,
) -> Option<Answer> {
    // A client of its own per request: it keeps what it received only this long.
    let r = match app.api().try_fetch(req).await {
        Ok(r) => r,
        Err(e) => {
            tally.lock().unwrap().transport.push(format!("{what}: {e}"));
            return None;
        }
    };
    let (status, text) = (r.status, &r.text);
    let content_type = r.header("content-type").unwrap_or("");
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let mut t = tally.lock().unwrap();
    *t.statuses.entry(status).or_default() += 1;
    if status >= 400 {
        let code = body["code"].as_str().unwrap_or("");
        if content_type != "application/problem+json" || code.is_empty() || body["status"] != status
        {
            t.bare
                .push(format!("{what}: {status} {content_type:?} {text:.200}"));
        } else {
            *t.codes.entry(format!("{status} {code}")).or_default() += 1;
        }
    }
    Some(Answer { status, body })
}

/// Transient answers a client retries: Redis, Google or the REST service unavailable,
/// a rate limit.
fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

fn event_body(n: usize) -> Value {
    let start = chrono::DateTime::parse_from_rfc3339("2026-08-01T08:00:00+02:00").unwrap()
        + chrono::Duration::minutes(30 * n as i64);
    let end = start + chrono::Duration::minutes(25);
    json!({
        "summary": format!("Load {n}"),
        "start": {"dateTime": start.to_rfc3339(), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": end.to_rfc3339(), "timeZone": "Europe/Berlin"},
    })
}

/// `POST /events/{user}` with `Idempotency-Key`, retried with the same key until it
/// succeeds: what a careful client does.
async fn create(app: &App, tally: &Mutex<Tally>, user: &str, n: usize) {
    let key = format!("load-{n}");
    let expected_id = gcal_core::idempotent_event_id(user, &key);
    let body = event_body(n);
    for attempt in 0..CREATE_TRIES {
        if attempt > 0 {
            tally.lock().unwrap().create_retries += 1;
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        let req = app
            .api()
            .authed(Method::POST, &format!("/events/{user}"))
            .header("idempotency-key", &key)
            .json(&body);
        let Some(a) = send(app, tally, "POST /events", req).await else {
            continue;
        };
        match a.status {
            200 | 201 => {
                let mut t = tally.lock().unwrap();
                if a.body["id"] != expected_id.as_str() {
                    t.unexpected.push(format!(
                        "create {key}: id {} not {expected_id}",
                        a.body["id"]
                    ));
                }
                t.created.insert(expected_id, user.to_owned());
                return;
            }
            s if retryable(s) => {}
            s => {
                tally
                    .lock()
                    .unwrap()
                    .unexpected
                    .push(format!("create {key}: {s} {}", a.body));
                return;
            }
        }
    }
    tally.lock().unwrap().abandoned.push(key);
}

/// One request of the mix, chosen by `n` (reproducibly).
async fn one_request(app: &App, tally: &Mutex<Tally>, n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED ^ (n as u64).wrapping_mul(0x9e37_79b9));
    let user = user(rng.random_range(0..USERS));
    let known: Option<String> = {
        let t = tally.lock().unwrap();
        let mine: Vec<&String> = t
            .created
            .iter()
            .filter(|(_, u)| **u == user)
            .map(|(id, _)| id)
            .collect();
        (!mine.is_empty()).then(|| mine[rng.random_range(0..mine.len())].clone())
    };
    let roll = rng.random_range(0..100);
    let expect = |a: Option<Answer>, ok: &[u16], what: &str| {
        if let Some(a) = a
            && !ok.contains(&a.status)
            && !retryable(a.status)
        {
            tally
                .lock()
                .unwrap()
                .unexpected
                .push(format!("{what}: {} {}", a.status, a.body));
        }
    };
    match (roll, known) {
        (0..30, _) => create(app, tally, &user, n).await,
        (30..40, Some(id)) => {
            let req = app
                .api()
                .authed(Method::GET, &format!("/events/{user}/{id}"));
            expect(
                send(app, tally, "GET /events/{u}/{id}", req).await,
                &[200],
                "get",
            );
        }
        (40..45, Some(id)) => {
            let req = app
                .api()
                .authed(Method::PATCH, &format!("/events/{user}/{id}"))
                .json(&json!({"description": format!("patched by {n}")}));
            expect(
                send(app, tally, "PATCH /events/{u}/{id}", req).await,
                &[200],
                "patch",
            );
        }
        (45..55, _) => {
            let req = app
                .api()
                .authed(Method::GET, &format!("/auth/status/{user}"));
            expect(
                send(app, tally, "GET /auth/status", req).await,
                &[200],
                "status",
            );
        }
        (55..62, _) => {
            let req = app.http.get(app.url("/health"));
            expect(send(app, tally, "GET /health", req).await, &[200], "health");
        }
        _ => {
            let req = app
                .api()
                .authed(Method::GET, &format!("/events/{user}?max_results=5"));
            expect(
                send(app, tally, "GET /events/{u}", req).await,
                &[200],
                "list",
            );
        }
    }
}

/// Runs requests `from..to` with `CLIENTS` concurrent clients.
async fn run_load(app: &App, tally: &Mutex<Tally>, from: usize, to: usize) {
    let next = AtomicUsize::new(from);
    let clients = (0..CLIENTS).map(|_| async {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= to {
                break;
            }
            one_request(app, tally, n).await;
        }
    });
    futures::future::join_all(clients).await;
}

/// Resident memory of this process (host, fakes, clients), from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// The whole OAuth flow for `user`, as a browser and a backend would do it.
async fn connect(app: &App, user: &str) {
    app.rest
        .add_user(user, Some(&format!("{user}@example.com")), None);
    common::connect_by(&app.api(), user, Callback::Post).await;
}

/// Accepted `calendar.event.created` notifications per event id, duplicates included.
fn created_deliveries(rest: &FakeRest) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for n in rest.notifications() {
        if n["type"] == "calendar.event.created"
            && let Some(id) = n["data"]["event_id"].as_str()
        {
            *out.entry(id.to_owned()).or_default() += 1;
        }
    }
    out
}

/// Created events not notified exactly once: (id, deliveries).
fn not_once(created: &BTreeMap<String, String>, rest: &FakeRest) -> Vec<(String, usize)> {
    let deliveries = created_deliveries(rest);
    created
        .keys()
        .map(|id| (id.clone(), deliveries.get(id).copied().unwrap_or(0)))
        .filter(|(_, n)| *n != 1)
        .collect()
}

/// The first few of `items`, and how many more there are.
fn some<T: Debug>(items: &[T]) -> String {
    const SHOWN: usize = 20;
    let more = items.len().saturating_sub(SHOWN);
    let shown = &items[..items.len().min(SHOWN)];
    if more == 0 {
        format!("{shown:?}")
    } else {
        format!("{shown:?} and {more} more")
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The delivery claim of each id, with the milliseconds it has left (a diagnostic).
fn claims_of(app: &App, ids: &[String]) -> Vec<(String, Option<String>, i64)> {
    let mut c = app.redis();
    ids.iter()
        .map(|id| {
            let key = format!("gcal:delivered:{id}");
            let value: Option<String> = redis::cmd("GET").arg(&key).query(&mut c).unwrap_or(None);
            let left: i64 = redis::cmd("PTTL").arg(&key).query(&mut c).unwrap_or(-3);
            (id.clone(), value, left)
        })
        .collect()
}

/// Creates one more event (no faults now): its message wakes the updates component,
/// which then drains the stream, taking over what the faults left behind.
async fn sentinel(app: &App, tally: &Mutex<Tally>, n: usize) {
    let before = tally.lock().unwrap().created.len();
    create(app, tally, &user(0), n).await;
    assert_eq!(
        tally.lock().unwrap().created.len(),
        before + 1,
        "a create without faults failed: {}",
        app.host.logs().all()
    );
}

/// Step 1 of the run: requests without faults; every warm-up event notified. Returns
/// the memory baseline.
async fn warm_up(app: &App, tally: &Mutex<Tally>) -> u64 {
    // ---- warm-up without faults, then the memory baseline
    run_load(app, tally, 0, WARMUP_REQUESTS).await;
    {
        let t = tally.lock().unwrap();
        for (what, list) in t.failures() {
            assert!(
                list.is_empty(),
                "the warm-up already failed: {what}: {list:#?}"
            );
        }
        assert_eq!(t.statuses.keys().copied().collect::<Vec<_>>(), [200, 201]);
    }
    // Every warm-up event notified (how often is checked at the end, with the rest).
    let warm_created = tally.lock().unwrap().created.clone();
    let delivered = common::eventually(Duration::from_secs(20), || {
        not_once(&warm_created, &app.rest)
            .iter()
            .all(|(_, n)| *n > 0)
    })
    .await;
    if !delivered {
        let missing: Vec<String> = not_once(&warm_created, &app.rest)
            .into_iter()
            .filter(|(_, n)| *n == 0)
            .map(|(id, _)| id)
            .collect();
        panic!(
            "{} of {} warm-up events got no calendar.event.created notification within 20 s: \
             {}",
            missing.len(),
            warm_created.len(),
            some(&missing)
        );
    }
    rss_bytes()
}

/// Step 2: the load under faults (chaos at both fakes, a Redis restart, a burst of
/// refused notifications); the clients saw the faults, and every answer was right.
async fn faulty_run(app: &App, tally: &Mutex<Tally>) {
    // ---- the faulty run
    app.google.set_chaos(ERROR_RATE, MAX_LATENCY, SEED);
    app.rest.set_chaos(ERROR_RATE, MAX_LATENCY, SEED + 1);
    let third = LOAD_REQUESTS / 3;
    let from = WARMUP_REQUESTS;
    run_load(app, tally, from, from + third).await;
    // Redis dies a third into the run, while the clients are busy, and comes back a
    // second later (same port, same append-only file).
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.kill_redis();
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| app.restart_redis());
    };
    tokio::join!(run_load(app, tally, from + third, from + 2 * third), killer);
    // A burst of refused notifications: they end as dead letters.
    app.rest.fail_next(
        RestRoute::Notifications,
        Fault::Status(503),
        REFUSED_NOTIFICATIONS,
    );
    run_load(app, tally, from + 2 * third, from + LOAD_REQUESTS).await;
    let google_errors = app.google.chaos_injected();
    let rest_errors = app.rest.chaos_injected();
    app.google.clear_chaos();
    app.rest.clear_chaos();
    app.google.clear_faults();
    app.rest.clear_faults();

    {
        let t = tally.lock().unwrap();
        eprintln!(
            "faults: {} requests, statuses {:?}, problems {:?}, {} create retries, {} events \
             created; injected {google_errors} Google and {rest_errors} REST errors",
            WARMUP_REQUESTS + LOAD_REQUESTS,
            t.statuses,
            t.codes,
            t.create_retries,
            t.created.len()
        );
        // The faults really happened, and the clients saw them.
        assert!(google_errors > 0 && rest_errors > 0, "no faults injected");
        assert!(
            t.codes.keys().any(|c| c.ends_with("redis_unavailable")),
            "no request saw Redis down: {:?}",
            t.codes
        );
        assert!(t.create_retries > 0);
        // No error answer without a problem body, no request without an answer, no
        // answer of the wrong kind, no create given up.
        for (what, list) in t.failures() {
            assert!(list.is_empty(), "{what}: {list:#?}");
        }
    }
    // The host never answered for a component: no trap, no timeout, no error result.
    let host_notes = app.host.logs().of("host");
    let bad: Vec<&str> = host_notes
        .lines()
        .filter(|l| l.contains("failed") || l.contains("timed out") || l.contains("error"))
        .collect();
    assert!(bad.is_empty(), "the host had to step in: {bad:#?}");
    assert!(
        host_notes.contains("subscribed to") && host_notes.contains("again"),
        "the Redis trigger did not resubscribe after the restart: {host_notes}"
    );
}

/// Step 3: no trapped component: with the faults gone, every route answers normally.
/// Returns the next request number.
async fn routes_answer_normally(app: &App, tally: &Mutex<Tally>) -> usize {
    // ---- no trapped component: with the faults gone, every route answers normally
    let mut n = WARMUP_REQUESTS + LOAD_REQUESTS;
    sentinel(app, tally, n).await;
    n += 1;
    let some_id = tally
        .lock()
        .unwrap()
        .created
        .keys()
        .next()
        .cloned()
        .unwrap();
    let some_user = tally.lock().unwrap().created[&some_id].clone();
    for (method, path, status) in [
        (Method::GET, "/health".to_owned(), 200),
        (Method::GET, "/openapi.json".to_owned(), 200),
        (Method::GET, format!("/auth/status/{some_user}"), 200),
        (Method::GET, format!("/auth/url/{some_user}"), 200),
        (
            Method::GET,
            format!("/events/{some_user}?max_results=3"),
            200,
        ),
        (Method::GET, format!("/events/{some_user}/{some_id}"), 200),
        (Method::GET, "/admin/dlq".to_owned(), 200),
    ] {
        let r = app
            .api()
            .authed(method.clone(), &path)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            status,
            "{method} {path}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    n
}

/// Step 4: every created event exists at Google once and, after the dead letters were
/// counted and replayed, was notified once. Returns how many letters were replayed.
async fn each_created_event_once(app: &App, tally: &Mutex<Tally>, mut n: usize) -> usize {
    // ---- every created event: at Google once, and (after the dead letters) notified once
    let created: BTreeMap<String, String> = tally.lock().unwrap().created.clone();
    let mut at_google: BTreeMap<String, usize> = BTreeMap::new();
    for e in app.google.all_events() {
        let id = e.event["id"].as_str().unwrap_or("").to_owned();
        if e.event["status"] != "cancelled" {
            *at_google.entry(id).or_default() += 1;
        }
    }
    let known: BTreeSet<&String> = created.keys().collect();
    let google_ids: BTreeSet<&String> = at_google.keys().collect();
    assert_eq!(
        google_ids, known,
        "events at Google and the creates the clients saw succeed differ"
    );

    // Wait for the stream to be drained: each sentinel's message makes the updates
    // component take over entries the faults left pending. The bound is the design's: a
    // delivery claim whose holder lost Redis mid-delivery (neither done nor given back)
    // holds its entry until the claim expires (60 s, `CLAIM_PENDING_MS`), and the entry
    // is then taken over once it has been idle 10 s (`STALE_ENTRY_MS`); it usually
    // settles within a second.
    const SETTLE_BOUND: Duration = Duration::from_secs(60 + 10 + 10);
    let dead_letters = |app: &App| -> usize {
        let mut c = app.redis();
        redis::cmd("LLEN")
            .arg("gcal:dlq")
            .query::<usize>(&mut c)
            .unwrap()
    };
    let deadline = std::time::Instant::now() + SETTLE_BOUND;
    let stranded = loop {
        let created = tally.lock().unwrap().created.clone();
        let deliveries = created_deliveries(&app.rest);
        let mut c = app.redis();
        let lettered: Vec<String> = redis::cmd("LRANGE")
            .arg("gcal:dlq")
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        let lettered: BTreeSet<String> = lettered
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"]["type"] == "calendar.event.created")
            .filter_map(|l| l["event"]["data"]["event_id"].as_str().map(str::to_owned))
            .collect();
        // Settled when each created event was delivered or is a dead letter.
        let stranded: Vec<String> = created
            .keys()
            .filter(|id| !deliveries.contains_key(*id) && !lettered.contains(*id))
            .cloned()
            .collect();
        if stranded.is_empty() || std::time::Instant::now() >= deadline {
            break stranded;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        sentinel(app, tally, n).await;
        n += 1;
    };
    assert!(
        stranded.is_empty(),
        "the stream was not drained: {} created events neither notified nor dead-lettered: \
         {}\ntheir delivery claims (value, ms left): {}\nthe stream's pending entries: \
         {:?}\nthe updates component's last lines:\n{}",
        stranded.len(),
        some(&stranded),
        some(&claims_of(app, &stranded)),
        redis::cmd("XPENDING")
            .arg(STREAM)
            .arg(GROUP)
            .query::<redis::Value>(&mut app.redis()),
        tail(&app.host.logs().of("updates"), 40)
    );

    // Dead letters: counted, then replayed until none is left.
    let letters = dead_letters(app);
    let listed = common::dead_letters(app).await;
    assert_eq!(listed["length"], letters, "{listed}");
    assert!(
        letters > 0,
        "the refused burst left no dead letters; the replay would go untested"
    );
    let mut replayed = 0;
    for _ in 0..10 {
        let r = common::replay_dead_letters(app).await;
        replayed += r["replayed"].as_u64().unwrap_or(0);
        if r["remaining"] == 0 {
            break;
        }
    }
    assert_eq!(dead_letters(app), 0, "dead letters left after replay");
    assert_eq!(replayed as usize, letters);

    let created: BTreeMap<String, String> = tally.lock().unwrap().created.clone();
    let deliveries = created_deliveries(&app.rest);
    let wrong = not_once(&created, &app.rest);
    assert!(
        wrong.is_empty(),
        "{} of {} created events were not notified exactly once (id, deliveries): {}",
        wrong.len(),
        created.len(),
        some(&wrong)
    );
    let strangers: Vec<&String> = deliveries
        .keys()
        .filter(|id| !created.contains_key(*id))
        .collect();
    assert!(
        strangers.is_empty(),
        "notified events nobody created: {}",
        some(&strangers)
    );
    // Nothing else was delivered twice either (updates carry their own ids).
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for n in app.rest.notifications() {
        *ids.entry(n["id"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "notifications delivered twice: {}",
        some(&twice)
    );
    letters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_faulty_loaded_run_loses_nothing_duplicates_nothing_and_recovers() {
    let app = App::start_persistent_with(|c| {
        // The load is the point: the per-user budget must not turn it into 429s.
        c.variable("rate_limit_per_minute", "1000000")
    })
    .await;
    for i in 0..USERS {
        connect(&app, &user(i)).await;
    }
    let tally = Arc::new(Mutex::new(Tally::default()));

    let baseline = warm_up(&app, &tally).await;
    faulty_run(&app, &tally).await;
    let n = routes_answer_normally(&app, &tally).await;
    let letters = each_created_event_once(&app, &tally, n).await;

    // ---- memory: back near the warm-up baseline
    let settled_rss = {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_bytes()
    };
    eprintln!(
        "faults: memory {} MiB after warm-up, {} MiB at the end; {letters} dead letters replayed",
        baseline >> 20,
        settled_rss >> 20
    );
    assert!(
        settled_rss <= baseline + MEMORY_SLACK,
        "memory grew from {} MiB to {} MiB (allowed: {} MiB more)",
        baseline >> 20,
        settled_rss >> 20,
        MEMORY_SLACK >> 20
    );
}
