//! Spin's key-value store, label [`LABEL`], through `wasi:keyvalue` (Spin 3.x and later).
//!
//! Spin keeps one connection per key-value store for the whole app, shared by every
//! instance, where outbound Redis connects anew for each instance (each request). So the
//! hot path reads and counts here, and opens no connection. `default` is the store every
//! Spin offers without configuration (a local SQLite file); the runtime config makes it
//! Redis (`[key_value_store.default] type = "redis"`), so that replicas share it. The
//! store has no TTLs: the keys kept here are bounded by their design.
//!
//! `increment` is only in the SDK's generated bindings (`spin_sdk::wit`), which are
//! `#[doc(hidden)]` but are the `wasi:keyvalue` interfaces themselves.

use crate::store::StoreError;
use spin_sdk::wit::wasi::keyvalue::{atomics, store};
use std::cell::OnceCell;

/// The label of the store, in every component's `key_value_stores` that reads or counts.
pub const LABEL: &str = "default";

/// The store, opened on first use (an `open` costs Spin a `PING`).
#[derive(Default)]
pub struct KeyValue {
    bucket: OnceCell<store::Bucket>,
}

impl KeyValue {
    fn bucket(&self) -> Result<&store::Bucket, StoreError> {
        if let Some(b) = self.bucket.get() {
            return Ok(b);
        }
        let b = store::open(LABEL).map_err(|e| failed("open", e))?;
        Ok(self.bucket.get_or_init(|| b))
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bucket()?.get(key).map_err(|e| failed("GET", e))
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bucket()?.set(key, value).map_err(|e| failed("SET", e))
    }

    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket()?.delete(key).map_err(|e| failed("DEL", e))
    }

    /// `INCRBY key 1` (the key is made with 1 when absent).
    pub fn increment(&self, key: &str) -> Result<i64, StoreError> {
        atomics::increment(self.bucket()?, key, 1).map_err(|e| failed("INCRBY", e))
    }
}

fn failed(op: &'static str, e: store::Error) -> StoreError {
    match e {
        store::Error::NoSuchStore | store::Error::AccessDenied => {
            StoreError::NoKeyValueStore { label: LABEL }
        }
        store::Error::Other(_) => StoreError::Failed { op },
    }
}
