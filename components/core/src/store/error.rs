//! What went wrong talking to Redis. The text names the operation, never the address (it
//! may carry a password).

use crate::config::ConfigError;

/// A failed Redis operation; `op` is the command (`GET`, `EVAL`, `connect`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `redis_address` is not set right.
    #[error(transparent)]
    Address(ConfigError),
    #[error("redis {op}: invalid address")]
    InvalidAddress { op: &'static str },
    #[error("redis {op}: too many connections")]
    TooManyConnections { op: &'static str },
    #[error("redis {op}: unexpected value type")]
    TypeError { op: &'static str },
    /// The request failed: Redis down, restarting, or refusing the command.
    #[error("redis {op}: request failed")]
    Failed { op: &'static str },
    /// Redis answered with something the command never answers.
    #[error("redis {op}: unexpected reply")]
    UnexpectedReply { op: &'static str },
    /// The key-value store is not there for this component: its label is missing from
    /// `key_value_stores` in `spin.toml` or from the runtime config.
    #[error("key-value store `{label}`: not available to this component")]
    NoKeyValueStore { label: &'static str },
}

impl StoreError {
    /// A stable snake_case name of what happened, for logs and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Address(_) => "redis_address_invalid",
            StoreError::InvalidAddress { .. } => "redis_invalid_address",
            StoreError::TooManyConnections { .. } => "redis_too_many_connections",
            StoreError::TypeError { .. } => "redis_type_error",
            StoreError::Failed { .. } => "redis_failed",
            StoreError::UnexpectedReply { .. } => "redis_unexpected_reply",
            StoreError::NoKeyValueStore { .. } => "key_value_store_missing",
        }
    }

    /// Whether trying again later may succeed. A misconfigured address is fixed by an
    /// operator, after which the same operation succeeds, so it counts too: nothing
    /// about Redis fails the same way for ever.
    pub fn is_transient(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable_snake_case_and_texts_name_the_operation() {
        let all = [
            (
                StoreError::Address(ConfigError::Missing("redis_address")),
                "redis_address_invalid",
            ),
            (
                StoreError::InvalidAddress { op: "connect" },
                "redis_invalid_address",
            ),
            (
                StoreError::TooManyConnections { op: "GET" },
                "redis_too_many_connections",
            ),
            (StoreError::TypeError { op: "GET" }, "redis_type_error"),
            (StoreError::Failed { op: "SET" }, "redis_failed"),
            (
                StoreError::UnexpectedReply { op: "EVAL" },
                "redis_unexpected_reply",
            ),
            (
                StoreError::NoKeyValueStore { label: "gcal" },
                "key_value_store_missing",
            ),
        ];
        for (e, kind) in &all {
            assert_eq!(e.kind(), *kind);
            assert!(e.is_transient(), "{e:?}");
        }
        assert_eq!(all[4].0.to_string(), "redis SET: request failed");
        assert_eq!(all[5].0.to_string(), "redis EVAL: unexpected reply");
    }
}
