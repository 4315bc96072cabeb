//! The auth component: `/auth/...`. Every route but the browser callback needs an API token.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::{
    Router, SpinRuntime, auth, method_not_allowed, not_found, public, token, user,
    user_method_not_allowed,
};

gcal_core::http_entry!(routes);

fn routes() -> Router<SpinRuntime> {
    Router::new()
        // The browser, redirected by Google: no API token, the state authenticates.
        .get("/auth/callback", public(auth::browser_callback))
        .post("/auth/callback", token(auth::callback))
        .any("/auth/callback", public(method_not_allowed))
        .get("/auth/url/*user_id", user(auth::url))
        .any("/auth/url/*user_id", user(user_method_not_allowed))
        .get("/auth/status/*user_id", user(auth::status))
        .any("/auth/status/*user_id", user(user_method_not_allowed))
        // `DELETE /auth/` (an empty user id) is an invalid user id, not an unknown route.
        .delete("/auth/*user_id", user(auth::revoke))
        .fallback(token(not_found))
}
