//! `GET /health`: the version and a Redis round trip.

use crate::VERSION;
use crate::http::guard::Ctx;
use crate::http::response;
use crate::http::router::Reply;
use crate::services::Runtime;
use crate::store::Store;
use serde_json::json;

/// A write and a read back under a per-request key, so the check proves the connection
/// works both ways and concurrent checks cannot disturb each other. The key expires.
pub async fn check<R: Runtime>(cx: Ctx<'_, R>) -> Reply {
    let redis = cx.connect()?;
    let rid = cx.rid;
    let key = format!("gcal:health:{rid}");
    redis.set_ex(&key, rid.as_str().as_bytes(), 60)?;
    let redis_ok = redis.get(&key)?.as_deref() == Some(rid.as_str().as_bytes());
    Ok(response::json(
        if redis_ok { 200 } else { 503 },
        &json!({
            "status": if redis_ok { "ok" } else { "degraded" },
            "version": VERSION,
            "checks": { "redis": if redis_ok { "ok" } else { "mismatch" } },
        }),
        rid,
    ))
}

/// A JSON document exactly as written (not re-serialized), with the usual headers.
pub fn document(text: &'static str, rid: &crate::http::request_id::RequestId) -> crate::Response {
    let mut resp = response::json(200, &serde_json::Value::Null, rid);
    *resp.body_mut() = text.as_bytes().to_vec();
    resp
}
