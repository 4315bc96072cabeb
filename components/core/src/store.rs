//! The Redis operations the service needs, as a trait: Spin's outbound Redis implements it
//! in a component, an in-memory map in unit tests. Every failure is already a
//! `redis_unavailable` problem.

use crate::problem::Problem;

pub trait Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Problem>;
    /// `SET key value EX ttl`
    fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), Problem>;
    /// `SET key value NX PX ttl`: whether it was set (a lock or a first write).
    fn set_nx_px(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, Problem>;
    /// `GETDEL`: read and remove in one step, so a value is consumed exactly once.
    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, Problem>;
    fn del(&self, key: &str) -> Result<(), Problem>;
    /// Deletes `key` only while it still holds `value` (releasing one's own lock).
    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), Problem>;
    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), Problem>;
    /// `XADD stream MAXLEN ~ max_len * field value`
    fn xadd_capped(
        &self,
        stream: &str,
        max_len: u64,
        field: &str,
        value: &[u8],
    ) -> Result<(), Problem>;
    /// `INCR`, with `EXPIRE ttl` when the key is new (one round trip).
    fn incr_ex(&self, key: &str, ttl_secs: u64) -> Result<i64, Problem>;
}

/// An in-memory [`Store`] for unit tests (no TTLs: tests that need expiry use Redis).
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore {
    pub map: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>,
    pub published: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    pub stream: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
}

#[cfg(test)]
impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        Ok(self.map.borrow().get(key).cloned())
    }
    fn set_ex(&self, key: &str, value: &[u8], _: u64) -> Result<(), Problem> {
        self.map.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }
    fn set_nx_px(&self, key: &str, value: &[u8], _: u64) -> Result<bool, Problem> {
        let mut m = self.map.borrow_mut();
        if m.contains_key(key) {
            return Ok(false);
        }
        m.insert(key.into(), value.to_vec());
        Ok(true)
    }
    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        Ok(self.map.borrow_mut().remove(key))
    }
    fn del(&self, key: &str) -> Result<(), Problem> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), Problem> {
        let mut m = self.map.borrow_mut();
        if m.get(key).map(Vec::as_slice) == Some(value) {
            m.remove(key);
        }
        Ok(())
    }
    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), Problem> {
        self.published
            .borrow_mut()
            .push((channel.into(), payload.to_vec()));
        Ok(())
    }
    fn xadd_capped(&self, stream: &str, _: u64, _: &str, value: &[u8]) -> Result<(), Problem> {
        self.stream
            .borrow_mut()
            .push((stream.into(), value.to_vec()));
        Ok(())
    }
    fn incr_ex(&self, key: &str, _: u64) -> Result<i64, Problem> {
        let mut m = self.map.borrow_mut();
        let n = m
            .get(key)
            .and_then(|v| String::from_utf8(v.clone()).ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            + 1;
        m.insert(key.into(), n.to_string().into_bytes());
        Ok(n)
    }
}
