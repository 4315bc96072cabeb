//! The events component: `/events/...` and `/webhooks/google`.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::api_auth::authorize;
use gcal_core::calendar;
use gcal_core::ids::UserId;
use gcal_core::problem::Problem;
use gcal_core::ratelimit;
use gcal_core::request_id::RequestId;
use gcal_core::response::{self, Response};
use gcal_core::route::{decode_segment, method_not_allowed, not_found, require_json, segments};
use gcal_core::spin::{Redis, Request, SpinHttp, SpinVariables, serve};
use gcal_core::tokens::Services;
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, route).await
}

async fn route(req: Request, rid: RequestId) -> Result<Response, Problem> {
    let vars = &SpinVariables;
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().as_str().to_owned();
    let segs = segments(&path);
    authorize(vars, &req)?;
    let ["events", user, rest @ ..] = segs.as_slice() else {
        return Err(not_found());
    };
    let user = UserId::from_path_segment(user)?;
    let redis = Redis::from_vars(vars)?;
    // Every user-scoped answer carries the budget; past it, nothing else runs.
    let budget = match ratelimit::check(vars, &redis, &user) {
        Ok(b) => b,
        Err((p, b)) => {
            let mut r = response::problem(&p, &rid);
            ratelimit::headers(&mut r, b);
            return Ok(r);
        }
    };
    let svc = Services {
        vars,
        http: &SpinHttp,
        store: &redis,
    };
    let body = req.body();
    let result = match (method.as_str(), rest) {
        ("GET", []) => calendar::list(&svc, &user, &query)
            .await
            .map(|v| response::json(200, &v, &rid)),
        ("POST", []) => match require_json(&req) {
            Ok(()) => {
                let key = req
                    .headers()
                    .get("idempotency-key")
                    .map(|v| v.to_str().unwrap_or("\u{0}"));
                calendar::create(&svc, &user, body, key)
                    .await
                    .map(|(status, v)| response::json(status, &v, &rid))
            }
            Err(p) => Err(p),
        },
        ("GET", [id]) => calendar::get(&svc, &user, &decode_segment(id)?, &query)
            .await
            .map(|v| response::json(200, &v, &rid)),
        ("PATCH", [id]) => match require_json(&req) {
            Ok(()) => calendar::patch(&svc, &user, &decode_segment(id)?, &query, body)
                .await
                .map(|v| response::json(200, &v, &rid)),
            Err(p) => Err(p),
        },
        ("DELETE", [id]) => calendar::delete(&svc, &user, &decode_segment(id)?, &query)
            .await
            .map(|()| response::no_content(&rid)),
        (_, [] | [_]) => Err(method_not_allowed()),
        _ => Err(not_found()),
    };
    let mut resp = response::finish(result, &rid);
    ratelimit::headers(&mut resp, budget);
    Ok(resp)
}
