//! The auth component: `/auth/...`. Every route but the browser callback needs an API token.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::api_auth::authorize;
use gcal_core::auth::{self, CallbackParams};
use gcal_core::problem::{Code, Problem};
use gcal_core::request_id::RequestId;
use gcal_core::response::{self, Response};
use gcal_core::route::{not_found, segments};
use gcal_core::spin::{Redis, Request, SpinHttp, SpinVariables, serve, user_scoped};
use gcal_core::tokens::Services;
use gcal_core::{config, log, page, redirect};
use serde_json::json;
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, route).await
}

async fn route(req: Request, rid: RequestId) -> Result<Response, Problem> {
    let vars = &SpinVariables;
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    match (method.as_str(), segments(&path).as_slice()) {
        // The browser, redirected by Google: no API token, the state authenticates.
        ("GET", ["auth", "callback"]) => {
            let params = CallbackParams::from_query(req.uri().query().unwrap_or(""));
            let accept = req.headers().get("accept").and_then(|v| v.to_str().ok());
            browser_callback(params, page::prefers_html(accept), &rid).await
        }
        ("POST", ["auth", "callback"]) => {
            authorize(vars, &req)?;
            let params: CallbackParams = serde_json::from_slice(req.body()).map_err(|_| {
                Problem::new(
                    Code::InvalidRequest,
                    "body must be JSON {\"code\", \"state\"}",
                )
            })?;
            let (user, scopes) =
                auth::callback(&services(&Redis::from_vars(vars)?), params).await?;
            Ok(authorized(&user, &scopes, &rid))
        }
        ("GET", ["auth", "url", rest @ ..]) => {
            user_scoped(&req, &rid, &rest.join("/"), async |svc, user| {
                Ok(response::json(200, &auth::begin(svc, user).await?, &rid))
            })
            .await
        }
        ("GET", ["auth", "status", rest @ ..]) => {
            user_scoped(&req, &rid, &rest.join("/"), async |svc, user| {
                Ok(response::json(200, &auth::status(svc, user).await?, &rid))
            })
            .await
        }
        // `DELETE /auth/` (an empty user id) is an invalid user id, not an unknown route.
        ("DELETE", ["auth", rest @ ..]) => {
            user_scoped(&req, &rid, &rest.join("/"), async |svc, user| {
                auth::revoke(svc, user).await?;
                Ok(response::no_content(&rid))
            })
            .await
        }
        _ => {
            authorize(vars, &req)?;
            Err(not_found())
        }
    }
}

fn services(redis: &Redis) -> Services<'_, SpinHttp> {
    Services {
        vars: &SpinVariables,
        http: &SpinHttp,
        store: redis,
    }
}

fn authorized(user: &gcal_core::ids::UserId, scopes: &[String], rid: &RequestId) -> Response {
    response::json(
        200,
        &json!({"status": "authorized", "user_id": user.as_str(), "scopes": scopes}),
        rid,
    )
}

/// With `post_auth_redirect_url` the browser ends there (303), success or not; else a
/// browser (`html`) gets a page saying what happened, an API client the JSON.
async fn browser_callback(
    params: CallbackParams,
    html: bool,
    rid: &RequestId,
) -> Result<Response, Problem> {
    let target = config::optional(&SpinVariables, "post_auth_redirect_url")?;
    let result = match Redis::from_vars(&SpinVariables) {
        Ok(redis) => auth::callback(&services(&redis), params).await,
        Err(p) => Err(p),
    };
    let show = |status, body| response::html(status, body, &page::content_security_policy(), rid);
    match (target, result) {
        (None, Ok((user, _))) if html => Ok(show(200, page::connected(user.as_str()))),
        (None, Err(p)) if html => {
            log::set_code(p.code.as_str());
            Ok(show(p.status(), page::failure(p.code, rid.as_str())))
        }
        (None, Ok((user, scopes))) => Ok(authorized(&user, &scopes, rid)),
        (None, Err(p)) => Err(p),
        (Some(url), Ok((user, _))) => {
            redirect::see_other(&url, &[("status", "ok"), ("user_id", user.as_str())], rid)
        }
        (Some(url), Err(p)) => {
            redirect::see_other(&url, &[("status", "error"), ("code", p.code.as_str())], rid)
        }
    }
}
