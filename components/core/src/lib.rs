//! Shared logic of the Google Calendar service.
//!
//! Everything here but the [`spin`] module is plain Rust that builds and unit-tests on the
//! host target; the components are thin route tables over it.

pub mod api_auth;
pub mod auth;
pub mod availability;
pub mod calendar;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod events;
pub mod google;
pub mod http;
pub mod ids;
pub mod log;
pub mod notify;
pub mod oauth;
pub mod page;
pub mod problem;
pub mod ratelimit;
pub mod redirect;
pub mod request_id;
pub mod response;
pub mod rest;
pub mod route;
pub mod secret;
#[cfg(target_arch = "wasm32")]
pub mod spin;
pub mod store;
pub mod tokens;
pub mod updates;
pub mod watch;

/// The service version, reported by `/health` and in logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
