//! The seam to Spin: variables, outbound Redis and the HTTP entry point. Only this module
//! touches `spin-sdk`, so everything else builds and tests on the host.

use crate::config::{ConfigError, Variables};
use crate::log::{self, Level};
use crate::problem::{Code, Problem};
use crate::request_id::RequestId;
use crate::response::{self, Response};
use crate::route::MAX_BODY_BYTES;
use futures::TryStreamExt;
use serde_json::Value;
use spin_sdk::http::IncomingRequest;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

/// Spin's `fermyon:spin/variables`: values resolved from the manifest and the provider.
pub struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        use spin_sdk::variables::Error;
        match spin_sdk::variables::get(name) {
            Ok(v) => Ok(Some(v)),
            Err(Error::Undefined(_)) | Err(Error::InvalidName(_)) => Ok(None),
            Err(Error::Provider(_)) | Err(Error::Other(_)) => {
                Err(ConfigError::Provider(name.to_owned()))
            }
        }
    }
}

/// The request as the route tables see it: method, raw path, query, headers, body.
pub type Request = http::Request<Vec<u8>>;

/// The HTTP entry point shared by every component: reads the request (bounded), assigns
/// the request id, runs the route table, turns errors into problems and logs one line.
pub async fn serve<F, Fut>(incoming: IncomingRequest, routes: F) -> Response
where
    F: FnOnce(Request, RequestId) -> Fut,
    Fut: std::future::Future<Output = Result<Response, Problem>>,
{
    let header = |name: &str| {
        incoming
            .headers()
            .get(name)
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
    };
    let rid = RequestId::from_header(header("x-request-id").as_deref());
    let method = incoming.method().to_string();
    let path_and_query = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query.as_str(), |(p, _)| p)
        .to_owned();
    let result = match read(incoming).await {
        Ok(req) => routes(req, rid.clone()).await,
        Err(p) => Err(p),
    };
    let resp = response::finish(result, &rid);
    log::emit(
        Level::Info,
        "request",
        &[
            ("request_id", Value::from(rid.as_str())),
            ("method", Value::from(method)),
            ("path", Value::from(path)),
            ("status", Value::from(resp.status().as_u16())),
        ],
    );
    resp
}

async fn read(incoming: IncomingRequest) -> Result<Request, Problem> {
    let invalid =
        |what: &str| Problem::new(Code::InvalidRequest, format!("malformed request: {what}"));
    let mut builder = http::Request::builder()
        .method(incoming.method().to_string().as_str())
        .uri(incoming.path_with_query().unwrap_or_else(|| "/".to_owned()));
    for (name, value) in incoming.headers().entries() {
        builder = builder.header(name, value);
    }
    let declared = incoming
        .headers()
        .get("content-length")
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream.try_next().await.map_err(|_| invalid("body"))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|_| invalid("head"))
}

fn too_large() -> Problem {
    Problem::new(
        Code::PayloadTooLarge,
        format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
    )
}

/// Outbound Redis through Spin. Every failure is a `redis_unavailable` problem: the detail
/// names the operation, never the address (it may carry a password).
pub struct Redis(Connection);

impl Redis {
    pub fn open(address: &str) -> Result<Self, Problem> {
        Connection::open(address)
            .map(Redis)
            .map_err(|e| unavailable("connect", &e))
    }

    pub fn execute(
        &self,
        command: &str,
        args: &[RedisParameter],
    ) -> Result<Vec<RedisResult>, Problem> {
        self.0
            .execute(command, args)
            .map_err(|e| unavailable(command, &e))
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        self.0.get(key).map_err(|e| unavailable("GET", &e))
    }

    pub fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), Problem> {
        self.0
            .publish(channel, payload)
            .map_err(|e| unavailable("PUBLISH", &e))
    }
}

fn unavailable(op: &str, e: &spin_sdk::redis::Error) -> Problem {
    use spin_sdk::redis::Error;
    let why = match e {
        Error::InvalidAddress => "invalid address",
        Error::TooManyConnections => "too many connections",
        Error::TypeError => "unexpected value type",
        Error::Other(_) => "request failed",
    };
    Problem::new(Code::RedisUnavailable, format!("redis {op}: {why}"))
}

/// A byte-string argument for [`Redis::execute`].
pub fn arg(value: impl AsRef<[u8]>) -> RedisParameter {
    RedisParameter::Binary(value.as_ref().to_vec())
}
