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
    /// `LPUSH` then `LTRIM 0 max_len-1`: a list bounded to its newest entries.
    fn lpush_capped(&self, key: &str, value: &[u8], max_len: u64) -> Result<(), Problem>;
    /// `LRANGE key 0 n-1` (newest first) and `LLEN`.
    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), Problem>;
    /// `LRANGE key -1 -1`: the oldest entry of a list, left where it is.
    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, Problem>;
    /// `LREM key -1 value`: removes the oldest entry equal to `value` (one only); whether
    /// there was one.
    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem>;
    /// If the oldest entry is still `value`, moves it to the newest end in one atomic
    /// step (`RPOPLPUSH key key`: it never leaves the list); whether it moved.
    fn rotate_oldest_if_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem>;
}

/// The consumer-group view of the event stream (`gcal:stream:events`).
pub trait Stream {
    /// Creates the group (from the start of the stream) if it does not exist.
    fn ensure_group(&self, stream: &str, group: &str) -> Result<(), Problem>;
    /// New entries for this group (`XREADGROUP ... >`), each handed to one reader only.
    fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, Problem>;
    /// Entries read but not acknowledged for `min_idle_ms` (`XAUTOCLAIM`): their reader died.
    fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, Problem>;
    fn ack(&self, stream: &str, group: &str, id: &str) -> Result<(), Problem>;
}

/// An in-memory [`Store`] for unit tests (no TTLs: tests that need expiry use Redis).
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore {
    pub map: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>,
    pub published: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    pub stream: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    pub lists: std::cell::RefCell<std::collections::HashMap<String, Vec<Vec<u8>>>>,
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
    fn lpush_capped(&self, key: &str, value: &[u8], _: u64) -> Result<(), Problem> {
        self.lists
            .borrow_mut()
            .entry(key.into())
            .or_default()
            .insert(0, value.to_vec());
        Ok(())
    }
    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), Problem> {
        let l = self.lists.borrow();
        let all = l.get(key).cloned().unwrap_or_default();
        let len = all.len() as u64;
        Ok((all.into_iter().take(n as usize).collect(), len))
    }
    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        Ok(self.lists.borrow().get(key).and_then(|l| l.last().cloned()))
    }
    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem> {
        let mut lists = self.lists.borrow_mut();
        let Some(l) = lists.get_mut(key) else {
            return Ok(false);
        };
        match l.iter().rposition(|v| v == value) {
            Some(i) => {
                l.remove(i);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn rotate_oldest_if_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem> {
        let mut lists = self.lists.borrow_mut();
        let Some(l) = lists.get_mut(key) else {
            return Ok(false);
        };
        if l.last().map(Vec::as_slice) != Some(value) {
            return Ok(false);
        }
        l.rotate_right(1);
        Ok(true)
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

/// A [`MemoryStore`] whose next XADD, PUBLISH, SET EX or LPUSH calls fail, as when Redis
/// goes away in the middle of a request.
#[cfg(test)]
#[derive(Default)]
pub struct Flaky {
    pub inner: MemoryStore,
    pub xadd: std::cell::Cell<u32>,
    pub publish: std::cell::Cell<u32>,
    pub set_ex: std::cell::Cell<u32>,
    pub lpush: std::cell::Cell<u32>,
    /// When set, that many more list changes other than LPUSH (the LREM and the rotation
    /// of a replay) succeed; every one after them fails (Redis gone for good).
    pub list_changes_left: std::cell::Cell<Option<u32>>,
}

#[cfg(test)]
impl Flaky {
    fn list_change(&self) -> Result<(), Problem> {
        match self.list_changes_left.get() {
            None => Ok(()),
            Some(0) => Err(Problem::new(
                crate::problem::Code::RedisUnavailable,
                "redis: request failed",
            )),
            Some(n) => {
                self.list_changes_left.set(Some(n - 1));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
fn take(c: &std::cell::Cell<u32>) -> Result<(), Problem> {
    if c.get() > 0 {
        c.set(c.get() - 1);
        return Err(Problem::new(
            crate::problem::Code::RedisUnavailable,
            "redis: request failed",
        ));
    }
    Ok(())
}

#[cfg(test)]
impl Store for Flaky {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        self.inner.get(key)
    }
    fn set_ex(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Problem> {
        take(&self.set_ex)?;
        self.inner.set_ex(key, value, ttl)
    }
    fn set_nx_px(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Problem> {
        self.inner.set_nx_px(key, value, ttl)
    }
    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        self.inner.get_del(key)
    }
    fn del(&self, key: &str) -> Result<(), Problem> {
        self.inner.del(key)
    }
    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), Problem> {
        self.inner.del_if_eq(key, value)
    }
    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), Problem> {
        take(&self.publish)?;
        self.inner.publish(channel, payload)
    }
    fn xadd_capped(&self, s: &str, max: u64, f: &str, v: &[u8]) -> Result<(), Problem> {
        take(&self.xadd)?;
        self.inner.xadd_capped(s, max, f, v)
    }
    fn incr_ex(&self, key: &str, ttl: u64) -> Result<i64, Problem> {
        self.inner.incr_ex(key, ttl)
    }
    fn lpush_capped(&self, key: &str, value: &[u8], max: u64) -> Result<(), Problem> {
        take(&self.lpush)?;
        self.inner.lpush_capped(key, value, max)
    }
    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), Problem> {
        self.inner.lrange(key, n)
    }
    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        self.inner.oldest(key)
    }
    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem> {
        self.list_change()?;
        self.inner.remove_oldest_eq(key, value)
    }
    fn rotate_oldest_if_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem> {
        self.list_change()?;
        self.inner.rotate_oldest_if_eq(key, value)
    }
}
