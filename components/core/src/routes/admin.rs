//! Operator routes, behind the API token: the dead-letter list and its replay.

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
