//! The read routes of one user's calendars: `GET /calendars/{user_id}` (the calendar
//! list) and `GET /freebusy/{user_id}`. Read-only: no CloudEvents.

use crate::google::calendar::Calendar;
use crate::google::scopes;
use crate::http::errors::needing;
use crate::http::guard::UserCtx;
use crate::http::response;
use crate::http::router::Reply;
use crate::model::calendars::{self, CalendarsQuery, MAX_PAGES};
use crate::model::freebusy::FreeBusyQuery;
use crate::services::Runtime;
use serde_json::{Value, json};

/// `GET /calendars/{user_id}`: every page up to [`MAX_PAGES`], or the one page asked for
/// (`page_token`, `max_results`).
pub async fn list<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let q = CalendarsQuery::parse(cx.cx.query())?;
    let cal = Calendar::new(cx.svc, cx.user)?;
    let mut items = Vec::new();
    let mut token = q.page_token.clone();
    for _ in 0..if q.one_page() { 1 } else { MAX_PAGES } {
        let page = cal
            .calendar_list(&q.google(token.as_deref()))
            .await
            .map_err(needing(scopes::CALENDAR_LIST))?;
        if let Some(entries) = page["items"].as_array() {
            items.extend(entries.iter().map(calendars::calendar));
        }
        token = page["nextPageToken"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let body = json!({"items": items, "next_page_token": token});
    Ok(response::json(200, &body, cx.cx.rid))
}

/// `GET /freebusy/{user_id}`
pub async fn freebusy<R: Runtime>(cx: UserCtx<'_, R>) -> Reply {
    let q = FreeBusyQuery::parse(cx.cx.query())?;
    let cal = Calendar::new(cx.svc, cx.user)?;
    let google: Value = cal
        .freebusy(&q.google_body())
        .await
        .map_err(needing(scopes::FREEBUSY))?;
    Ok(response::json(200, &q.answer(&google), cx.cx.rid))
}
