//! The emulator's start page: where a person (or the browser test) begins the OAuth flow.
//!
//! It stands in for "the app" that sends a user to connect their calendar: every load of
//! `/` asks the service for a fresh authorization URL (`GET /auth/url/{user}` with the API
//! token), so the `state` in the link is always new, and shows a "Connect Google Calendar"
//! link to it. The link leads to the fake Google's consent page (Allow / Cancel), which
//! sends the browser to the service's `/auth/callback`.

use super::google::html_escape;
use super::server::{Incoming, Outcome, Server, fetch};
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use std::sync::Arc;

/// A running start page on a free loopback port; stopped on drop.
pub struct StartPage {
    server: Server,
}

struct Target {
    /// `http://127.0.0.1:PORT` of the service.
    app_origin: String,
    api_token: String,
    user: String,
}

impl StartPage {
    /// Serves the start page for `user` of the service at `app_origin`.
    pub async fn start(app_origin: &str, api_token: &str, user: &str) -> anyhow::Result<Self> {
        let target = Arc::new(Target {
            app_origin: app_origin.trim_end_matches('/').to_owned(),
            api_token: api_token.to_owned(),
            user: user.to_owned(),
        });
        let server = Server::start(move |req| {
            let target = target.clone();
            async move { Outcome::Respond(handle(&target, &req).await) }
        })
        .await?;
        Ok(StartPage { server })
    }

    /// The page's URL, to open in a browser.
    pub fn url(&self) -> String {
        format!("{}/", self.server.origin())
    }
}

async fn handle(target: &Target, req: &Incoming) -> Response {
    if req.method != Method::GET || req.path != "/" {
        return page(StatusCode::NOT_FOUND, "Not found", "<p>Open / instead.</p>");
    }
    let user = html_escape(&target.user);
    match auth_url(target).await {
        Ok(url) => page(
            StatusCode::OK,
            "Connect Google Calendar",
            &format!(
                "<p>You are <b>{user}</b> in the emulator's app. Connecting opens the \
                 (fake) Google consent page: Allow connects the calendar, Cancel does not.</p>\
                 <p><a id=\"connect\" href=\"{}\">Connect Google Calendar</a></p>",
                html_escape(&url)
            ),
        ),
        Err(why) => page(
            StatusCode::BAD_GATEWAY,
            "The service did not answer",
            &format!(
                "<p>Asking the service for an authorization URL for <b>{user}</b> failed: \
                 {}.</p><p>Reload to try again.</p>",
                html_escape(&why)
            ),
        ),
    }
}

/// A fresh `auth_url` from the service; the error says why not (never the token).
async fn auth_url(target: &Target) -> Result<String, String> {
    let segment: String =
        percent_encoding::utf8_percent_encode(&target.user, percent_encoding::NON_ALPHANUMERIC)
            .collect();
    let url = format!("{}/auth/url/{segment}", target.app_origin);
    let headers = vec![(
        "authorization".to_owned(),
        format!("Bearer {}", target.api_token),
    )];
    let (status, body) = fetch(Method::GET, &url, headers)
        .await
        .map_err(|e| format!("no answer ({e})"))?;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match body["auth_url"].as_str() {
        Some(url) if status == 200 => Ok(url.to_owned()),
        _ => Err(format!(
            "{status} {}",
            body["code"].as_str().unwrap_or("(no problem code)")
        )),
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Every load hands out a new state: never from a cache.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
