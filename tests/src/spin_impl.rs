//! The Spin interfaces our components import, implemented for the test host:
//! `fermyon:spin/variables@2.0.0` and `fermyon:spin/redis@2.0.0` (on the `redis` crate),
//! plus the bindings to call `fermyon:spin/inbound-redis` and those of `wasi:keyvalue`
//! (implemented in `key_value`).

use crate::host::State;
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use wasmtime::component::Resource;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "gcal:service/redis-component",
    imports: { default: async },
    exports: { default: async },
    with: {
        "fermyon:spin/redis@2.0.0.connection": RedisConnection,
        "wasi:keyvalue/store@0.2.0-draft2.bucket": crate::key_value::Bucket,
        "wasi:keyvalue/atomics@0.2.0-draft2.cas": crate::key_value::Cas,
    },
});

pub use fermyon::spin2_0_0::redis::{Error as RedisError, RedisParameter, RedisResult};
use fermyon::spin2_0_0::variables::Error as VariableError;

/// An open outbound Redis connection of one guest, as Spin's
/// `factor-outbound-redis` makes it: every `open` connects anew (a TCP connection and the
/// client's handshake), and the connection is closed when the guest drops it or its
/// instance ends (the resource table goes with the `Store`). So a request that opens Redis
/// pays a connection, here as under Spin, and the benchmark counts it.
pub struct RedisConnection {
    conn: MultiplexedConnection,
    /// Drives the connection; aborting it closes the socket.
    driver: JoinHandle<()>,
}

impl Drop for RedisConnection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// One shared multiplexed connection per address, for what Spin shares across instances
/// (its key-value store's Redis backend keeps one `ConnectionManager` per store for the
/// whole app). A connection whose reader task has ended (the server closed it) or whose
/// command failed at the connection level is replaced on the next use.
#[derive(Default)]
pub struct RedisPool {
    conns: tokio::sync::Mutex<HashMap<String, Pooled>>,
    generations: AtomicU64,
}

struct Pooled {
    conn: MultiplexedConnection,
    /// Drives the connection; it ends when the connection breaks.
    driver: JoinHandle<()>,
    generation: u64,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl RedisPool {
    pub(crate) async fn get(
        &self,
        address: &str,
    ) -> Result<(MultiplexedConnection, u64), RedisError> {
        // Held while connecting, so that concurrent guests wait for one connect.
        let mut conns = self.conns.lock().await;
        if let Some(p) = conns.get(address)
            && !p.driver.is_finished()
        {
            return Ok((p.conn.clone(), p.generation));
        }
        conns.remove(address);
        let (conn, driver) = connect(address).await?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        conns.insert(
            address.to_owned(),
            Pooled {
                conn: conn.clone(),
                driver,
                generation,
            },
        );
        Ok((conn, generation))
    }

    /// Forgets the connection a failed command used (if it is still the current one).
    pub(crate) async fn discard(&self, address: &str, generation: u64) {
        let mut conns = self.conns.lock().await;
        if conns
            .get(address)
            .is_some_and(|p| p.generation == generation)
        {
            conns.remove(address);
        }
    }
}

/// A new connection to `address` and the task that drives it.
async fn connect(address: &str) -> Result<(MultiplexedConnection, JoinHandle<()>), RedisError> {
    let client = redis::Client::open(address).map_err(|_| RedisError::InvalidAddress)?;
    let (conn, driver) = timed(client.create_multiplexed_tokio_connection()).await?;
    Ok((conn, tokio::spawn(driver)))
}

/// Whether a failed command means the connection itself is broken.
pub(crate) fn broken<T>(
    result: &Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
) -> bool {
    match result {
        Ok(Ok(_)) => false,
        Ok(Err(e)) => {
            e.is_io_error()
                || e.is_connection_dropped()
                || e.is_unrecoverable_error()
                || e.is_timeout()
        }
        Err(_) => true,
    }
}

/// How long one Redis connect or command may take before the guest gets an error.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

impl fermyon::spin2_0_0::variables::Host for State {
    async fn get(&mut self, name: String) -> Result<String, VariableError> {
        self.counters.variable_reads.fetch_add(1, Ordering::Relaxed);
        if crate::fuel_trace::enabled() {
            self.trace(format!("var.get({name})"));
        }
        // Spin's rule for names: lower-case letters, digits and underscores.
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(VariableError::InvalidName(format!(
                "invalid variable name `{name}`"
            )));
        }
        self.variables.get(&name).cloned().ok_or_else(|| {
            VariableError::Undefined(format!("no variable `{name}` for this component"))
        })
    }
}

impl fermyon::spin2_0_0::redis::Host for State {}
impl fermyon::spin::redis_types::Host for State {}

pub(crate) fn other(e: impl std::fmt::Display) -> RedisError {
    RedisError::Other(e.to_string())
}

async fn timed<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, RedisError> {
    reply(tokio::time::timeout(REDIS_TIMEOUT, fut).await)
}

impl State {
    /// Runs one command on the guest's own connection.
    async fn query<T: redis::FromRedisValue>(
        &mut self,
        r: &Resource<RedisConnection>,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisError> {
        self.trace("redis.cmd");
        let mut conn = self
            .table
            .get(r)
            .map(|c| c.conn.clone())
            .map_err(|e| other(format!("bad connection handle: {e}")))?;
        self.counters.redis_commands.fetch_add(1, Ordering::Relaxed);
        reply(tokio::time::timeout(REDIS_TIMEOUT, cmd.query_async::<T>(&mut conn)).await)
    }
}

/// A command's outcome as the guest sees it.
pub(crate) fn reply<T>(
    result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
) -> Result<T, RedisError> {
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.kind() == redis::ErrorKind::TypeError => Err(RedisError::TypeError),
        Ok(Err(e)) => Err(other(e)),
        Err(_) => Err(RedisError::Other("timed out".into())),
    }
}

/// Spin's mapping of a reply to `list<redis-result>`: arrays are flattened.
fn flatten(v: redis::Value, out: &mut Vec<RedisResult>) {
    use redis::Value as V;
    match v {
        V::Nil => out.push(RedisResult::Nil),
        V::Int(n) => out.push(RedisResult::Int64(n)),
        V::BulkString(b) => out.push(RedisResult::Binary(b)),
        V::SimpleString(s) => out.push(RedisResult::Status(s)),
        V::Okay => out.push(RedisResult::Status("OK".into())),
        V::Array(items) | V::Set(items) => items.into_iter().for_each(|i| flatten(i, out)),
        V::Map(pairs) => pairs.into_iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        V::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        V::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        V::VerbatimString { text, .. } => out.push(RedisResult::Binary(text.into_bytes())),
        V::BigNumber(n) => out.push(RedisResult::Binary(n.to_string().into_bytes())),
        V::Attribute { data, .. } => flatten(*data, out),
        V::Push { data, .. } => data.into_iter().for_each(|i| flatten(i, out)),
        V::ServerError(e) => out.push(RedisResult::Status(format!("ERR {e:?}"))),
    }
}

impl fermyon::spin2_0_0::redis::HostConnection for State {
    async fn open(&mut self, address: String) -> Result<Resource<RedisConnection>, RedisError> {
        self.trace("redis.open");
        if !self.allowed.allows_url(&address) {
            self.logs.note(&format!(
                "outbound redis from component `{}` refused: not in allowed_outbound_hosts",
                self.component
            ));
            return Err(RedisError::InvalidAddress);
        }
        let (conn, driver) = connect(&address).await?;
        self.counters
            .redis_connections
            .fetch_add(1, Ordering::Relaxed);
        self.table
            .push(RedisConnection { conn, driver })
            .map_err(|_| RedisError::TooManyConnections)
    }

    async fn publish(
        &mut self,
        c: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), RedisError> {
        let cmd = redis::cmd("PUBLISH").arg(channel).arg(payload).clone();
        self.query::<i64>(&c, &cmd).await.map(|_| ())
    }

    async fn get(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Option<Vec<u8>>, RedisError> {
        self.query(&c, redis::cmd("GET").arg(key)).await
    }

    async fn set(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), RedisError> {
        self.query::<()>(&c, redis::cmd("SET").arg(key).arg(value))
            .await
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> Result<i64, RedisError> {
        self.query(&c, redis::cmd("INCR").arg(key)).await
    }

    async fn del(
        &mut self,
        c: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> Result<u32, RedisError> {
        self.query(&c, redis::cmd("DEL").arg(keys)).await
    }

    async fn sadd(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, RedisError> {
        self.query(&c, redis::cmd("SADD").arg(key).arg(values))
            .await
    }

    async fn smembers(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Vec<String>, RedisError> {
        self.query(&c, redis::cmd("SMEMBERS").arg(key)).await
    }

    async fn srem(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, RedisError> {
        self.query(&c, redis::cmd("SREM").arg(key).arg(values))
            .await
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, RedisError> {
        let mut cmd = redis::cmd(&command);
        for a in arguments {
            match a {
                RedisParameter::Int64(n) => cmd.arg(n),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: redis::Value = self.query(&c, &cmd).await?;
        let mut out = Vec::new();
        flatten(value, &mut out);
        Ok(out)
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
