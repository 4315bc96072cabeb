//! Redis through Spin, as a [`Store`](crate::store::Store): outbound Redis, connected on
//! its first command, and the key-value store ([`super::kv`]) for the `kv_*` operations
//! (the token cache and the rate limit), over the connection Spin shares across
//! instances. A request that only reads and counts (a cached token, the rate limit) so
//! opens no Redis connection. Every failure is a [`StoreError`] naming the operation,
//! never the address (it may carry a password).

use super::kv::KeyValue;
use crate::store::StoreError;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use std::cell::OnceCell;

/// Redis through Spin.
pub struct Redis {
    /// `None`: the configured `redis_address`, read from Spin's variables at the first
    /// command (a variable read is a host call that a request using only the key-value
    /// store does not need).
    address: Option<String>,
    conn: OnceCell<Connection>,
    kv: KeyValue,
}

impl Redis {
    /// Nothing is opened yet: outbound Redis connects at its first command, the
    /// key-value store opens at its first use.
    pub fn open(address: &str) -> Result<Self, StoreError> {
        Ok(Redis {
            address: Some(address.to_owned()),
            conn: OnceCell::new(),
            kv: KeyValue::default(),
        })
    }

    /// As [`Redis::open`], at the configured `redis_address`, read when first needed.
    pub fn configured() -> Self {
        Redis {
            address: None,
            conn: OnceCell::new(),
            kv: KeyValue::default(),
        }
    }

    pub(super) fn conn(&self) -> Result<&Connection, StoreError> {
        if let Some(c) = self.conn.get() {
            return Ok(c);
        }
        let c = match &self.address {
            Some(address) => Connection::open(address),
            None => {
                let cfg = crate::config::Config::new(&super::SpinVariables);
                Connection::open(cfg.redis_address().map_err(StoreError::Address)?)
            }
        }
        .map_err(|e| unavailable("connect", &e))?;
        Ok(self.conn.get_or_init(|| c))
    }

    pub fn execute(
        &self,
        command: &'static str,
        args: &[RedisParameter],
    ) -> Result<Vec<RedisResult>, StoreError> {
        self.conn()?
            .execute(command, args)
            .map_err(|e| unavailable(command, &e))
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()?.get(key).map_err(|e| unavailable("GET", &e))
    }

    pub fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), StoreError> {
        self.conn()?
            .publish(channel, payload)
            .map_err(|e| unavailable("PUBLISH", &e))
    }
}

pub(super) fn unavailable(op: &'static str, e: &spin_sdk::redis::Error) -> StoreError {
    use spin_sdk::redis::Error;
    match e {
        Error::InvalidAddress => StoreError::InvalidAddress { op },
        Error::TooManyConnections => StoreError::TooManyConnections { op },
        Error::TypeError => StoreError::TypeError { op },
        Error::Other(_) => StoreError::Failed { op },
    }
}

/// A byte-string argument for [`Redis::execute`].
pub fn arg(value: impl AsRef<[u8]>) -> RedisParameter {
    RedisParameter::Binary(value.as_ref().to_vec())
}

// ------------------------------------------------------------------ Redis as a Store

impl crate::store::Store for Redis {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Redis::get(self, key)
    }

    fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), StoreError> {
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        self.execute(
            "SET",
            &[arg(key), arg(value), arg("EX"), RedisParameter::Int64(ttl)],
        )
        .map(|_| ())
    }

    fn set_nx_px(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, StoreError> {
        // A script answering 1 or 0: older Spin hosts drop `OK` and nil replies from
        // `execute`, so the plain SET NX reply cannot be read the same way everywhere.
        const SCRIPT: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 else return 0 end";
        let ttl = i64::try_from(ttl_ms.max(1)).unwrap_or(i64::MAX);
        let r = self.execute(
            "EVAL",
            &[
                arg(SCRIPT),
                RedisParameter::Int64(1),
                arg(key),
                arg(value),
                RedisParameter::Int64(ttl),
            ],
        )?;
        Ok(matches!(r.first(), Some(RedisResult::Int64(1))))
    }

    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            match self.execute("GETDEL", &[arg(key)])?.into_iter().next() {
                Some(RedisResult::Binary(b)) => Some(b),
                _ => None,
            },
        )
    }

    fn del(&self, key: &str) -> Result<(), StoreError> {
        self.execute("DEL", &[arg(key)]).map(|_| ())
    }

    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        const SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
        self.execute(
            "EVAL",
            &[arg(SCRIPT), RedisParameter::Int64(1), arg(key), arg(value)],
        )
        .map(|_| ())
    }

    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), StoreError> {
        Redis::publish(self, channel, payload)
    }

    fn xadd_capped(
        &self,
        stream: &str,
        max_len: u64,
        field: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let max = i64::try_from(max_len).unwrap_or(i64::MAX);
        self.execute(
            "XADD",
            &[
                arg(stream),
                arg("MAXLEN"),
                arg("~"),
                RedisParameter::Int64(max),
                arg("*"),
                arg(field),
                arg(value),
            ],
        )
        .map(|_| ())
    }

    fn incr_ex(&self, key: &str, ttl_secs: u64) -> Result<i64, StoreError> {
        self.incr_ex_impl(key, ttl_secs)
    }

    fn lpush_capped(&self, key: &str, value: &[u8], max_len: u64) -> Result<(), StoreError> {
        let last = i64::try_from(max_len.max(1) - 1).unwrap_or(i64::MAX);
        self.execute("LPUSH", &[arg(key), arg(value)])?;
        self.execute(
            "LTRIM",
            &[
                arg(key),
                RedisParameter::Int64(0),
                RedisParameter::Int64(last),
            ],
        )
        .map(|_| ())
    }

    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), StoreError> {
        let last = i64::try_from(n.max(1) - 1).unwrap_or(i64::MAX);
        let items = self
            .execute(
                "LRANGE",
                &[
                    arg(key),
                    RedisParameter::Int64(0),
                    RedisParameter::Int64(last),
                ],
            )?
            .into_iter()
            .filter_map(|r| match r {
                RedisResult::Binary(b) => Some(b),
                _ => None,
            })
            .collect();
        let len = match self.execute("LLEN", &[arg(key)])?.first() {
            Some(RedisResult::Int64(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        Ok((items, len))
    }

    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // LRANGE answers an array (empty for an empty list), never nil, which older Spin
        // hosts would drop (LINDEX answers nil there).
        let r = self.execute(
            "LRANGE",
            &[
                arg(key),
                RedisParameter::Int64(-1),
                RedisParameter::Int64(-1),
            ],
        )?;
        Ok(r.into_iter().find_map(|r| match r {
            RedisResult::Binary(b) => Some(b),
            _ => None,
        }))
    }

    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        // A negative count removes from the tail: the oldest equal entry, one only.
        match self
            .execute("LREM", &[arg(key), RedisParameter::Int64(-1), arg(value)])?
            .first()
        {
            Some(RedisResult::Int64(n)) => Ok(*n > 0),
            _ => Err(StoreError::UnexpectedReply { op: "LREM" }),
        }
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.get(key)
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.kv.set(key, value)
    }

    fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv.delete(key)
    }

    fn kv_increment(&self, key: &str) -> Result<i64, StoreError> {
        self.kv.increment(key)
    }

    fn rotate_oldest_if_eq(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        // One script, so the check and the move are atomic; it answers 1 or 0 (never the
        // moved entry or nil, see `set_nx_px`). RPOPLPUSH from a list to itself moves the
        // tail to the head without the entry ever being out of the list.
        const SCRIPT: &str = "if redis.call('LINDEX', KEYS[1], -1) == ARGV[1] then redis.call('RPOPLPUSH', KEYS[1], KEYS[1]) return 1 else return 0 end";
        match self
            .execute(
                "EVAL",
                &[arg(SCRIPT), RedisParameter::Int64(1), arg(key), arg(value)],
            )?
            .first()
        {
            Some(RedisResult::Int64(n)) => Ok(*n == 1),
            _ => Err(StoreError::UnexpectedReply { op: "EVAL" }),
        }
    }
}

impl Redis {
    fn incr_ex_impl(&self, key: &str, ttl_secs: u64) -> Result<i64, StoreError> {
        const SCRIPT: &str = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        match self
            .execute(
                "EVAL",
                &[
                    arg(SCRIPT),
                    RedisParameter::Int64(1),
                    arg(key),
                    RedisParameter::Int64(ttl),
                ],
            )?
            .first()
        {
            Some(RedisResult::Int64(n)) => Ok(*n),
            _ => Err(StoreError::UnexpectedReply { op: "INCR" }),
        }
    }
}
