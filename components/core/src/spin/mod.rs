//! The seam to Spin: variables, outbound Redis and HTTP, timers, and the entry points
//! of the components. Only this module touches `spin-sdk`, so everything else builds and
//! tests on the host.

mod kv;
mod outbound;
mod redis;
mod stream;
mod variables;

pub use outbound::SpinHttp;
pub use redis::Redis;
pub use variables::SpinVariables;

use crate::http::problem::{Code, Problem};
use crate::http::request::{MAX_BODY_BYTES, Request};
use crate::http::response::Response;
use crate::http::router::Router;
use crate::http::serve::Head;
use crate::services::Runtime;
use futures::TryStreamExt;
use spin_sdk::http::IncomingRequest;

/// A component's HTTP entry point: Spin's HTTP trigger calls `handle`, which serves the
/// route table `$routes()` (a `fn() -> Router<SpinRuntime>`). The one place the HTTP
/// components meet `#[http_component]`.
#[macro_export]
macro_rules! http_entry {
    ($routes:path) => {
        #[::spin_sdk::http_component]
        async fn handle(req: ::spin_sdk::http::IncomingRequest) -> $crate::Response {
            $crate::serve(req, &$routes()).await
        }
    };
}

/// Spin as the runtime: its variables, outbound HTTP and Redis.
pub struct SpinRuntime;

impl Runtime for SpinRuntime {
    type Http = SpinHttp;
    type Redis = Redis;

    fn vars(&self) -> &dyn crate::config::Variables {
        &SpinVariables
    }

    fn http(&self) -> &SpinHttp {
        &SpinHttp
    }

    fn connect(&self, address: &str) -> Result<Redis, crate::store::StoreError> {
        Redis::open(address)
    }
}

/// The HTTP entry point of a component: its route table over Spin.
pub async fn serve(incoming: IncomingRequest, router: &Router<SpinRuntime>) -> Response {
    let header = |name: &str| {
        incoming
            .headers()
            .get(name)
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
    };
    let head = Head {
        method: incoming.method().to_string(),
        path_and_query: incoming.path_with_query().unwrap_or_else(|| "/".to_owned()),
        request_id: header("x-request-id"),
        matched_route: header("spin-matched-route"),
        origin: header("origin"),
        preflight_method: header("access-control-request-method"),
    };
    crate::http::serve::serve_on(&SpinRuntime, head, read(incoming), router).await
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
