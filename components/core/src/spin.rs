//! The seam to Spin: variables, outbound Redis and the HTTP entry point. Only this module
//! touches `spin-sdk`, so everything else builds and tests on the host.

use crate::config::{ConfigError, Variables};
use crate::log::{self, Level};
use crate::problem::{Code, Problem};
use crate::request_id::RequestId;
use crate::response::{self, Response};
use crate::route::MAX_BODY_BYTES;
use futures::TryStreamExt;
use serde_json::Value;
use spin_sdk::http::IncomingRequest;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

/// Spin's `fermyon:spin/variables`: values resolved from the manifest and the provider.
pub struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        use spin_sdk::variables::Error;
        match spin_sdk::variables::get(name) {
            Ok(v) => Ok(Some(v)),
            Err(Error::Undefined(_)) | Err(Error::InvalidName(_)) => Ok(None),
            Err(Error::Provider(_)) | Err(Error::Other(_)) => {
                Err(ConfigError::Provider(name.to_owned()))
            }
        }
    }
}

/// The request as the route tables see it: method, raw path, query, headers, body.
pub type Request = http::Request<Vec<u8>>;

/// The HTTP entry point shared by every component: reads the request (bounded), assigns
/// the request id, runs the route table, turns errors into problems and logs one line.
pub async fn serve<F, Fut>(incoming: IncomingRequest, routes: F) -> Response
where
    F: FnOnce(Request, RequestId) -> Fut,
    Fut: std::future::Future<Output = Result<Response, Problem>>,
{
    let header = |name: &str| {
        incoming
            .headers()
            .get(name)
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
    };
    let rid = RequestId::from_header(header("x-request-id").as_deref());
    let started = std::time::Instant::now();
    log::set_level(log_level());
    let _ = log::take_context();
    let method = incoming.method().to_string();
    let path_and_query = incoming.path_with_query().unwrap_or_else(|| "/".to_owned());
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query.as_str(), |(p, _)| p)
        .to_owned();
    let route = header("spin-matched-route").unwrap_or_default();
    let origin = header("origin");
    let cors = crate::cors::Cors::parse(
        crate::config::optional(&SpinVariables, "cors_allowed_origins")
            .ok()
            .flatten()
            .as_deref(),
    );
    let preflight = crate::cors::Cors::is_preflight(
        &method,
        header("access-control-request-method").as_deref(),
    );
    let result = if preflight {
        // Preflights carry no credentials: answered here, before any route.
        Ok(response::no_content(&rid))
    } else {
        match read(incoming).await {
            Ok(req) => routes(req, rid.clone()).await,
            Err(p) => Err(p),
        }
    };
    let mut resp = response::finish(result, &rid);
    cors.apply(&mut resp, origin.as_deref(), preflight);
    let ctx = log::take_context();
    let status = resp.status().as_u16();
    let level = if status >= 500 {
        Level::Error
    } else if status >= 400 {
        Level::Warn
    } else {
        Level::Info
    };
    log::emit(
        level,
        "request",
        &[
            ("request_id", Value::from(rid.as_str())),
            ("method", Value::from(method)),
            ("route", Value::from(route)),
            ("path", Value::from(path)),
            ("status", Value::from(status)),
            ("code", ctx.code.map_or(Value::Null, Value::from)),
            (
                "duration_ms",
                Value::from(log::round(started.elapsed().as_secs_f64() * 1000.0)),
            ),
            ("user_id", ctx.user_id.map_or(Value::Null, Value::from)),
            ("upstream", Value::from(ctx.upstream)),
        ],
    );
    resp
}

/// The `log_level` variable (`debug`, `info`, `warn`, `error`; default `info`).
pub fn log_level() -> Level {
    crate::config::optional(&SpinVariables, "log_level")
        .ok()
        .flatten()
        .map_or(Level::Info, |l| Level::parse(&l))
}

async fn read(incoming: IncomingRequest) -> Result<Request, Problem> {
    let invalid =
        |what: &str| Problem::new(Code::InvalidRequest, format!("malformed request: {what}"));
    let mut builder = http::Request::builder()
        .method(incoming.method().to_string().as_str())
        .uri(incoming.path_with_query().unwrap_or_else(|| "/".to_owned()));
    for (name, value) in incoming.headers().entries() {
        builder = builder.header(name, value);
    }
    let declared = incoming
        .headers()
        .get("content-length")
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream.try_next().await.map_err(|_| invalid("body"))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|_| invalid("head"))
}

fn too_large() -> Problem {
    Problem::new(
        Code::PayloadTooLarge,
        format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
    )
}

/// Outbound Redis through Spin. Every failure is a `redis_unavailable` problem: the detail
/// names the operation, never the address (it may carry a password).
pub struct Redis(Connection);

impl Redis {
    pub fn open(address: &str) -> Result<Self, Problem> {
        Connection::open(address)
            .map(Redis)
            .map_err(|e| unavailable("connect", &e))
    }

    pub fn execute(
        &self,
        command: &str,
        args: &[RedisParameter],
    ) -> Result<Vec<RedisResult>, Problem> {
        self.0
            .execute(command, args)
            .map_err(|e| unavailable(command, &e))
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        self.0.get(key).map_err(|e| unavailable("GET", &e))
    }

    pub fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), Problem> {
        self.0
            .publish(channel, payload)
            .map_err(|e| unavailable("PUBLISH", &e))
    }
}

fn unavailable(op: &str, e: &spin_sdk::redis::Error) -> Problem {
    use spin_sdk::redis::Error;
    let why = match e {
        Error::InvalidAddress => "invalid address",
        Error::TooManyConnections => "too many connections",
        Error::TypeError => "unexpected value type",
        Error::Other(_) => "request failed",
    };
    Problem::new(Code::RedisUnavailable, format!("redis {op}: {why}"))
}

/// A byte-string argument for [`Redis::execute`].
pub fn arg(value: impl AsRef<[u8]>) -> RedisParameter {
    RedisParameter::Binary(value.as_ref().to_vec())
}

// ------------------------------------------------------------------ outbound HTTP

/// Every outbound request gives up after this long (connect, answer and body together).
pub const OUTBOUND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Spin's outbound HTTP, with a deadline on every request and timers on Spin's executor.
pub struct SpinHttp;

impl crate::http::Outbound for SpinHttp {
    async fn send(
        &self,
        req: crate::http::HttpRequest,
    ) -> Result<crate::http::HttpResponse, crate::http::TransportError> {
        use crate::http::TransportError;
        use futures::future::{Either, select};
        let method = req.method().as_str().to_owned();
        let origin = format!(
            "{}://{}",
            req.uri().scheme_str().unwrap_or("https"),
            req.uri().authority().map_or("", |a| a.as_str())
        );
        let started = std::time::Instant::now();
        let send = std::pin::pin!(spin_sdk::http::send::<_, http::Response<Vec<u8>>>(req));
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
            Either::Left((
                Err(spin_sdk::http::SendError::Http(spin_sdk::http::ErrorCode::HttpRequestDenied)),
                _,
            )) => Err(TransportError::Denied),
            Either::Left((Err(_), _)) => Err(TransportError::Connect),
            Either::Right(_) => Err(TransportError::Timeout),
        }
    }

    async fn sleep(&self, d: std::time::Duration) {
        sleep(d).await
    }
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

// ------------------------------------------------------------------ Redis as a Store

impl crate::store::Store for Redis {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        Redis::get(self, key)
    }

    fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), Problem> {
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        self.execute(
            "SET",
            &[arg(key), arg(value), arg("EX"), RedisParameter::Int64(ttl)],
        )
        .map(|_| ())
    }

    fn set_nx_px(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, Problem> {
        // A script answering 1 or 0: older Spin hosts drop `OK` and nil replies from
        // `execute`, so the plain SET NX reply cannot be read the same way everywhere.
        const SCRIPT: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 else return 0 end";
        let ttl = i64::try_from(ttl_ms.max(1)).unwrap_or(i64::MAX);
        let r = self.execute(
            "EVAL",
            &[
                arg(SCRIPT),
                RedisParameter::Int64(1),
                arg(key),
                arg(value),
                RedisParameter::Int64(ttl),
            ],
        )?;
        Ok(matches!(r.first(), Some(RedisResult::Int64(1))))
    }

    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        Ok(
            match self.execute("GETDEL", &[arg(key)])?.into_iter().next() {
                Some(RedisResult::Binary(b)) => Some(b),
                _ => None,
            },
        )
    }

    fn del(&self, key: &str) -> Result<(), Problem> {
        self.execute("DEL", &[arg(key)]).map(|_| ())
    }

    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), Problem> {
        const SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
        self.execute(
            "EVAL",
            &[arg(SCRIPT), RedisParameter::Int64(1), arg(key), arg(value)],
        )
        .map(|_| ())
    }

    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), Problem> {
        Redis::publish(self, channel, payload)
    }

    fn xadd_capped(
        &self,
        stream: &str,
        max_len: u64,
        field: &str,
        value: &[u8],
    ) -> Result<(), Problem> {
        let max = i64::try_from(max_len).unwrap_or(i64::MAX);
        self.execute(
            "XADD",
            &[
                arg(stream),
                arg("MAXLEN"),
                arg("~"),
                RedisParameter::Int64(max),
                arg("*"),
                arg(field),
                arg(value),
            ],
        )
        .map(|_| ())
    }

    fn incr_ex(&self, key: &str, ttl_secs: u64) -> Result<i64, Problem> {
        self.incr_ex_impl(key, ttl_secs)
    }

    fn lpush_capped(&self, key: &str, value: &[u8], max_len: u64) -> Result<(), Problem> {
        let last = i64::try_from(max_len.max(1) - 1).unwrap_or(i64::MAX);
        self.execute("LPUSH", &[arg(key), arg(value)])?;
        self.execute(
            "LTRIM",
            &[
                arg(key),
                RedisParameter::Int64(0),
                RedisParameter::Int64(last),
            ],
        )
        .map(|_| ())
    }

    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), Problem> {
        let last = i64::try_from(n.max(1) - 1).unwrap_or(i64::MAX);
        let items = self
            .execute(
                "LRANGE",
                &[
                    arg(key),
                    RedisParameter::Int64(0),
                    RedisParameter::Int64(last),
                ],
            )?
            .into_iter()
            .filter_map(|r| match r {
                RedisResult::Binary(b) => Some(b),
                _ => None,
            })
            .collect();
        let len = match self.execute("LLEN", &[arg(key)])?.first() {
            Some(RedisResult::Int64(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        Ok((items, len))
    }

    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, Problem> {
        // LRANGE answers an array (empty for an empty list), never nil, which older Spin
        // hosts would drop (LINDEX answers nil there).
        let r = self.execute(
            "LRANGE",
            &[
                arg(key),
                RedisParameter::Int64(-1),
                RedisParameter::Int64(-1),
            ],
        )?;
        Ok(r.into_iter().find_map(|r| match r {
            RedisResult::Binary(b) => Some(b),
            _ => None,
        }))
    }

    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem> {
        // A negative count removes from the tail: the oldest equal entry, one only.
        match self
            .execute("LREM", &[arg(key), RedisParameter::Int64(-1), arg(value)])?
            .first()
        {
            Some(RedisResult::Int64(n)) => Ok(*n > 0),
            _ => Err(Problem::new(
                Code::RedisUnavailable,
                "redis LREM: unexpected reply",
            )),
        }
    }

    fn rotate_oldest_if_eq(&self, key: &str, value: &[u8]) -> Result<bool, Problem> {
        // One script, so the check and the move are atomic; it answers 1 or 0 (never the
        // moved entry or nil, see `set_nx_px`). RPOPLPUSH from a list to itself moves the
        // tail to the head without the entry ever being out of the list.
        const SCRIPT: &str = "if redis.call('LINDEX', KEYS[1], -1) == ARGV[1] then redis.call('RPOPLPUSH', KEYS[1], KEYS[1]) return 1 else return 0 end";
        match self
            .execute(
                "EVAL",
                &[arg(SCRIPT), RedisParameter::Int64(1), arg(key), arg(value)],
            )?
            .first()
        {
            Some(RedisResult::Int64(n)) => Ok(*n == 1),
            _ => Err(Problem::new(
                Code::RedisUnavailable,
                "redis EVAL: unexpected reply",
            )),
        }
    }
}

/// Entries of an `XREADGROUP`/`XAUTOCLAIM` reply, as Spin flattens it: after the stream
/// name (XREADGROUP) or the cursor (XAUTOCLAIM), `id`, `field`, `value` triples. Our
/// entries have exactly one field; anything else is skipped.
fn entries(flat: Vec<RedisResult>, skip_first: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut it = flat.into_iter().skip(usize::from(skip_first));
    while let Some(r) = it.next() {
        let RedisResult::Binary(id) = r else { continue };
        let Ok(id) = String::from_utf8(id) else {
            continue;
        };
        // Entry ids look like `1700000000000-0`; stream names and cursors do not matter.
        let is_id = id.split_once('-').is_some_and(|(a, b)| {
            !a.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
        if !is_id {
            continue;
        }
        let field = it.next();
        let value = it.next();
        if let (Some(RedisResult::Binary(f)), Some(RedisResult::Binary(v))) = (field, value)
            && f == b"event"
        {
            out.push((id, v));
        }
    }
    out
}

impl crate::store::Stream for Redis {
    fn ensure_group(&self, stream: &str, group: &str) -> Result<(), Problem> {
        match self.0.execute(
            "XGROUP",
            &[
                arg("CREATE"),
                arg(stream),
                arg(group),
                arg("0"),
                arg("MKSTREAM"),
            ],
        ) {
            Ok(_) => Ok(()),
            Err(spin_sdk::redis::Error::Other(msg)) if msg.contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(unavailable("XGROUP", &e)),
        }
    }

    fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, Problem> {
        let count = i64::try_from(count).unwrap_or(100);
        let r = self.execute(
            "XREADGROUP",
            &[
                arg("GROUP"),
                arg(group),
                arg(consumer),
                arg("COUNT"),
                RedisParameter::Int64(count),
                arg("STREAMS"),
                arg(stream),
                arg(">"),
            ],
        )?;
        Ok(entries(r, false))
    }

    fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, Problem> {
        let idle = i64::try_from(min_idle_ms).unwrap_or(i64::MAX);
        let count = i64::try_from(count).unwrap_or(100);
        let r = self.execute(
            "XAUTOCLAIM",
            &[
                arg(stream),
                arg(group),
                arg(consumer),
                RedisParameter::Int64(idle),
                arg("0-0"),
                arg("COUNT"),
                RedisParameter::Int64(count),
            ],
        )?;
        // The first element is the scan cursor (it looks like an entry id).
        Ok(entries(r, true))
    }

    fn ack(&self, stream: &str, group: &str, id: &str) -> Result<(), Problem> {
        self.execute("XACK", &[arg(stream), arg(group), arg(id)])
            .map(|_| ())
    }
}

impl Redis {
    fn incr_ex_impl(&self, key: &str, ttl_secs: u64) -> Result<i64, Problem> {
        const SCRIPT: &str = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        match self
            .execute(
                "EVAL",
                &[
                    arg(SCRIPT),
                    RedisParameter::Int64(1),
                    arg(key),
                    RedisParameter::Int64(ttl),
                ],
            )?
            .first()
        {
            Some(RedisResult::Int64(n)) => Ok(*n),
            _ => Err(Problem::new(
                Code::RedisUnavailable,
                "redis INCR: unexpected reply",
            )),
        }
    }

    /// The connection for `redis_address`.
    pub fn from_vars(vars: &dyn Variables) -> Result<Redis, Problem> {
        let address = crate::config::or_default(
            vars,
            "redis_address",
            crate::config::defaults::REDIS_ADDRESS,
        )?;
        Redis::open(&address)
    }
}

// ------------------------------------------------------------------ user-scoped routes

/// The frame of every user-scoped API route: the API token, the user id, Redis, and the
/// per-user rate limit, whose headers go on the answer whatever the route returns.
pub async fn user_scoped<F>(
    req: &Request,
    rid: &RequestId,
    raw_user: &str,
    route: F,
) -> Result<Response, Problem>
where
    F: AsyncFnOnce(
        &crate::tokens::Services<'_, SpinHttp>,
        &crate::ids::UserId,
    ) -> Result<Response, Problem>,
{
    let vars = &SpinVariables;
    crate::api_auth::authorize(vars, req)?;
    let user = crate::ids::UserId::from_path_segment(raw_user)?;
    log::set_user(user.as_str());
    let redis = Redis::from_vars(vars)?;
    let budget = match crate::ratelimit::check(vars, &redis, &user) {
        Ok(b) => b,
        Err((p, b)) => {
            let mut r = response::problem(&p, rid);
            crate::ratelimit::headers(&mut r, b);
            return Ok(r);
        }
    };
    let svc = crate::tokens::Services {
        vars,
        http: &SpinHttp,
        store: &redis,
    };
    let mut resp = response::finish(route(&svc, &user).await, rid);
    crate::ratelimit::headers(&mut resp, budget);
    Ok(resp)
}
