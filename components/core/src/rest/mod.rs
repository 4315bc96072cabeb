//! The user-data REST service (SPEC section 4).

pub mod client;
