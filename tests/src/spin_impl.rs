//! The Spin interfaces our components import, implemented for the test host:
//! `fermyon:spin/variables@2.0.0` and `fermyon:spin/redis@2.0.0` (on the `redis` crate),
//! plus the bindings to call `fermyon:spin/inbound-redis`.

use crate::host::State;
use redis::aio::MultiplexedConnection;
use std::time::Duration;
use wasmtime::component::Resource;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "gcal:service/redis-component",
    imports: { default: async },
    exports: { default: async },
    with: { "fermyon:spin/redis@2.0.0.connection": RedisConnection },
});

pub use fermyon::spin2_0_0::redis::{Error as RedisError, RedisParameter, RedisResult};
use fermyon::spin2_0_0::variables::Error as VariableError;

/// An open outbound Redis connection of one guest.
pub struct RedisConnection(MultiplexedConnection);

/// How long one Redis connect or command may take before the guest gets an error.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

impl fermyon::spin2_0_0::variables::Host for State {
    async fn get(&mut self, name: String) -> Result<String, VariableError> {
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

fn other(e: impl std::fmt::Display) -> RedisError {
    RedisError::Other(e.to_string())
}

async fn timed<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, RedisError> {
    match tokio::time::timeout(REDIS_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.kind() == redis::ErrorKind::TypeError => Err(RedisError::TypeError),
        Ok(Err(e)) => Err(other(e)),
        Err(_) => Err(RedisError::Other("timed out".into())),
    }
}

impl State {
    fn conn(&self, r: &Resource<RedisConnection>) -> Result<MultiplexedConnection, RedisError> {
        self.table
            .get(r)
            .map(|c| c.0.clone())
            .map_err(|e| other(format!("bad connection handle: {e}")))
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
        if !self.allowed.allows_url(&address) {
            self.logs.note(&format!(
                "outbound redis from component `{}` refused: not in allowed_outbound_hosts",
                self.component
            ));
            return Err(RedisError::InvalidAddress);
        }
        let client =
            redis::Client::open(address.as_str()).map_err(|_| RedisError::InvalidAddress)?;
        let conn = timed(client.get_multiplexed_async_connection()).await?;
        self.table
            .push(RedisConnection(conn))
            .map_err(|_| RedisError::TooManyConnections)
    }

    async fn publish(
        &mut self,
        c: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), RedisError> {
        let mut conn = self.conn(&c)?;
        timed(
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<i64>(&mut conn),
        )
        .await
        .map(|_| ())
    }

    async fn get(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Option<Vec<u8>>, RedisError> {
        let mut conn = self.conn(&c)?;
        timed(redis::cmd("GET").arg(key).query_async(&mut conn)).await
    }

    async fn set(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), RedisError> {
        let mut conn = self.conn(&c)?;
        timed(
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .query_async::<()>(&mut conn),
        )
        .await
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> Result<i64, RedisError> {
        let mut conn = self.conn(&c)?;
        timed(redis::cmd("INCR").arg(key).query_async(&mut conn)).await
    }

    async fn del(
        &mut self,
        c: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> Result<u32, RedisError> {
        let mut conn = self.conn(&c)?;
        timed(redis::cmd("DEL").arg(keys).query_async(&mut conn)).await
    }

    async fn sadd(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, RedisError> {
        let mut conn = self.conn(&c)?;
        timed(
            redis::cmd("SADD")
                .arg(key)
                .arg(values)
                .query_async(&mut conn),
        )
        .await
    }

    async fn smembers(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Vec<String>, RedisError> {
        let mut conn = self.conn(&c)?;
        timed(redis::cmd("SMEMBERS").arg(key).query_async(&mut conn)).await
    }

    async fn srem(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, RedisError> {
        let mut conn = self.conn(&c)?;
        timed(
            redis::cmd("SREM")
                .arg(key)
                .arg(values)
                .query_async(&mut conn),
        )
        .await
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, RedisError> {
        let mut conn = self.conn(&c)?;
        let mut cmd = redis::cmd(&command);
        for a in arguments {
            match a {
                RedisParameter::Int64(n) => cmd.arg(n),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value: redis::Value = timed(cmd.query_async(&mut conn)).await?;
        let mut out = Vec::new();
        flatten(value, &mut out);
        Ok(out)
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}
