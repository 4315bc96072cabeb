//! Spin's key-value store with its Redis backend (`crates/key-value-redis`), as the
//! components import it: `wasi:keyvalue/store` and `atomics` (`@0.2.0-draft2`).
//!
//! As in Spin: a component may open only the labels its `key_value_stores` lists; a label
//! other than `default` must be defined by the runtime config
//! (`[key_value_store.<label>] type = "redis"`, `url = ...`), else the app does not start;
//! `default` without a definition is a store of the host's own (Spin's is a local SQLite
//! file; here it is in memory, shared by the host's instances). A Redis store keeps one
//! connection for the whole app, shared by every instance (no connection per request);
//! every `open` sends a `PING` (Spin's `after_open`); keys are Redis keys as they are;
//! `increment` is `INCRBY`; nothing has a TTL. Compare-and-swap is not offered here (no
//! component uses it).

use crate::host::State;
use crate::spin_impl::wasi::keyvalue::atomics::{self, CasError};
use crate::spin_impl::wasi::keyvalue::store::{self, Error, KeyResponse};
use crate::spin_impl::{REDIS_TIMEOUT, RedisPool, broken};
use anyhow::{Result, bail};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering;
use wasmtime::component::Resource;

/// An open store of one guest: the Redis behind it, or the host's own.
pub struct Bucket {
    url: Option<String>,
}

/// The label every Spin defines.
const DEFAULT: &str = "default";

/// A compare-and-swap handle (never made: see the module doc).
pub struct Cas;

/// The app's key-value stores: label to Redis URL, and one shared connection per URL.
#[derive(Default)]
pub struct KeyValueStores {
    urls: HashMap<String, String>,
    pool: RedisPool,
    /// `default` when the runtime config does not define it.
    local: std::sync::Mutex<HashMap<String, Vec<u8>>>,
}

impl KeyValueStores {
    pub fn new(urls: HashMap<String, String>) -> Self {
        KeyValueStores {
            urls,
            pool: RedisPool::default(),
            local: Default::default(),
        }
    }

    /// Refuses to start an app whose component names a label with no store, as Spin does.
    pub fn check(&self, component: &str, labels: &BTreeSet<String>) -> Result<()> {
        for label in labels {
            if label != DEFAULT && !self.urls.contains_key(label) {
                bail!(
                    "component `{component}` uses key-value store `{label}`, which the runtime \
                     config does not define (add `[key_value_store.{label}]` with `type = \"redis\"` \
                     and `url`)"
                );
            }
        }
        Ok(())
    }
}

/// The `[key_value_store.<label>]` tables of a Spin runtime config file: Redis stores only
/// (`type = "redis"`, `url`); any other type is an error here.
pub fn from_runtime_config(path: &Path) -> Result<HashMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(default)]
        key_value_store: HashMap<String, RawStore>,
    }
    #[derive(serde::Deserialize)]
    struct RawStore {
        r#type: String,
        url: Option<String>,
    }
    let text = std::fs::read_to_string(path)?;
    let raw: Raw = toml::from_str(&text)?;
    let mut urls = HashMap::new();
    for (label, s) in raw.key_value_store {
        match (s.r#type.as_str(), s.url) {
            ("redis", Some(url)) => urls.insert(label, url),
            ("redis", None) => bail!("key_value_store.{label}: a redis store needs `url`"),
            (other, _) => bail!("key_value_store.{label}: type `{other}` is not supported here"),
        };
    }
    Ok(urls)
}

/// What a guest asks of a store.
enum Op {
    Get(String),
    Set(String, Vec<u8>),
    Delete(String),
    Exists(String),
    Keys,
    Increment(String, i64),
}

/// What a store answers.
enum Answer {
    Value(Option<Vec<u8>>),
    Done,
    Bool(bool),
    Keys(Vec<String>),
    Count(i64),
}

impl State {
    /// One operation on the guest's open store.
    async fn kv_op(&mut self, b: &Resource<Bucket>, op: Op) -> Result<Answer, Error> {
        self.trace(match &op {
            Op::Get(_) => "kv.get",
            Op::Set(..) => "kv.set",
            Op::Delete(_) => "kv.delete",
            Op::Exists(_) => "kv.exists",
            Op::Keys => "kv.keys",
            Op::Increment(..) => "kv.increment",
        });
        let url = self
            .table
            .get(b)
            .map(|b| b.url.clone())
            .map_err(|e| Error::Other(format!("bad bucket handle: {e}")))?;
        let Some(url) = url else {
            return self.local_op(op);
        };
        Ok(match op {
            Op::Get(k) => Answer::Value(self.kv(&url, redis::cmd("GET").arg(k)).await?),
            Op::Set(k, v) => {
                self.kv::<()>(&url, redis::cmd("SET").arg(k).arg(v)).await?;
                Answer::Done
            }
            Op::Delete(k) => {
                self.kv::<i64>(&url, redis::cmd("DEL").arg(k)).await?;
                Answer::Done
            }
            Op::Exists(k) => Answer::Bool(self.kv(&url, redis::cmd("EXISTS").arg(k)).await?),
            Op::Keys => Answer::Keys(self.kv(&url, redis::cmd("KEYS").arg("*")).await?),
            Op::Increment(k, d) => {
                Answer::Count(self.kv(&url, redis::cmd("INCRBY").arg(k).arg(d)).await?)
            }
        })
    }

    /// The host's own `default` store.
    fn local_op(&mut self, op: Op) -> Result<Answer, Error> {
        self.counters.kv_commands.fetch_add(1, Ordering::Relaxed);
        let mut m = self.kv.local.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match op {
            Op::Get(k) => Answer::Value(m.get(&k).cloned()),
            Op::Set(k, v) => {
                m.insert(k, v);
                Answer::Done
            }
            Op::Delete(k) => {
                m.remove(&k);
                Answer::Done
            }
            Op::Exists(k) => Answer::Bool(m.contains_key(&k)),
            Op::Keys => Answer::Keys(m.keys().cloned().collect()),
            Op::Increment(k, d) => {
                let now = m
                    .get(&k)
                    .map(|v| String::from_utf8_lossy(v).parse::<i64>())
                    .transpose()
                    .map_err(|_| Error::Other("value is not an integer".into()))?
                    .unwrap_or(0)
                    + d;
                m.insert(k, now.to_string().into_bytes());
                Answer::Count(now)
            }
        })
    }

    /// One command on the store's shared connection; a broken connection is replaced on
    /// the next use.
    async fn kv<T: redis::FromRedisValue>(
        &mut self,
        url: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, Error> {
        let (mut conn, generation) = self
            .kv
            .pool
            .get(url)
            .await
            .map_err(|e| Error::Other(format!("{e:?}")))?;
        self.counters.kv_commands.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(REDIS_TIMEOUT, cmd.query_async::<T>(&mut conn)).await;
        if broken(&result) {
            self.kv.pool.discard(url, generation).await;
        }
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Error::Other(e.to_string())),
            Err(_) => Err(Error::Other("timed out".into())),
        }
    }
}

impl store::Host for State {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, Error> {
        self.trace("kv.open");
        if !self.kv_labels.contains(&identifier) {
            return Err(Error::AccessDenied);
        }
        let url = self.kv.urls.get(&identifier).cloned();
        match &url {
            Some(url) => self.kv::<()>(url, &redis::cmd("PING")).await?,
            None if identifier == DEFAULT => {}
            None => return Err(Error::NoSuchStore),
        }
        self.table
            .push(Bucket { url })
            .map_err(|e| Error::Other(format!("store table full: {e}")))
    }
}

impl store::HostBucket for State {
    async fn get(&mut self, b: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, Error> {
        match self.kv_op(&b, Op::Get(key)).await? {
            Answer::Value(v) => Ok(v),
            _ => Err(unexpected()),
        }
    }

    async fn set(&mut self, b: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.kv_op(&b, Op::Set(key, value)).await.map(|_| ())
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), Error> {
        self.kv_op(&b, Op::Delete(key)).await.map(|_| ())
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, Error> {
        match self.kv_op(&b, Op::Exists(key)).await? {
            Answer::Bool(v) => Ok(v),
            _ => Err(unexpected()),
        }
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Result<KeyResponse, Error> {
        if cursor.is_some() {
            return Err(Error::Other("list_keys: cursor not supported".into()));
        }
        match self.kv_op(&b, Op::Keys).await? {
            Answer::Keys(keys) => Ok(KeyResponse { keys, cursor: None }),
            _ => Err(unexpected()),
        }
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for State {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, Error> {
        match self.kv_op(&b, Op::Increment(key, delta)).await? {
            Answer::Count(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }

    async fn swap(&mut self, _cas: Resource<Cas>, _value: Vec<u8>) -> Result<(), CasError> {
        Err(CasError::StoreError(unsupported()))
    }
}

impl atomics::HostCas for State {
    async fn new(&mut self, _b: Resource<Bucket>, _key: String) -> Result<Resource<Cas>, Error> {
        Err(unsupported())
    }

    async fn current(&mut self, _cas: Resource<Cas>) -> Result<Option<Vec<u8>>, Error> {
        Err(unsupported())
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

fn unexpected() -> Error {
    Error::Other("unexpected answer of the store".into())
}

fn unsupported() -> Error {
    Error::Other("compare-and-swap is not offered by the test host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_other_than_default_needs_the_runtime_config() {
        let none = KeyValueStores::new(HashMap::new());
        let labels = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert!(none.check("c", &labels(&["default"])).is_ok());
        let err = none.check("c", &labels(&["default", "cache"])).unwrap_err();
        assert!(err.to_string().contains("key-value store `cache`"), "{err}");
        let cfg = KeyValueStores::new([("cache".into(), "redis://x".into())].into());
        assert!(cfg.check("c", &labels(&["cache"])).is_ok());
    }
}
