//! The events component: `/events/...`, `/webhooks/google` and `/admin/...`.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::{
    Router, SpinRuntime, admin, availability, calendars, events, method_not_allowed, not_found,
    public, token, user, user_method_not_allowed, user_not_found, webhook,
};

gcal_core::http_entry!(routes);

fn routes() -> Router<SpinRuntime> {
    Router::new()
        // Google's push: no API token; the channel token is checked instead.
        .post("/webhooks/google", public(webhook::push))
        .any("/webhooks/google", public(method_not_allowed))
        .get("/admin/dlq", token(admin::dead_letters))
        .post("/admin/dlq/replay", token(admin::replay))
        .post("/admin/drain", token(admin::drain))
        .get("/events/:user_id", user(events::list))
        .post("/events/:user_id", user(events::create))
        .post("/events/:user_id/watch", user(events::watch))
        .delete("/events/:user_id/watch", user(events::unwatch))
        // `watch` is this route, never an event id (`check_event_id`).
        .any("/events/:user_id/watch", user(user_method_not_allowed))
        .get("/events/:user_id/:event_id", user(events::get))
        .patch("/events/:user_id/:event_id", user(events::patch))
        .delete("/events/:user_id/:event_id", user(events::delete))
        .post("/events/:user_id/:event_id/rsvp", user(events::rsvp))
        .get(
            "/events/:user_id/:event_id/instances",
            user(events::instances),
        )
        .any("/events/:user_id", user(user_method_not_allowed))
        .any("/events/:user_id/:event_id", user(user_method_not_allowed))
        .any(
            "/events/:user_id/:event_id/rsvp",
            user(user_method_not_allowed),
        )
        .any(
            "/events/:user_id/:event_id/instances",
            user(user_method_not_allowed),
        )
        .any("/events/:user_id/*rest", user(user_not_found))
        .get("/calendars/:user_id", user(calendars::list))
        .any("/calendars/:user_id", user(user_method_not_allowed))
        .any("/calendars/:user_id/*rest", user(user_not_found))
        .get("/freebusy/:user_id", user(calendars::freebusy))
        .any("/freebusy/:user_id", user(user_method_not_allowed))
        .any("/freebusy/:user_id/*rest", user(user_not_found))
        .post("/availability", token(availability::find))
        .any("/availability", token(method_not_allowed))
        .fallback(token(not_found))
}
