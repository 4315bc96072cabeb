//! The events component: `/events/...` and `/webhooks/google`.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::api_auth::authorize;
use gcal_core::calendar;
use gcal_core::ids::UserId;
use gcal_core::problem::Problem;
use gcal_core::request_id::RequestId;
use gcal_core::response::{self, Response};
use gcal_core::route::{decode_segment, method_not_allowed, not_found, require_json, segments};
use gcal_core::spin::{Redis, Request, SpinHttp, SpinVariables, serve, user_scoped};
use gcal_core::tokens::Services;
use gcal_core::{updates, watch};
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
    // Google's push: no API token; the channel token is checked instead.
    if segs.as_slice() == ["webhooks", "google"] {
        if method != "POST" {
            return Err(method_not_allowed());
        }
        let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let push = watch::Push {
            channel_id: h("x-goog-channel-id"),
            token: h("x-goog-channel-token"),
            resource_id: h("x-goog-resource-id"),
            resource_state: h("x-goog-resource-state"),
        };
        watch::push(vars, &Redis::from_vars(vars)?, &push)?;
        return Ok(response::json(
            200,
            &serde_json::json!({"status": "accepted"}),
            &rid,
        ));
    }
    authorize(vars, &req)?;
    if let ["admin", "dlq", rest @ ..] = segs.as_slice() {
        let redis = Redis::from_vars(vars)?;
        let svc = Services {
            vars,
            http: &SpinHttp,
            store: &redis,
        };
        return match (method.as_str(), rest) {
            ("GET", []) => Ok(response::json(
                200,
                &updates::dead_letters(&redis, 100)?,
                &rid,
            )),
            ("POST", ["replay"]) => Ok(response::json(
                200,
                &updates::replay(&svc, 1000).await?,
                &rid,
            )),
            _ => Err(not_found()),
        };
    }
    let ["events", user, rest @ ..] = segs.as_slice() else {
        return Err(not_found());
    };
    user_scoped(&req, &rid, user, async |svc, user| {
        events_route(svc, user, &req, &rid, &method, &query, rest).await
    })
    .await
}

/// The routes under `/events/{user_id}`, inside the user-scoped frame.
async fn events_route(
    svc: &Services<'_, SpinHttp>,
    user: &UserId,
    req: &Request,
    rid: &RequestId,
    method: &str,
    query: &str,
    rest: &[&str],
) -> Result<Response, Problem> {
    let body = req.body();
    match (method, rest) {
        ("GET", []) => Ok(response::json(
            200,
            &calendar::list(svc, user, query).await?,
            rid,
        )),
        ("POST", []) => {
            require_json(req)?;
            // A header that is not text is refused by the key check, not ignored.
            let key = req
                .headers()
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap_or("\u{0}"));
            let (status, event) = calendar::create(svc, user, body, key).await?;
            Ok(response::json(status, &event, rid))
        }
        ("POST", ["watch"]) => {
            let calendar = calendar::calendar_param(query)?;
            let (status, channel) = watch::start(svc, user, &calendar).await?;
            Ok(response::json(status, &channel, rid))
        }
        ("DELETE", ["watch"]) => {
            watch::stop(svc, user, &calendar::calendar_param(query)?).await?;
            Ok(response::no_content(rid))
        }
        ("GET", [id]) => {
            let event = calendar::get(svc, user, &decode_segment(id)?, query).await?;
            Ok(response::json(200, &event, rid))
        }
        ("PATCH", [id]) => {
            require_json(req)?;
            let event = calendar::patch(svc, user, &decode_segment(id)?, query, body).await?;
            Ok(response::json(200, &event, rid))
        }
        ("DELETE", [id]) => {
            calendar::delete(svc, user, &decode_segment(id)?, query).await?;
            Ok(response::no_content(rid))
        }
        (_, [] | [_]) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}
