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
use crate::http::request::{MAX_BODY_BYTES, Request, header_str, request_headers};
use crate::http::response::Response;
use crate::http::router::Router;
use crate::http::serve::Head;
use crate::services::Runtime;
use futures::TryStreamExt;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// A component's HTTP entry point: Spin's HTTP trigger calls `handle`, which serves the
/// route table `$routes()` (a `fn() -> Router<SpinRuntime>`). The one place the HTTP
/// components meet `#[http_component]`.
#[macro_export]
macro_rules! http_entry {
    ($routes:path) => {
        #[::spin_sdk::http_component]
        async fn handle(
            req: ::spin_sdk::http::IncomingRequest,
            out: ::spin_sdk::http::ResponseOutparam,
        ) {
            $crate::respond($crate::serve(req, &$routes()).await, out)
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

    fn connect_configured(
        &self,
        _: &crate::config::Config<'_>,
    ) -> Result<Redis, crate::store::StoreError> {
        // The configuration reads Spin's variables, as `Redis` does at its first command.
        Ok(Redis::configured())
    }
}

/// The HTTP entry point of a component: its route table over Spin. The headers are read
/// from Spin once, for the head and the request both.
pub async fn serve(incoming: IncomingRequest, router: &Router<SpinRuntime>) -> Response {
    let method = method_of(incoming.method());
    let path_and_query = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
    let (map, matched_route) = match request_headers(incoming.headers().entries()) {
        Some((map, route)) => (Some(map), route),
        None => (None, None),
    };
    let header = |name: &str| {
        map.as_ref()
            .and_then(|m| header_str(m, name))
            .map(str::to_owned)
    };
    let head = Head {
        request_id: header("x-request-id"),
        matched_route,
        origin: header("origin"),
        preflight_method: header("access-control-request-method"),
        // An unusable method is refused with the head (`read`); its line says `UNKNOWN`.
        method: method
            .clone()
            .unwrap_or_else(|| http::Method::from_bytes(b"UNKNOWN").unwrap_or_default()),
        path_and_query: path_and_query.clone(),
    };
    let body = read(incoming, method, path_and_query, map);
    crate::http::serve::serve_on(&SpinRuntime, head, body, router).await
}

/// Spin's method as `http`'s; `None` for a method `http` refuses.
fn method_of(m: spin_sdk::http::Method) -> Option<http::Method> {
    use spin_sdk::http::Method as M;
    Some(match m {
        M::Get => http::Method::GET,
        M::Post => http::Method::POST,
        M::Put => http::Method::PUT,
        M::Delete => http::Method::DELETE,
        M::Patch => http::Method::PATCH,
        M::Head => http::Method::HEAD,
        M::Options => http::Method::OPTIONS,
        M::Connect => http::Method::CONNECT,
        M::Trace => http::Method::TRACE,
        M::Other(o) => return http::Method::from_bytes(o.as_bytes()).ok(),
    })
}

/// Hands the answer to Spin: its headers as one list, then the body in writes of at most
/// 4096 bytes (what `blocking-write-and-flush` takes), straight from our response type.
pub fn respond(resp: Response, out: ResponseOutparam) {
    let (parts, body) = resp.into_parts();
    let Some(fields) = fields(&parts.headers) else {
        return fail(out, "response headers");
    };
    let outgoing = OutgoingResponse::new(fields);
    if outgoing.set_status_code(parts.status.as_u16()).is_err() {
        return fail(out, "response status");
    }
    let Ok(outgoing_body) = outgoing.body() else {
        return fail(out, "response body");
    };
    out.set(outgoing);
    if let Ok(stream) = outgoing_body.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                // The client went away: nothing more to send, and no one to tell.
                return;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
}

/// WASI's fields of a header map, as one list (one host call). `None` if WASI refuses one
/// (our headers are valid `http` names and values, which it accepts, except the few it
/// forbids on a request, e.g. `connection`, which we never send).
fn fields(headers: &http::HeaderMap) -> Option<Fields> {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Fields::from_list(&list).ok()
}

/// An answer Spin refused to take: a bare 500, which our own answers never need.
fn fail(out: ResponseOutparam, what: &str) {
    eprintln!("could not hand the answer to Spin: {what}");
    let outgoing = OutgoingResponse::new(Fields::new());
    let _ = outgoing.set_status_code(500);
    out.set(outgoing);
}

async fn read(
    incoming: IncomingRequest,
    method: Option<http::Method>,
    path_and_query: String,
    headers: Option<http::HeaderMap>,
) -> Result<Request, Problem> {
    let invalid =
        |what: &str| Problem::new(Code::InvalidRequest, format!("malformed request: {what}"));
    let (Some(method), Some(headers)) = (method, headers) else {
        return Err(invalid("head"));
    };
    let declared =
        header_str(&headers, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream.try_next().await.map_err(|_| invalid("body"))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = http::Uri::try_from(path_and_query).map_err(|_| invalid("head"))?;
    *req.headers_mut() = headers;
    Ok(req)
}

fn too_large() -> Problem {
    Problem::new(
        Code::PayloadTooLarge,
        format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
    )
}
