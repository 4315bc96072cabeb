//! Keep-alive connections for the host's outbound plain-`http` requests, per authority, as
//! Spin's outbound HTTP pools them. Without it every guest request to Google or the REST
//! service would open (and the server accept) a new TCP connection. `https` goes through
//! wasmtime's default sender unchanged.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Idle connections kept per authority; more are closed when they become idle.
const MAX_IDLE: usize = 64;
/// Timeouts when the guest sets none (wasmtime's defaults).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

#[derive(Default)]
pub struct HttpPool {
    idle: Mutex<HashMap<String, Vec<SendRequest<WasiBody>>>>,
}

impl HttpPool {
    /// Sends a plain-`http` request on an idle connection to its authority, or a new one.
    /// A request that an idle connection closed before sending goes out once more on a
    /// new connection; nothing is sent twice.
    pub async fn send(
        self: Arc<Self>,
        mut req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
        let authority = {
            let a = req.uri().authority().ok_or(Error::HttpRequestUriInvalid)?;
            match a.port() {
                Some(_) => a.to_string(),
                None => format!("{a}:80"),
            }
        };
        let connect_timeout = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let first_byte_timeout = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let between_bytes_timeout = options
            .and_then(|o| o.between_bytes_timeout)
            .unwrap_or(DEFAULT_TIMEOUT)
            .max(Duration::from_nanos(1));
        // On the wire the request target is origin-form: path and query only.
        let target = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        *req.uri_mut() = http::Uri::try_from(target).map_err(|_| Error::HttpRequestUriInvalid)?;

        let sent = async {
            if let Some(mut sender) = self.take(&authority) {
                match sender.try_send_request(req).await {
                    Ok(resp) => return Ok((resp, sender)),
                    Err(mut e) => match e.take_message() {
                        // Not sent: the idle connection had been closed. Try a new one.
                        Some(back) => req = back,
                        None => return Err(Error::from(e.into_error())),
                    },
                }
            }
            let mut sender = connect(&authority, connect_timeout).await?;
            let resp = sender.send_request(req).await?;
            Ok((resp, sender))
        };
        let (resp, mut sender) = tokio::time::timeout(first_byte_timeout, sent)
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        // The connection is free again once the guest has read the whole body.
        let pool = self.clone();
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                pool.put(authority, sender);
            }
        });
        let mut timeout = tokio::time::interval(between_bytes_timeout);
        timeout.reset();
        let resp = resp.map(|incoming| TimedBody { incoming, timeout }.boxed_unsync());
        Ok((resp, Box::new(async { Ok(()) })))
    }

    fn take(&self, authority: &str) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(authority)?;
        while let Some(s) = list.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put(&self, authority: String, sender: SendRequest<WasiBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(authority).or_default();
        if list.len() < MAX_IDLE {
            list.push(sender);
        }
    }
}

async fn connect(authority: &str, timeout: Duration) -> Result<SendRequest<WasiBody>, Error> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(authority))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    // Head and body are separate writes: do not let Nagle hold the body back.
    let _ = stream.set_nodelay(true);
    let (sender, conn) = tokio::time::timeout(timeout, http1::handshake(TokioIo::new(stream)))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// The response body, failing when no data arrives for the between-bytes timeout.
struct TimedBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.incoming.size_hint()
    }
}
