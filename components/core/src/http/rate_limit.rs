//! The per-user request budget (`rate_limit_per_minute`), counted in Redis per minute.

use crate::config::Config;
use crate::http::problem::{Code, Problem};
use crate::http::response::Response;
use crate::model::user_id::UserId;
use crate::store::Store;

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
    let key = format!("gcal:rl:{user}:{}", now / 60);
    let count = store.incr_ex(&key, 120).map_err(|e| (e.into(), None))?;
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

/// `RateLimit-Limit` and `RateLimit-Remaining`.
pub fn headers(resp: &mut Response, budget: Option<Budget>) {
    if let Some(b) = budget {
        let h = resp.headers_mut();
        h.insert("ratelimit-limit", http::HeaderValue::from(b.limit));
        h.insert("ratelimit-remaining", http::HeaderValue::from(b.remaining));
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
