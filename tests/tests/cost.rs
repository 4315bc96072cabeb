//! What a request costs under Spin's rules (issue 13), counted by the test host as Spin
//! incurs it: outbound Redis connects anew for every `open`, the key-value store keeps one
//! connection for the app. The hot path (a user-scoped read with a cached token) reads and
//! counts through the key-value store and opens no Redis connection; every key it makes
//! still gets a TTL. The figures per route are in the benchmark (`bench/`, cost model).

mod common;

use common::{App, connect};
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
    // A new minute's counter gets its TTL over one outbound connection: at most once here.
    let connections = after.redis_connections - before.redis_connections;
    assert!(
        connections <= 1,
        "{connections} Redis connections for 5 cached lists"
    );
    // Per request: the store's open (PING), the rate limit (INCRBY), the cached token (GET).
    assert_eq!(after.kv_commands - before.kv_commands, 15);
    assert_eq!(
        after.outbound_http - before.outbound_http,
        5,
        "one Google call each"
    );
}

#[tokio::test]
async fn the_rate_limit_counter_made_through_the_store_expires() {
    let app = App::start().await;
    let api = app.api();
    app.rest.add_user("u1", Some("u1@example.com"), None);
    connect(&api, "u1").await;
    assert_eq!(api.get("/events/u1").await.status, 200);
    let mut redis = redis::Client::open(app.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis.keys("gcal:rl:u1:*").unwrap();
    assert!(!keys.is_empty(), "no counter");
    for k in keys {
        let ttl: i64 = redis.ttl(&k).unwrap();
        assert!((1..=120).contains(&ttl), "{k}: TTL {ttl}");
    }
    // Every key the requests made can end: a TTL or a bound (the token cache has one).
    let all: Vec<String> = redis.keys("gcal:*").unwrap();
    for k in all.iter().filter(|k| k.starts_with("gcal:token:")) {
        let ttl: i64 = redis.ttl(k).unwrap();
        assert!(ttl > 0, "{k}: TTL {ttl}");
    }
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
    // /health writes over outbound Redis and reads back through the store: one connection
    // per request, none kept between instances.
    assert_eq!(after.redis_connections - before.redis_connections, 3);
    assert_eq!(after.instances - before.instances, 3);
}

#[tokio::test]
async fn health_reports_a_key_value_store_that_is_not_the_redis_of_redis_address() {
    let other = gcal_tests::redis_server::RedisServer::start().unwrap();
    let url = other.url();
    let app = App::start_with(move |c| c.key_value_store("gcal", url)).await;
    let r = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["redis"], "mismatch", "{body}");
}

#[tokio::test]
async fn the_host_refuses_an_app_whose_key_value_store_is_not_defined() {
    gcal_tests::build::components().unwrap();
    let mut cfg: HostConfig = common::config(
        "redis://127.0.0.1:1",
        &gcal_tests::fakes::FakeGoogle::start().await.unwrap(),
        &gcal_tests::fakes::FakeRest::start().await.unwrap(),
        "c",
    );
    cfg.key_value_stores.clear();
    let err = gcal_tests::host::Host::start(cfg)
        .await
        .err()
        .expect("start must fail, as Spin's does")
        .to_string();
    assert!(err.contains("key-value store `gcal`"), "{err}");
}
