//! The per-user request budget (`rate_limit_per_minute`), counted per minute in the
//! key-value store (`Store::kv_increment`: atomic, shared by replicas when the store is
//! Redis, and no connection per request).
//!
//! The store has no TTLs, so a user's counters are bounded by their design: the first
//! request of a minute removes the counters of the minute before and of the user's last
//! counted minute (named by `gcal:rl:{user}:last`), then points `last` at its own. A user
//! so has at most two counters and the pointer, whatever the traffic.

use crate::config::Config;
use crate::http::problem::{Code, Problem};
use crate::http::response::Response;
use crate::model::user_id::UserId;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub reset_secs: u64,
}

/// Counts this request. Over the limit: 429 `rate_limited` with `Retry-After`; the budget
/// is returned either way so the headers go on every answer. A limit of 0 disables it.
pub fn check(
    cfg: &Config<'_>,
    store: &dyn Store,
    user: &UserId,
) -> Result<Option<Budget>, (Problem, Option<Budget>)> {
    let limit = cfg.rate_limit_per_minute().map_err(|e| (e.into(), None))?;
    if limit == 0 {
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let count = count_at(store, user, now / 60).map_err(|e| (e.into(), None))?;
    let budget = Budget {
        limit,
        remaining: limit.saturating_sub(u64::try_from(count).unwrap_or(u64::MAX)),
        reset_secs: 60 - now % 60,
    };
    if u64::try_from(count).unwrap_or(u64::MAX) > limit {
        let mut p = Problem::new(
            Code::RateLimited,
            format!("at most {limit} requests per minute per user"),
        );
        p.retry_after = Some(budget.reset_secs as u32);
        return Err((p, Some(budget)));
    }
    Ok(Some(budget))
}

fn counter_key(user: &UserId, minute: &str) -> String {
    format!("gcal:rl:{user}:{minute}")
}

fn last_key(user: &UserId) -> String {
    format!("gcal:rl:{user}:last")
}

/// Counts a request in `minute`; a new counter retires the user's older ones (best
/// effort: a failure there leaves a counter for the next minute's first request).
fn count_at(store: &dyn Store, user: &UserId, minute: u64) -> Result<i64, StoreError> {
    let this = minute.to_string();
    let count = store.kv_increment(&counter_key(user, &this))?;
    if count == 1 {
        let before = minute.saturating_sub(1).to_string();
        let _ = store.kv_delete(&counter_key(user, &before));
        if let Ok(Some(last)) = store.kv_get(&last_key(user))
            && let Ok(last) = String::from_utf8(last)
            && last != before
            && last != this
            && last.bytes().all(|b| b.is_ascii_digit())
        {
            let _ = store.kv_delete(&counter_key(user, &last));
        }
        let _ = store.kv_set(&last_key(user), this.as_bytes());
    }
    Ok(count)
}

/// Removes the user's counters (a disconnect leaves nothing of theirs behind).
pub fn forget(store: &dyn Store, user: &UserId) -> Result<(), StoreError> {
    if let Some(last) = store.kv_get(&last_key(user))?
        && let Ok(last) = String::from_utf8(last)
        && last.bytes().all(|b| b.is_ascii_digit())
    {
        store.kv_delete(&counter_key(user, &last))?;
    }
    store.kv_delete(&last_key(user))
}

const LIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit-limit");
const REMAINING: http::HeaderName = http::HeaderName::from_static("ratelimit-remaining");

/// `RateLimit-Limit` and `RateLimit-Remaining`.
pub fn headers(resp: &mut Response, budget: Option<Budget>) {
    if let Some(b) = budget {
        let h = resp.headers_mut();
        h.insert(LIMIT, http::HeaderValue::from(b.limit));
        h.insert(REMAINING, http::HeaderValue::from(b.remaining));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;
    use std::collections::HashMap;

    #[test]
    fn counts_per_user_and_refuses_past_the_limit() {
        let vars: HashMap<String, String> =
            [("rate_limit_per_minute".to_string(), "2".to_string())].into();
        let s = MemoryStore::default();
        let u = UserId::parse("u1").unwrap();
        assert_eq!(
            check(&Config::new(&vars), &s, &u)
                .unwrap()
                .unwrap()
                .remaining,
            1
        );
        assert_eq!(
            check(&Config::new(&vars), &s, &u)
                .unwrap()
                .unwrap()
                .remaining,
            0
        );
        let (p, b) = check(&Config::new(&vars), &s, &u).unwrap_err();
        assert_eq!(p.code, Code::RateLimited);
        assert!(p.retry_after.is_some_and(|r| (1..=60).contains(&r)));
        assert_eq!(b.unwrap().remaining, 0);
        let other = UserId::parse("u2").unwrap();
        assert!(check(&Config::new(&vars), &s, &other).is_ok());
    }

    #[test]
    fn a_user_keeps_at_most_two_counters_and_the_pointer() {
        let s = MemoryStore::default();
        let u = UserId::parse("u1").unwrap();
        let keys = || {
            let mut k: Vec<String> = s.map.borrow().keys().cloned().collect();
            k.sort();
            k
        };
        for minute in [100, 100, 101, 101, 102, 200, 200, 201, 305] {
            count_at(&s, &u, minute).unwrap();
            assert!(keys().len() <= 3, "{minute}: {:?}", keys());
        }
        assert_eq!(keys(), ["gcal:rl:u1:305", "gcal:rl:u1:last"]);
        assert_eq!(count_at(&s, &u, 305).unwrap(), 2);
        forget(&s, &u).unwrap();
        assert!(keys().is_empty(), "{:?}", keys());
    }

    #[test]
    fn zero_disables_and_garbage_is_a_config_error() {
        let s = MemoryStore::default();
        let u = UserId::parse("u1").unwrap();
        let off: HashMap<String, String> =
            [("rate_limit_per_minute".to_string(), "0".to_string())].into();
        assert_eq!(check(&Config::new(&off), &s, &u).unwrap(), None);
        let bad: HashMap<String, String> =
            [("rate_limit_per_minute".to_string(), "lots".to_string())].into();
        assert_eq!(
            check(&Config::new(&bad), &s, &u).unwrap_err().0.code,
            Code::ConfigInvalid
        );
    }
}
