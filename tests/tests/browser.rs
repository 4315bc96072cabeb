//! Issue 17: the person in the browser. A real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/setup`) walks the OAuth flow as a person does:
//! the emulator's start page (the same [`StartPage`] `scripts/run` serves), "Connect
//! Google Calendar", Allow or Cancel on the fake consent page, and the service's page at
//! `/auth/callback`. Driven over chromedriver's W3C WebDriver HTTP API. A screenshot of
//! each final page goes to `target/browser-screenshots/`.
//!
//! Without Chromium these tests fail, saying what to install: they never skip.

mod common;

use base64::Engine as _;
use common::{API_TOKEN, App, CLIENT_ID, CLIENT_SECRET};
use gcal_tests::fakes::StartPage;
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

// ------------------------------------------------------------------ the browser

/// A chromedriver with one Chromium session, both ended on drop.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
    http: reqwest::Client,
}

impl Browser {
    async fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser tests need Debian's `{package}` package \
                 (`scripts/setup` installs it: apt-get install chromium chromium-driver)"
            );
        }
        let port = gcal_tests::redis_server::free_port().expect("a free port");
        let profile = std::env::temp_dir().join(format!("gcal-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).expect("a profile directory");
        let driver = {
            use std::os::unix::process::CommandExt as _;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group: Chromium and its helpers join it, so drop can
                // end every one of them.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"))
        };
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            profile,
            // Loopback only: never through a proxy from the environment.
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        browser.wait_ready().await;
        let options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-proxy-server",
                "--window-size=1000,700",
                format!("--user-data-dir={}", browser.profile.display()),
            ],
        });
        let created = browser
            .call(
                reqwest::Method::POST,
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                }}})),
            )
            .await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
            .session_call(
                reqwest::Method::POST,
                "/timeouts",
                Some(json!({"pageLoad": 30_000, "implicit": 10_000, "script": 10_000})),
            )
            .await;
        browser
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self
                .http
                .get(format!("http://127.0.0.1:{}/status", self.port))
                .send()
                .await;
            if let Ok(r) = status
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return;
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("{CHROMEDRIVER} exited: {exit}");
            }
            assert!(
                Instant::now() < deadline,
                "{CHROMEDRIVER} not ready after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One WebDriver command; returns its `value`, panics on a WebDriver error.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body["value"].clone()
    }

    async fn session_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn open(&self, url: &str) {
        self.session_call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn current_url(&self) -> String {
        let v = self.session_call(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    async fn title(&self) -> String {
        let v = self
            .session_call(reqwest::Method::GET, "/title", None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The element matching a CSS selector (waiting up to the implicit timeout).
    async fn find(&self, css: &str) -> String {
        let v = self
            .session_call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    /// Clicks the element matching `css` (a link: the click waits for the next page).
    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The rendered text of the element matching `css`.
    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        let v = self
            .session_call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The page's HTML.
    async fn source(&self) -> String {
        let v = self
            .session_call(reqwest::Method::GET, "/source", None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// A computed CSS property of the element matching `css`.
    async fn css(&self, css: &str, property: &str) -> String {
        let id = self.find(css).await;
        let v = self
            .session_call(
                reqwest::Method::GET,
                &format!("/element/{id}/css/{property}"),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Saves a PNG of the page as `target/browser-screenshots/<name>.png`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self
            .session_call(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = gcal_tests::build::workspace_root().join("target/browser-screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writing the screenshot");
        path
    }

    /// `DELETE /session/{id}` without a runtime (for drop): Chromium quits.
    fn quit_blocking(&self) {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = write!(
            stream,
            "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.session, self.port
        );
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.quit_blocking();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Whatever of Chromium is still shutting down is in chromedriver's process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

// ------------------------------------------------------------------ the app

/// The test app on a known port, its redirect URI registered with the fake Google, the
/// user `demo`, and the emulator's start page for `demo`.
async fn start() -> (App, StartPage) {
    let port = gcal_tests::redis_server::free_port().expect("a free port");
    let redirect = format!("http://127.0.0.1:{port}/auth/callback");
    let app = {
        let redirect = redirect.clone();
        App::start_with(move |mut c| {
            c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            c.variable("google_redirect_uri", redirect)
        })
        .await
    };
    app.google
        .register_client(CLIENT_ID, CLIENT_SECRET, &redirect);
    app.rest
        .add_user("demo", Some("demo@example.com"), Some("Europe/Berlin"));
    let page = StartPage::start(&app.host.origin(), API_TOKEN, "demo")
        .await
        .expect("starting the start page");
    (app, page)
}

/// From the start page to the fake consent page.
async fn to_consent(browser: &Browser, page: &StartPage) {
    browser.open(&page.url()).await;
    assert_eq!(
        browser.text("#connect").await,
        "Connect Google Calendar",
        "the start page"
    );
    browser.click("#connect").await;
    let consent = browser.current_url().await;
    assert!(
        consent.contains("/o/oauth2/v2/auth?"),
        "the link leads to the consent page, not {consent}"
    );
    assert!(
        browser
            .text("h1")
            .await
            .contains("wants to access your Google Account"),
        "the consent page"
    );
}

/// The service's page at `/auth/callback`, its style applied (the CSP allows it).
async fn assert_callback_page(browser: &Browser, app: &App) {
    let url = browser.current_url().await;
    assert!(
        url.starts_with(&app.url("/auth/callback?")),
        "the browser ends at the callback, not {url}"
    );
    // The policy allows the page's one style element: the card is white, not transparent.
    assert_eq!(
        browser.css("main", "background-color").await,
        "rgba(255, 255, 255, 1)",
        "the page's style is applied"
    );
}

// ------------------------------------------------------------------ the tests

#[tokio::test]
async fn allow_ends_on_the_connected_page_and_stores_the_credentials() {
    let (app, page) = start().await;
    let browser = Browser::start().await;
    to_consent(&browser, &page).await;
    browser.click("#approve").await;

    assert_callback_page(&browser, &app).await;
    let heading = browser.text("h1").await;
    assert_eq!(heading, "Google Calendar connected for demo");
    let body = browser.text("body").await;
    assert!(body.contains("go back to the app"), "{body}");
    assert_eq!(browser.title().await, "Google Calendar connected");
    let shot = browser.screenshot("connected").await;

    let record = app
        .rest
        .credentials("demo")
        .unwrap_or_else(|| panic!("no credentials stored; logs:\n{}", app.logs()));
    assert_eq!(record["status"], "active", "{record}");
    let issued = app.google.last_issued_tokens().expect("tokens issued");
    let refresh = issued.refresh_token.expect("a refresh token");
    let stored = common::cipher()
        .decrypt::<gcal_core::RefreshToken>(
            record["refresh_token_enc"].as_str().unwrap_or(""),
            "demo",
        )
        .expect("an encrypted refresh token");
    assert_eq!(stored.secret(), &refresh);
    // Nothing secret reached the page: not the code or state of the callback URL, no token.
    let callback = url::Url::parse(&browser.current_url().await).expect("a URL");
    let source = browser.source().await;
    let mut secrets = vec![issued.access_token, refresh, API_TOKEN.to_owned()];
    secrets.extend(
        callback
            .query_pairs()
            .filter(|(k, _)| k == "code" || k == "state")
            .map(|(_, v)| v.into_owned()),
    );
    assert_eq!(secrets.len(), 5, "{callback}");
    for secret in &secrets {
        assert!(!source.contains(secret.as_str()), "a secret on the page");
    }
    eprintln!("screenshot: {}", shot.display());
}

#[tokio::test]
async fn cancel_ends_on_the_denial_page_and_stores_nothing() {
    let (app, page) = start().await;
    let browser = Browser::start().await;
    to_consent(&browser, &page).await;
    browser.click("#deny").await;

    assert_callback_page(&browser, &app).await;
    assert_eq!(
        browser.text("h1").await,
        "Google Calendar was not connected"
    );
    let body = browser.text("body").await;
    assert!(body.contains("Access was not granted"), "{body}");
    assert!(
        body.contains("start again from the app and click Allow"),
        "{body}"
    );
    assert!(body.contains("authorization_denied"), "{body}");
    let shot = browser.screenshot("denied").await;

    assert!(app.rest.credentials("demo").is_none());
    assert_eq!(app.google.token_calls("authorization_code"), 0);
    eprintln!("screenshot: {}", shot.display());
}
