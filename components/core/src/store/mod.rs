//! The Redis operations the service needs, as a trait: Spin's outbound Redis implements it
//! in a component, an in-memory map in unit tests. Every failure is a [`StoreError`]
//! (the HTTP edge answers it as `redis_unavailable`).

mod error;

pub use error::StoreError;

/// The "TTL" of a `kv_*` key where the store is plain Redis: none that ever ends.
const KV_NO_TTL_SECS: u64 = u64::MAX / 4;

pub trait Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// `SET key value EX ttl`
    fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError>;
    /// `SET key value NX PX ttl`: whether it was set (a lock or a first write).
    fn set_nx_px(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, StoreError>;
    /// `GETDEL`: read and remove in one step, so a value is consumed exactly once.
    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn del(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes `key` only while it still holds `value` (releasing one's own lock).
    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), StoreError>;
    /// `XADD stream MAXLEN ~ max_len * field value`
    fn xadd_capped(
        &self,
        stream: &str,
        max_len: u64,
        field: &str,
        value: &[u8],
    ) -> Result<(), StoreError>;
    /// `INCR`, with `EXPIRE ttl` when the key is new (one round trip).
    fn incr_ex(&self, key: &str, ttl_secs: u64) -> Result<i64, StoreError>;
    /// `LPUSH` then `LTRIM 0 max_len-1`: a list bounded to its newest entries.
    fn lpush_capped(&self, key: &str, value: &[u8], max_len: u64) -> Result<(), StoreError>;
    /// `LRANGE key 0 n-1` (newest first) and `LLEN`.
    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), StoreError>;
    /// `LRANGE key -1 -1`: the oldest entry of a list, left where it is.
    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// `LREM key -1 value`: removes the oldest entry equal to `value` (one only); whether
    /// there was one.
    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;
    /// If the oldest entry is still `value`, moves it to the newest end in one atomic
    /// step (`RPOPLPUSH key key`: it never leaves the list); whether it moved.
    fn rotate_oldest_if_eq(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;

    // -------------------------------------------------------------- the key-value store
    // What every request reads or counts (the access-token cache, the rate limit) lives in
    // Spin's key-value store (label `default`; in production the same Redis, through the
    // runtime config), which Spin reaches over one connection for the whole app instead
    // of a connection per request. It has no TTLs: those keys are bounded by their design
    // (one or two per user, see their modules). Where there is no such store (unit
    // tests), they are the Redis keys of the same name.

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(key)
    }
    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.set_ex(key, value, KV_NO_TTL_SECS)
    }
    fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.del(key)
    }
    /// Adds 1 (a missing key counts from 0) and answers the new count, atomically.
    fn kv_increment(&self, key: &str) -> Result<i64, StoreError> {
        self.incr_ex(key, KV_NO_TTL_SECS)
    }
}

/// The consumer-group view of the event stream (`gcal:stream:events`).
pub trait Stream {
    /// Creates the group (from the start of the stream) if it does not exist.
    fn ensure_group(&self, stream: &str, group: &str) -> Result<(), StoreError>;
    /// New entries for this group (`XREADGROUP ... >`), each handed to one reader only.
    fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Entries read but not acknowledged for `min_idle_ms` (`XAUTOCLAIM`): their reader died.
    fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    fn ack(&self, stream: &str, group: &str, id: &str) -> Result<(), StoreError>;
}
