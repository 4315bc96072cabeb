//! Shared logic of the Google Calendar service. Everything but [`spin`] is plain Rust that
//! builds and unit-tests on the host; the components are route tables over it. See
//! `ARCHITECTURE.md` for the map.

mod config;
mod credentials;
mod delivery;
mod google;
mod http;
mod log;
mod model;
mod outbound;
#[cfg(test)]
mod properties;
mod rest;
mod routes;
mod secret;
mod services;
#[cfg(target_arch = "wasm32")]
mod spin;
mod store;
#[cfg(test)]
mod testing;

// The route tables: the router, what a route asks first, and the handlers.
pub use delivery::on_message;
pub use http::guard::{Ctx, UserCtx, public, token, user};
pub use http::response::Response;
pub use http::router::{
    Reply, Router, method_not_allowed, not_found, user_method_not_allowed, user_not_found,
};
pub use http::serve::{Head, serve_on};
pub use routes::{admin, auth, availability, calendars, events, health, webhook};
pub use services::Runtime;
// The Spin runtime and the components' entry points.
#[cfg(target_arch = "wasm32")]
pub use spin::{SpinRuntime, respond, serve};
// For the integration tests: what they check the service's data and settings against.
pub use config::defaults;
pub use credentials::cipher::TokenCipher;
pub use http::problem::Code as ProblemCode;
pub use model::event::idempotent_event_id;
pub use secret::{AccessToken, RefreshToken};

/// The service version, reported by `/health` and in logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
