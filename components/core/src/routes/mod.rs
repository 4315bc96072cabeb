//! The work behind each route family, one named handler per route; the components' route
//! tables name them.

pub mod admin;
pub mod auth;
pub mod availability;
pub mod calendars;
pub mod events;
pub mod health;
pub mod webhook;
