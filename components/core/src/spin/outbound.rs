//! Spin's outbound HTTP, with a deadline on every request, and timers on Spin's executor.

use crate::log;
use spin_sdk::http::ErrorCode;

// ------------------------------------------------------------------ outbound HTTP

/// Every outbound request gives up after this long (connect, answer and body together).
pub const OUTBOUND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Spin's outbound HTTP, with a deadline on every request and timers on Spin's executor.
pub struct SpinHttp;

impl crate::outbound::Outbound for SpinHttp {
    async fn send(
        &self,
        req: crate::outbound::HttpRequest,
    ) -> Result<crate::outbound::HttpResponse, crate::outbound::TransportError> {
        use crate::outbound::TransportError;
        use futures::future::{Either, select};
        // A body we built in memory goes with its length, on every method but GET and HEAD
        // (an empty DELETE too), never `Transfer-Encoding: chunked`: some servers and
        // proxies refuse chunked request bodies (HTTP/1.0 servers, several WSGI stacks).
        let mut req = req;
        let bodyless = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
        if (!bodyless || !req.body().is_empty())
            && !req.headers().contains_key(http::header::CONTENT_LENGTH)
        {
            let len = http::HeaderValue::from(req.body().len());
            req.headers_mut().insert(http::header::CONTENT_LENGTH, len);
        }
        let method = req.method().as_str().to_owned();
        let origin = [
            req.uri().scheme_str().unwrap_or("https"),
            "://",
            req.uri().authority().map_or("", |a| a.as_str()),
        ]
        .concat();
        let started = std::time::Instant::now();
        let send = std::pin::pin!(exchange(req));
        let timer = std::pin::pin!(sleep(OUTBOUND_TIMEOUT));
        let outcome = select(send, timer).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = match &outcome {
            Either::Left((Ok(resp), _)) => Some(resp.status().as_u16()),
            _ => None,
        };
        log::upstream(&method, &origin, status, ms);
        match outcome {
            Either::Left((Ok(resp), _)) => Ok(resp),
            Either::Left((Err(Failed::Http(ErrorCode::HttpRequestDenied)), _)) => {
                Err(TransportError::Denied)
            }
            Either::Left((Err(_), _)) => Err(TransportError::Connect),
            Either::Right(_) => Err(TransportError::Timeout),
        }
    }

    async fn sleep(&self, d: std::time::Duration) {
        sleep(d).await
    }
}

/// Why an exchange failed.
enum Failed {
    /// Spin or the network refused it.
    Http(ErrorCode),
    /// The request could not be put into WASI's types, or a body could not be moved.
    Other,
}

/// One request and its answer, converted straight between `http`'s types and WASI's:
/// the headers as one list each way, the body written while Spin sends the request (as
/// `spin_sdk::http::send` does) and read whole.
async fn exchange(
    req: crate::outbound::HttpRequest,
) -> Result<crate::outbound::HttpResponse, Failed> {
    use futures::SinkExt as _;
    use spin_sdk::http::{IncomingResponse, Method, OutgoingRequest, Scheme};
    let (parts, body) = req.into_parts();
    let outgoing = OutgoingRequest::new(super::fields(&parts.headers).ok_or(Failed::Other)?);
    let scheme = match parts.uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") | None => Scheme::Https,
        Some(other) => Scheme::Other(other.to_owned()),
    };
    let set = outgoing
        .set_method(&Method::from(parts.method))
        .and_then(|()| outgoing.set_scheme(Some(&scheme)))
        .and_then(|()| outgoing.set_authority(parts.uri.authority().map(|a| a.as_str())))
        .and_then(|()| {
            outgoing.set_path_with_query(parts.uri.path_and_query().map(|p| p.as_str()))
        });
    if set.is_err() {
        return Err(Failed::Other);
    }
    let mut sink = outgoing.take_body();
    // Polled in this order: the request is handed to Spin first, then its body written and
    // finished (the sink finishes it when dropped).
    let (answer, written) = futures::join!(
        spin_sdk::http::send::<_, IncomingResponse>(outgoing),
        async move {
            let written = if body.is_empty() {
                Ok(())
            } else {
                sink.send(body).await
            };
            drop(sink);
            written
        }
    );
    let answer = answer.map_err(|e| match e {
        spin_sdk::http::SendError::Http(code) => Failed::Http(code),
        _ => Failed::Other,
    })?;
    written.map_err(|_| Failed::Other)?;
    let status = http::StatusCode::from_u16(answer.status()).map_err(|_| Failed::Other)?;
    let headers =
        crate::http::request::header_map(answer.headers().entries()).ok_or(Failed::Other)?;
    // A body that cannot be read is a failed exchange (spin-sdk's own conversion panics
    // there).
    let body = answer.into_body().await.map_err(|_| Failed::Other)?;
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Ok(resp)
}

/// A timer future on Spin's executor (`wasi:clocks/monotonic-clock`).
pub fn sleep(d: std::time::Duration) -> Sleep {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Sleep {
        deadline: wasi::clocks::monotonic_clock::now().saturating_add(nanos),
        token: None,
    }
}

pub struct Sleep {
    deadline: u64,
    token: Option<spin_executor::CancelOnDropToken>,
}

impl std::future::Future for Sleep {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if wasi::clocks::monotonic_clock::now() >= self.deadline {
            return std::task::Poll::Ready(());
        }
        let pollable = wasi::clocks::monotonic_clock::subscribe_instant(self.deadline);
        let token = spin_executor::push_waker_and_get_token(pollable, cx.waker().clone());
        self.token = Some(token.into());
        std::task::Poll::Pending
    }
}
