//! A user's Google credentials: the token provider (cache, REST, refresh under a lock)
//! and the encryption of tokens at rest.

pub mod cipher;
mod error;
pub mod provider;

pub use error::CredentialError;
