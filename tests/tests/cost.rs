//! What a request costs under Spin's rules (issue 13), counted by the test host as Spin
//! incurs it: outbound Redis connects anew for every `open`, the key-value store keeps one
//! connection for the app. The hot path (a user-scoped read with a cached token) reads and
//! counts through the key-value store and opens no Redis connection; every key it makes
//! still gets a TTL. The figures per route are in the benchmark (`bench/`, cost model).

mod common;

use common::{App, connect};
use gcal_tests::fakes::Faulty as _;
use gcal_tests::host::{ComponentStats, HostConfig};
use redis::Commands as _;

fn stats(app: &App, component: &str) -> ComponentStats {
    app.host.stats(component).expect("a component of the app")
}

#[tokio::test]
async fn a_list_with_a_cached_token_opens_no_redis_connection() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", Some("u1@example.com"), None);
    connect(&api, "u1").await;
    let first = api.get("/events/u1").await;
    assert_eq!(first.status, 200, "{}", first.text);

    let before = stats(&app, "events");
    for _ in 0..5 {
        let r = api.get("/events/u1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.header("ratelimit-remaining").is_some(),
            "the rate limit counted"
        );
    }
    let after = stats(&app, "events");
    assert_eq!(after.redis_connections - before.redis_connections, 0);
    // Per request: the store's open (PING), the rate limit (INCRBY), the cached token
    // (GET); a new minute's first request also retires the user's older counters.
    let kv = after.kv_commands - before.kv_commands;
    assert!(
        (15..=18).contains(&kv),
        "{kv} key-value commands for 5 cached lists"
    );
    assert_eq!(
        after.outbound_http - before.outbound_http,
        5,
        "one Google call each"
    );
    // Each `variables::get` is a host call (with Spin's environment provider, a blocking
    // hand-off): log_level, api_tokens, rate_limit_per_minute, google_api_origin,
    // token_encryption_key. Without an `Origin`, CORS reads nothing; without an outbound
    // Redis command, neither does Redis (`redis_address`).
    assert_eq!(
        after.variable_reads - before.variable_reads,
        5 * 5,
        "variables read by 5 cached lists"
    );
    let before = stats(&app, "events");
    let r = api
        .send(
            api.authed(reqwest::Method::GET, "/events/u1")
                .header("origin", "https://app.example.com"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = stats(&app, "events");
    assert_eq!(
        after.variable_reads - before.variable_reads,
        6,
        "with an Origin, cors_allowed_origins too"
    );
}

#[tokio::test]
async fn the_keys_in_the_store_stay_bounded_and_a_disconnect_removes_them() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", Some("u1@example.com"), None);
    connect(&api, "u1").await;
    for _ in 0..3 {
        assert_eq!(api.get("/events/u1").await.status, 200);
    }
    let mut redis = redis::Client::open(app.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    // The store is this Redis (as the runtime config makes it in production).
    let counters: Vec<String> = redis.keys("gcal:rl:u1:*").unwrap();
    assert!(
        (2..=3).contains(&counters.len()),
        "a counter or two and the pointer: {counters:?}"
    );
    assert!(
        counters.iter().any(|k| k == "gcal:rl:u1:last"),
        "{counters:?}"
    );
    let cached: Option<Vec<u8>> = redis.get("gcal:token:u1").unwrap();
    assert!(cached.is_some(), "the token is cached in the store");

    let r = api.delete("/auth/u1").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let left: Vec<String> = redis.keys("gcal:*u1*").unwrap();
    let ours: Vec<&String> = left
        .iter()
        .filter(|k| k.starts_with("gcal:rl:") || k.starts_with("gcal:token:"))
        .collect();
    assert!(ours.is_empty(), "left after the disconnect: {ours:?}");
}

#[tokio::test]
async fn outbound_redis_connects_per_instance_as_spin_does() {
    let app = App::start().await;
    let before = stats(&app, "health");
    for _ in 0..3 {
        let r = app.http.get(app.url("/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let after = stats(&app, "health");
    // /health writes and reads back over outbound Redis: one connection per request,
    // none kept between instances.
    assert_eq!(after.redis_connections - before.redis_connections, 3);
    assert_eq!(after.instances - before.instances, 3);
}

#[tokio::test]
async fn without_a_runtime_config_the_default_store_is_the_hosts_own() {
    // As under `spin up` without a runtime config (Spin's is then a local SQLite file):
    // the service works, the cache and the counters just stay on this host.
    let app = App::start_with(|mut c: HostConfig| {
        c.key_value_stores.clear();
        c
    })
    .await;
    let api = app.api();
    app.rest.add_user("u1", Some("u1@example.com"), None);
    connect(&api, "u1").await;
    for _ in 0..2 {
        let r = api.get("/events/u1").await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let second = api.get("/events/u1").await;
    let remaining: u64 = second
        .header("ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining < 120, "counted: {remaining} left");
    let mut redis = redis::Client::open(app.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let in_redis: Vec<String> = redis.keys("gcal:token:*").unwrap();
    assert!(in_redis.is_empty(), "{in_redis:?}");
    // The token was cached: the list calls after the first read no credentials from the
    // REST service (its notifications, e.g. of the connect, may arrive at any time).
    let credential_reads = || {
        app.rest
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/credentials/google"))
            .count()
    };
    let rest_before = credential_reads();
    assert_eq!(api.get("/events/u1").await.status, 200);
    assert_eq!(credential_reads(), rest_before, "served from the cache");
}
