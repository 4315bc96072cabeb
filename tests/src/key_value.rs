//! Spin's key-value store with its Redis backend (`crates/key-value-redis`), as the
//! components import it: `wasi:keyvalue/store` and `atomics` (`@0.2.0-draft2`).
//!
//! As in Spin: a component may open only the labels its `key_value_stores` lists, and a
//! label must be defined by the runtime config (`[key_value_store.<label>] type = "redis"`,
//! `url = ...`), else the app does not start; each store keeps one connection for the
//! whole app, shared by every instance (no connection per request); every `open` sends a
//! `PING` (Spin's `after_open`); keys are Redis keys as they are; `increment` is `INCRBY`;
//! nothing has a TTL. Compare-and-swap is not offered here (no component uses it).

use crate::host::State;
use crate::spin_impl::wasi::keyvalue::atomics::{self, CasError};
use crate::spin_impl::wasi::keyvalue::store::{self, Error, KeyResponse};
use crate::spin_impl::{REDIS_TIMEOUT, RedisPool, broken};
use anyhow::{Result, bail};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering;
use wasmtime::component::Resource;

/// An open store of one guest: the label and the Redis behind it.
pub struct Bucket {
    url: String,
}

/// A compare-and-swap handle (never made: see the module doc).
pub struct Cas;

/// The app's key-value stores: label to Redis URL, and one shared connection per URL.
#[derive(Default)]
pub struct KeyValueStores {
    urls: HashMap<String, String>,
    pool: RedisPool,
}

impl KeyValueStores {
    pub fn new(urls: HashMap<String, String>) -> Self {
        KeyValueStores {
            urls,
            pool: RedisPool::default(),
        }
    }

    /// Refuses to start an app whose component names a label with no store, as Spin does.
    pub fn check(&self, component: &str, labels: &BTreeSet<String>) -> Result<()> {
        for label in labels {
            if !self.urls.contains_key(label) {
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

impl State {
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

    fn bucket_url(&self, b: &Resource<Bucket>) -> Result<String, Error> {
        self.table
            .get(b)
            .map(|b| b.url.clone())
            .map_err(|e| Error::Other(format!("bad bucket handle: {e}")))
    }
}

impl store::Host for State {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, Error> {
        if !self.kv_labels.contains(&identifier) {
            return Err(Error::AccessDenied);
        }
        let Some(url) = self.kv.urls.get(&identifier).cloned() else {
            return Err(Error::NoSuchStore);
        };
        self.kv::<()>(&url, &redis::cmd("PING")).await?;
        self.table
            .push(Bucket { url })
            .map_err(|e| Error::Other(format!("store table full: {e}")))
    }
}

impl store::HostBucket for State {
    async fn get(&mut self, b: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, Error> {
        let url = self.bucket_url(&b)?;
        self.kv(&url, redis::cmd("GET").arg(key)).await
    }

    async fn set(&mut self, b: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), Error> {
        let url = self.bucket_url(&b)?;
        self.kv(&url, redis::cmd("SET").arg(key).arg(value)).await
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), Error> {
        let url = self.bucket_url(&b)?;
        self.kv::<i64>(&url, redis::cmd("DEL").arg(key))
            .await
            .map(|_| ())
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, Error> {
        let url = self.bucket_url(&b)?;
        self.kv(&url, redis::cmd("EXISTS").arg(key)).await
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Result<KeyResponse, Error> {
        if cursor.is_some() {
            return Err(Error::Other("list_keys: cursor not supported".into()));
        }
        let url = self.bucket_url(&b)?;
        let keys = self.kv(&url, redis::cmd("KEYS").arg("*")).await?;
        Ok(KeyResponse { keys, cursor: None })
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
        let url = self.bucket_url(&b)?;
        self.kv(&url, redis::cmd("INCRBY").arg(key).arg(delta))
            .await
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

fn unsupported() -> Error {
    Error::Other("compare-and-swap is not offered by the test host".into())
}
