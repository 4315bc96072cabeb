//! `POST /webhooks/google`: Google's push. No API token: the channel token is checked.

use crate::delivery::{self, Push};
use crate::http::guard::Ctx;
use crate::http::response;
use crate::http::router::Reply;
use crate::services::Runtime;

pub async fn push<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let push = Push {
        channel_id: cx.header("x-goog-channel-id"),
        token: cx.header("x-goog-channel-token"),
        resource_id: cx.header("x-goog-resource-id"),
        resource_state: cx.header("x-goog-resource-state"),
    };
    delivery::push(cx.cfg, &cx.connect()?, &push)?;
    Ok(response::json(
        200,
        &serde_json::json!({"status": "accepted"}),
        cx.rid,
    ))
}
