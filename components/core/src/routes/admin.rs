//! Operator routes, behind the API token: the dead-letter list and its replay, and a
//! drain of the event stream.

use crate::delivery;
use crate::http::guard::Ctx;
use crate::http::response;
use crate::http::router::Reply;
use crate::services::Runtime;

/// `GET /admin/dlq`: the newest 100 dead letters and the list's length.
pub async fn dead_letters<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let redis = cx.connect()?;
    Ok(response::json(
        200,
        &delivery::dead_letters(&redis, 100)?,
        cx.rid,
    ))
}

/// `POST /admin/dlq/replay`: redelivers up to 1000 dead letters, oldest first.
pub async fn replay<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let redis = cx.connect()?;
    let svc = cx.services(&redis);
    Ok(response::json(
        200,
        &delivery::replay(&svc, 1000).await?,
        cx.rid,
    ))
}

/// `POST /admin/drain`: drains the event stream with the consumer group exactly as the
/// updates component does after each message (stale entries taken over, each entry
/// claimed, delivered or synced, acknowledged), bounded per call; answers what it did.
/// Spin's Redis trigger runs only on a message, so a scheduler calls this (every minute)
/// for entries stranded while the REST service was down or an instance was killed.
pub async fn drain<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let redis = cx.connect()?;
    let svc = cx.services(&redis);
    let drained = delivery::drain(&svc, &redis).await?;
    let body = serde_json::to_value(&drained).unwrap_or_default();
    Ok(response::json(200, &body, cx.rid))
}
