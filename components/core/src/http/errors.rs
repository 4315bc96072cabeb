//! Every boundary's error turned into its problem: the one place a failure of Redis,
//! Google, OAuth or the REST service gets a code, a status and a detail.

use crate::http::problem::{Code, Problem};
use crate::store::StoreError;

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Address(c) => c.into(),
            e => Problem::new(Code::RedisUnavailable, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    #[test]
    fn store_errors_are_redis_unavailable_unless_the_address_is_misconfigured() {
        let p = Problem::from(StoreError::Failed { op: "GET" });
        assert_eq!((p.code, p.status()), (Code::RedisUnavailable, 503));
        assert_eq!(p.detail, "redis GET: request failed");
        let p = Problem::from(StoreError::UnexpectedReply { op: "EVAL" });
        assert_eq!(p.code, Code::RedisUnavailable);
        assert_eq!(p.detail, "redis EVAL: unexpected reply");
        let p = Problem::from(StoreError::Address(ConfigError::Invalid {
            name: "redis_address",
            reason: "x",
        }));
        assert_eq!((p.code, p.status()), (Code::ConfigInvalid, 500));
    }
}
