//! Google: the Calendar v3 client and its JSON, and OAuth 2.0 through the `oauth2` crate.

pub mod calendar;
mod error;
pub mod oauth;
pub mod scopes;

pub use error::GoogleError;
