//! The auth routes: start an authorization, finish it at the callback (the browser's
//! GET, or a JSON POST), report the status, and revoke.

mod flow;
mod state;

pub use flow::CallbackParams;

use crate::http::guard::{Ctx, UserCtx};
use crate::http::page;
use crate::http::problem::{Code, Problem};
use crate::http::redirect;
use crate::http::request_id::RequestId;
use crate::http::response::{self, Response};
use crate::http::router::Reply;
use crate::log;
use crate::model::user_id::UserId;
use crate::services::Runtime;
use serde_json::json;

/// `GET /auth/url/{user_id}`
pub async fn url<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    Ok(response::json(
        200,
        &flow::begin(cx.svc, cx.user).await?,
        cx.cx.rid,
    ))
}

/// `GET /auth/status/{user_id}`
pub async fn status<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    Ok(response::json(
        200,
        &flow::status(cx.svc, cx.user).await?,
        cx.cx.rid,
    ))
}

/// `DELETE /auth/{user_id}`: idempotent. (`DELETE /auth/`, an empty user id, is an
/// invalid user id, not an unknown route.)
pub async fn revoke<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    flow::revoke(cx.svc, cx.user).await?;
    Ok(response::no_content(cx.cx.rid))
}

/// `POST /auth/callback`: `{"code", "state"}` as JSON, behind the API token.
pub async fn callback<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let params: CallbackParams = serde_json::from_slice(cx.body()).map_err(|_| {
        Problem::new(
            Code::InvalidRequest,
            "body must be JSON {\"code\", \"state\"}",
        )
    })?;
    let redis = cx.connect()?;
    let (user, scopes) = flow::callback(&cx.services(&redis), params).await?;
    Ok(authorized(&user, &scopes, cx.rid))
}

/// `GET /auth/callback`: the browser, redirected by Google; the state authenticates it.
/// With `post_auth_redirect_url` the browser ends there (303), success or not; else a
/// browser (`Accept: text/html`) gets a page saying what happened, an API client the JSON.
pub async fn browser_callback<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let params = CallbackParams::from_query(cx.query());
    let html = page::prefers_html(cx.header("accept"));
    let target = cx.cfg.post_auth_redirect_url()?;
    let result = match cx.connect() {
        Ok(redis) => flow::callback(&cx.services(&redis), params).await,
        Err(e) => Err(e),
    };
    let rid = cx.rid;
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
            redirect::see_other(url, &[("status", "ok"), ("user_id", user.as_str())], rid)
        }
        (Some(url), Err(p)) => {
            redirect::see_other(url, &[("status", "error"), ("code", p.code.as_str())], rid)
        }
    }
}

fn authorized(user: &UserId, scopes: &[String], rid: &RequestId) -> Response {
    response::json(
        200,
        &json!({"status": "authorized", "user_id": user.as_str(), "scopes": scopes}),
        rid,
    )
}
