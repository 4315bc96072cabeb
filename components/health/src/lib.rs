//! `GET /health`: the version and a Redis round trip. `GET /openapi.json`: the OpenAPI
//! document of the service.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::{Ctx, Reply, Router, SpinRuntime, health, method_not_allowed, public};

gcal_core::http_entry!(routes);

fn routes() -> Router<SpinRuntime> {
    Router::new()
        .get("/health", public(health::check))
        .any("/health", public(method_not_allowed))
        .get("/openapi.json", public(openapi))
        .any("/openapi.json", public(method_not_allowed))
}

/// The repository's `openapi.json`, embedded at build time (cargo rebuilds on a change).
const OPENAPI: &str = include_str!("../../../openapi.json");

/// The document exactly as written (not re-serialized), with the usual headers.
async fn openapi(cx: Ctx<'_, SpinRuntime>) -> Reply {
    Ok(health::document(OPENAPI, cx.rid))
}
