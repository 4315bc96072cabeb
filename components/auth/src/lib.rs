//! The auth component: `/auth/...`. Every route but the browser callback needs an API token.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::{Router, SpinRuntime, auth, not_found, public, token, user};

gcal_core::http_entry!(routes);

fn routes() -> Router<SpinRuntime> {
    Router::new()
        // The browser, redirected by Google: no API token, the state authenticates.
        .get("/auth/callback", public(auth::browser_callback))
        .post("/auth/callback", token(auth::callback))
        .get("/auth/url/*user_id", user(auth::url))
        .get("/auth/status/*user_id", user(auth::status))
        // `DELETE /auth/` (an empty user id) is an invalid user id, not an unknown route.
        .delete("/auth/*user_id", user(auth::revoke))
        .fallback(token(not_found))
}
