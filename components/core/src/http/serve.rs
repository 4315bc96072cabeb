//! The HTTP entry point shared by every component: the request id, CORS and preflights,
//! the route table, problems turned into answers, and one log line per request.

use super::cors::Cors;
use super::guard::Ctx;
use super::problem::Problem;
use super::request::Request;
use super::request_id::RequestId;
use super::response::{self, Response};
use super::router::Router;
use crate::config::Config;
use crate::log::{self, Level};
use crate::services::Runtime;
use std::future::Future;

/// What the entry needs from the request before its body is read.
pub struct Head {
    pub method: http::Method,
    pub path_and_query: String,
    pub request_id: Option<String>,
    /// Spin's `spin-matched-route`, for the log line.
    pub matched_route: Option<String>,
    pub origin: Option<String>,
    /// `Access-Control-Request-Method`: set on a CORS preflight.
    pub preflight_method: Option<String>,
}

/// Serves one request: `body` reads it (bounded) unless it is a preflight.
pub async fn serve_on<R: Runtime>(
    rt: &R,
    head: Head,
    body: impl Future<Output = Result<Request, Problem>>,
    router: &Router<R>,
) -> Response {
    let rid = RequestId::from_header(head.request_id.as_deref());
    let started = std::time::Instant::now();
    let cfg = Config::new(rt.vars());
    log::set_level(cfg.log_level());
    let _ = log::take_context();
    // CORS concerns requests with an `Origin` only (a browser sends one with every CORS
    // request and preflight); without one its variable is not even read (a host call).
    let cors = Cors::parse(
        head.origin
            .as_ref()
            .and_then(|_| cfg.cors_allowed_origins())
            .as_deref(),
    );
    let preflight = Cors::is_preflight(head.method.as_str(), head.preflight_method.as_deref());
    let result = if preflight {
        // Preflights carry no credentials: answered here, before any route.
        Ok(response::no_content(&rid))
    } else {
        match body.await {
            Ok(req) => router.dispatch(Ctx::new(rt, &cfg, &req, &rid)).await,
            Err(p) => Err(p),
        }
    };
    let mut resp = response::finish(result, &rid);
    cors.apply(&mut resp, head.origin.as_deref(), preflight);
    log_line(&head, &rid, resp.status().as_u16(), started);
    resp
}

/// The request's line: its fields in this order, serialised from their types.
#[derive(serde::Serialize)]
struct RequestLine<'a> {
    request_id: &'a str,
    method: &'a str,
    route: &'a str,
    path: &'a str,
    status: u16,
    code: Option<&'static str>,
    duration_ms: f64,
    user_id: Option<&'a str>,
    upstream: &'a [log::Upstream],
}

fn log_line(head: &Head, rid: &RequestId, status: u16, started: std::time::Instant) {
    let ctx = log::take_context();
    let level = if status >= 500 {
        Level::Error
    } else if status >= 400 {
        Level::Warn
    } else {
        Level::Info
    };
    let path = head
        .path_and_query
        .split_once('?')
        .map_or(head.path_and_query.as_str(), |(p, _)| p);
    log::emit_record(
        level,
        "request",
        &RequestLine {
            request_id: rid.as_str(),
            method: head.method.as_str(),
            route: head.matched_route.as_deref().unwrap_or_default(),
            path,
            status,
            code: ctx.code,
            duration_ms: log::round(started.elapsed().as_secs_f64() * 1000.0),
            user_id: ctx.user_id.as_deref(),
            upstream: &ctx.upstream,
        },
    );
}
