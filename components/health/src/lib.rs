//! `GET /health`: the version and a Redis round trip. `GET /openapi.json`: the OpenAPI
//! document of the service.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::config::{self, defaults};
use gcal_core::problem::Problem;
use gcal_core::request_id::RequestId;
use gcal_core::response::{self, Response};
use gcal_core::route::{method_not_allowed, not_found, segments};
use gcal_core::spin::{Redis, Request, SpinVariables, arg, serve};
use serde_json::json;
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, route).await
}

async fn route(req: Request, rid: RequestId) -> Result<Response, Problem> {
    match (req.method().as_str(), segments(req.uri().path()).as_slice()) {
        ("GET", ["health"]) => health(&rid),
        (_, ["health"]) => Err(method_not_allowed()),
        ("GET", ["openapi.json"]) => Ok(openapi(&rid)),
        (_, ["openapi.json"]) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}

/// A write and a read back under a per-request key, so the check proves the connection
/// works both ways and concurrent checks cannot disturb each other. The key expires.
fn health(rid: &RequestId) -> Result<Response, Problem> {
    let address = config::or_default(&SpinVariables, "redis_address", defaults::REDIS_ADDRESS)?;
    let redis = Redis::open(&address)?;
    let key = format!("gcal:health:{rid}");
    redis.execute("SET", &[arg(&key), arg(rid.as_str()), arg("EX"), arg("60")])?;
    let redis_ok = redis.get(&key)?.as_deref() == Some(rid.as_str().as_bytes());
    Ok(response::json(
        if redis_ok { 200 } else { 503 },
        &json!({
            "status": if redis_ok { "ok" } else { "degraded" },
            "version": gcal_core::VERSION,
            "checks": { "redis": if redis_ok { "ok" } else { "mismatch" } },
        }),
        rid,
    ))
}

/// The repository's `openapi.json`, embedded at build time (cargo rebuilds on a change).
const OPENAPI: &str = include_str!("../../../openapi.json");

/// The document exactly as written (not re-serialized), with the usual headers.
fn openapi(rid: &RequestId) -> Response {
    let mut resp = response::json(200, &serde_json::Value::Null, rid);
    *resp.body_mut() = OPENAPI.as_bytes().to_vec();
    resp
}
