//! Loopback HTTP/1.1 server plumbing shared by the fakes.
//!
//! The fakes answer with axum response types, but the accept loop drives hyper directly:
//! an axum `Router` is infallible, so it cannot close a connection without answering,
//! which is what [`Fault::Drop`](super::Fault::Drop) needs. A hyper service that returns
//! an error makes hyper close the connection with no response written.

use std::future::Future;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::Fault;
use super::faults::FaultControl;

/// Request bodies larger than this are answered 413 without reaching a fake.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// A request as a fake sees it: the whole body is already read.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub method: Method,
    /// Raw path, still percent-encoded.
    pub path: String,
    /// Raw query without `?`, if the request had one.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// A header value as text; `None` if absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query pairs in order (duplicates kept).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query.as_deref().map(parse_form).unwrap_or_default()
    }

    /// Raw path split into percent-decoded segments (without the leading empty one).
    /// `None` if a segment does not decode to UTF-8.
    pub fn segments(&self) -> Option<Vec<String>> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            })
            .collect()
    }
}

/// Parses `application/x-www-form-urlencoded` text (also used for query strings).
pub(crate) fn parse_form(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// What a fake decided to do with a request.
pub(crate) enum Outcome {
    Respond(Response),
    /// Close the connection without writing a response.
    Drop,
}

/// `resp` with its body cut short: the head says `Content-Length` of the whole body, half
/// of it is sent, then the body fails, and hyper closes the connection.
pub(crate) async fn cut_short(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let whole = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, whole.len().into());
    let half = whole.slice(..whole.len() / 2);
    let chunks: [Result<Bytes, std::io::Error>; 2] = [
        Ok(half),
        Err(std::io::Error::other("body cut short by fault injection")),
    ];
    Response::from_parts(parts, Body::from_stream(futures::stream::iter(chunks)))
}

/// Error handed to hyper so that it closes the connection without answering.
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedByFault {}

/// What every fake runs: its state, its [`FaultControl`] and the server whose requests
/// `handle` answers from the two.
pub(crate) struct Served<S, R> {
    state: Arc<Mutex<S>>,
    control: Arc<FaultControl<R>>,
    server: Server,
}

impl<S: Send + 'static, R: Hash + Eq + Copy + Send + 'static> Served<S, R> {
    /// Starts the server on a free loopback port; chaos picks from `transient`.
    pub async fn start<F, Fut>(
        state: S,
        transient: &'static [Fault],
        handle: F,
    ) -> anyhow::Result<Self>
    where
        F: Fn(Arc<Mutex<S>>, Arc<FaultControl<R>>, Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let state = Arc::new(Mutex::new(state));
        let control = Arc::new(FaultControl::new(transient));
        let (shared, faults) = (state.clone(), control.clone());
        let server = Server::start(move |req| handle(shared.clone(), faults.clone(), req)).await?;
        Ok(Served {
            state,
            control,
            server,
        })
    }

    pub fn state(&self) -> &Mutex<S> {
        &self.state
    }

    pub fn control(&self) -> &FaultControl<R> {
        &self.control
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// Stops accepting and closes open connections; waits until the port is released.
    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

/// A running server; aborting its task closes the listener and every connection.
pub(crate) struct Server {
    addr: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves every request with `handler` on a tokio task.
    pub async fn start<F, Fut>(handler: F) -> anyhow::Result<Server>
    where
        F: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            // Connection tasks live in the set, so aborting this task ends them too.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve_connection(stream, handler.clone()));
                        }
                        // Out of file descriptors and the like: back off instead of spinning.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(Server {
            addr,
            task: Mutex::new(Some(task)),
        })
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and closes open connections; waits until the port is released.
    pub async fn shutdown(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut task) = self.task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }
}

async fn serve_connection<F, Fut>(stream: TcpStream, handler: Arc<F>)
where
    F: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = match Limited::new(body, MAX_BODY).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(err) => {
                    if err.is::<http_body_util::LengthLimitError>() {
                        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large"));
                    }
                    // The client went away mid-body; nothing to answer.
                    return Err(DroppedByFault);
                }
            };
            let incoming = Incoming {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().map(str::to_owned),
                headers: parts.headers,
                body,
            };
            match handler(incoming).await {
                Outcome::Respond(response) => Ok(response),
                Outcome::Drop => Err(DroppedByFault),
            }
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

/// Sends one HTTP/1.1 request to a plain-`http` absolute URL and returns the status.
/// Used for Google push notifications, which the fake sends to the service.
pub(crate) async fn send_request(
    method: Method,
    url: &str,
    headers: Vec<(String, String)>,
) -> anyhow::Result<u16> {
    fetch(method, url, headers).await.map(|(status, _)| status)
}

/// Sends one body-less HTTP/1.1 request to a plain-`http` absolute URL; returns the status
/// and the body.
pub(crate) async fn fetch(
    method: Method,
    url: &str,
    headers: Vec<(String, String)>,
) -> anyhow::Result<(u16, Bytes)> {
    let url = url::Url::parse(url).with_context(|| format!("bad URL {url}"))?;
    anyhow::ensure!(
        url.scheme() == "http",
        "only http:// addresses can be reached by the fake, not {url}"
    );
    let host = url.host_str().context("URL without host")?.to_owned();
    let port = url.port_or_known_default().context("URL without port")?;
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let exchange = async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("connecting to {host}:{port}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(connection);
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(target)
            .header(http::header::HOST, host_header)
            .header(http::header::CONTENT_LENGTH, "0")
            .header(
                http::header::USER_AGENT,
                "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
            );
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = sender.send_request(request.body(Empty::new())?).await?;
        let status = response.status().as_u16();
        // A body cut short reads as what arrived; the status is the answer.
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        driver.abort();
        anyhow::Ok((status, body))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .context("request timed out after 10 s")?
}
