//! The auth component: `/auth/...`. Every route but the browser callback needs an API token.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::api_auth;
use gcal_core::problem::Problem;
use gcal_core::request_id::RequestId;
use gcal_core::response::Response;
use gcal_core::route::not_found;
use gcal_core::spin::{Request, SpinVariables, serve};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, route).await
}

async fn route(req: Request, _rid: RequestId) -> Result<Response, Problem> {
    api_auth::authorize(&SpinVariables, &req)?;
    // The OAuth routes arrive with the OAuth issue; until then every path is unknown.
    Err(not_found())
}
