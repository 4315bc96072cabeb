//! A Spin-compatible host on wasmtime, for tests: load `spin.toml`, compile each component
//! once, pre-instantiate, then instantiate per request (HTTP) or per message (Redis).
//! Small and linear on purpose, like `wasmtime serve`.

use crate::http_pool::HttpPool;
use crate::key_value::KeyValueStores;
use crate::logs::LogBook;
use crate::manifest::{self, App};
use crate::outbound::AllowedHosts;
use crate::spin_impl::{RedisComponent, RedisComponentPre};
use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// What to start and how.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub manifest: PathBuf,
    /// Variable values that win over `SPIN_VARIABLE_*` and manifest defaults.
    pub variables: HashMap<String, String>,
    /// Read `SPIN_VARIABLE_*` from this process's environment (as Spin's env provider).
    pub use_env: bool,
    /// Serve the HTTP trigger.
    pub http: bool,
    /// Run the Redis triggers.
    pub redis_triggers: bool,
    /// Where the HTTP trigger listens; port 0 picks a free one.
    pub listen: SocketAddr,
    /// A guest that takes longer for one request or message is cut off (500).
    pub timeout: Duration,
    /// Also print component output to stderr.
    pub echo_logs: bool,
    /// The runtime config's key-value stores: label to Redis URL (Spin's
    /// `[key_value_store.<label>] type = "redis"`).
    pub key_value_stores: HashMap<String, String>,
}

impl HostConfig {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        HostConfig {
            manifest: manifest.into(),
            variables: HashMap::new(),
            use_env: false,
            http: true,
            redis_triggers: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            timeout: Duration::from_secs(30),
            echo_logs: false,
            key_value_stores: HashMap::new(),
        }
    }

    /// A Redis key-value store for `label`, as a runtime config entry defines one.
    pub fn key_value_store(mut self, label: &str, url: impl Into<String>) -> Self {
        self.key_value_stores.insert(label.to_owned(), url.into());
        self
    }

    /// The key-value stores of a Spin runtime config file (`--runtime-config-file`).
    pub fn runtime_config(mut self, path: &Path) -> Result<Self> {
        let stores = crate::key_value::from_runtime_config(path)
            .with_context(|| format!("reading runtime config {}", path.display()))?;
        self.key_value_stores.extend(stores);
        Ok(self)
    }

    pub fn variable(mut self, name: &str, value: impl Into<String>) -> Self {
        self.variables.insert(name.to_owned(), value.into());
        self
    }
}

/// A running app. Dropping it stops the listener and the Redis subscribers, and (the
/// last running host) the epoch thread.
pub struct Host {
    addr: Option<SocketAddr>,
    logs: LogBook,
    tasks: Vec<JoinHandle<()>>,
    /// The loaded app: its components and their counters.
    shared: Arc<Shared>,
    /// Keeps the engine's epoch ticking while this host runs.
    _epoch: EpochUser,
}

impl Host {
    pub async fn start(cfg: HostConfig) -> Result<Host> {
        let env: HashMap<String, String> = if cfg.use_env {
            std::env::vars().collect()
        } else {
            HashMap::new()
        };
        let decls = manifest::declared_variables(&cfg.manifest)?;
        let values = manifest::resolve_variables(&decls, &env, &cfg.variables)?;
        crate::suite_logs::record_secret_variables(&decls, &values);
        let app = App::load(&cfg.manifest, &values)?;
        let logs = LogBook::new(cfg.echo_logs);
        let engine = engine();
        let epoch = EpochUser::start();

        let mut linker: Linker<State> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        RedisComponent::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;

        let mut components = HashMap::new();
        let kv = Arc::new(KeyValueStores::new(cfg.key_value_stores.clone()));
        let http_pool = Arc::new(HttpPool::default());
        for (id, c) in &app.components {
            kv.check(id, &c.key_value_stores)?;
            let compiled = compile(engine, &c.source)?;
            let pre = linker
                .instantiate_pre(&compiled)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("linking component `{id}`"))?;
            components.insert(
                id.clone(),
                Arc::new(Loaded {
                    id: id.clone(),
                    allowed: Arc::new(AllowedHosts::parse(&c.allowed_outbound_hosts)?),
                    variables: Arc::new(c.variables.clone()),
                    counters: Arc::default(),
                    kv_labels: Arc::new(c.key_value_stores.clone()),
                    kv: kv.clone(),
                    proxy: ProxyPre::new(pre.clone()).ok(),
                    redis: RedisComponentPre::new(pre.clone()).ok(),
                    http_pool: http_pool.clone(),
                    pre,
                }),
            );
        }
        let shared = Arc::new(Shared {
            app,
            components,
            logs: logs.clone(),
            timeout: cfg.timeout,
        });

        let mut tasks = Vec::new();
        let mut addr = None;
        if cfg.http {
            let listener = TcpListener::bind(cfg.listen).await?;
            addr = Some(listener.local_addr()?);
            tasks.push(tokio::spawn(serve_http(shared.clone(), listener)));
        }
        if cfg.redis_triggers {
            for t in shared.app.redis_triggers.clone() {
                let ready = tokio::sync::oneshot::channel();
                tasks.push(tokio::spawn(serve_redis(shared.clone(), t, ready.0)));
                ready
                    .1
                    .await
                    .map_err(|_| anyhow!("redis trigger stopped before subscribing"))??;
            }
        }
        Ok(Host {
            addr,
            logs,
            tasks,
            shared,
            _epoch: epoch,
        })
    }

    /// `http://127.0.0.1:PORT` of the HTTP trigger.
    pub fn origin(&self) -> String {
        self.addr.map(|a| format!("http://{a}")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn logs(&self) -> &LogBook {
        &self.logs
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

// ------------------------------------------------------------------ engine and compile

/// One engine per process with epoch interruption, so a spinning guest can be cut off.
/// Its epoch advances while a [`Host`] runs (see [`EpochUser`]).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Fuel (wasmtime's count of guest instructions) for the benchmark's cost model:
        // deterministic, unlike time. Off unless asked for, since metering costs.
        config.consume_fuel(fuel_metered());
        // Config is static and valid; a failure here is a bug in this file, not input.
        pooled_engine(&config)
            .unwrap_or_else(|| Engine::new(&config).expect("wasmtime engine config"))
    })
}

/// Whether guests are metered with fuel: `GCAL_HOST_FUEL=1` in the environment when the
/// process's engine is made (the benchmark sets it).
pub fn fuel_metered() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("GCAL_HOST_FUEL").is_ok_and(|v| v == "1"))
}

/// Fuel a `Store` starts with: more than any request can burn.
const FUEL: u64 = u64::MAX / 2;

const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The thread that advances the engine's epoch every [`EPOCH_TICK`], like the
/// `EpochThread` of `wasmtime serve`: one per process, shared by the hosts running in it.
struct EpochThread {
    /// Dropping it (or sending on it) stops the thread.
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// The running hosts and, while there is one, the epoch thread.
static EPOCH: Mutex<(usize, Option<EpochThread>)> = Mutex::new((0, None));

/// One running host's share of the epoch thread: the first starts it, the last to drop
/// stops it and joins it.
struct EpochUser;

impl EpochUser {
    fn start() -> EpochUser {
        let mut epoch = EPOCH.lock().unwrap_or_else(|e| e.into_inner());
        epoch.0 += 1;
        if epoch.1.is_none() {
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let engine = engine().clone();
            let thread = std::thread::spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(EPOCH_TICK)
                {
                    engine.increment_epoch();
                }
            });
            epoch.1 = Some(EpochThread { stop, thread });
        }
        EpochUser
    }
}

impl Drop for EpochUser {
    fn drop(&mut self) {
        let last = {
            let mut epoch = EPOCH.lock().unwrap_or_else(|e| e.into_inner());
            epoch.0 = epoch.0.saturating_sub(1);
            if epoch.0 == 0 { epoch.1.take() } else { None }
        };
        if let Some(t) = last {
            let _ = t.stop.send(());
            // It wakes within one tick; a panic in it has nothing left to report.
            let _ = t.thread.join();
        }
    }
}

/// The engine with the pooling instance allocator, as Spin runs it: memories, tables and
/// fiber stacks of finished instances are reused instead of mapped and unmapped per
/// request. `None` where the pool's virtual address space cannot be reserved (then
/// instances are allocated on demand).
fn pooled_engine(config: &Config) -> Option<Engine> {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    // Room for many concurrent instances (tests run hosts in parallel in one process);
    // a slot is only virtual address space until an instance uses it.
    pool.total_component_instances(1_000)
        .total_core_instances(2_000)
        .total_memories(1_000)
        .total_tables(2_000)
        .total_stacks(1_000)
        .max_component_instance_size(10 << 20);
    // Memories are reset with `madvise` (wasmtime's default): keeping 4 MiB resident and
    // resetting it by copying was slower for these components (bench/, list at 16
    // connections: 1130-1160 req/s against 1215-1225 with `madvise`).
    let mut config = config.clone();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).ok()
}

/// Components compiled once per process, keyed by path and file stamp.
fn compile(engine: &Engine, path: &Path) -> Result<Component> {
    type Key = (PathBuf, std::time::SystemTime, u64);
    static CACHE: OnceLock<Mutex<HashMap<Key, Component>>> = OnceLock::new();
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "component file {} is missing: build with `cargo build --target wasm32-wasip2 --release`",
            path.display()
        )
    })?;
    let key = (path.to_path_buf(), meta.modified()?, meta.len());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let c = Component::from_file(engine, path)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", path.display()))?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, c.clone());
    Ok(c)
}

// ------------------------------------------------------------------ per-instance state

struct Loaded {
    id: String,
    pre: wasmtime::component::InstancePre<State>,
    allowed: Arc<AllowedHosts>,
    variables: Arc<HashMap<String, String>>,
    /// What its instances have done so far.
    counters: Arc<Counters>,
    /// The key-value store labels it may open (`key_value_stores`).
    kv_labels: Arc<BTreeSet<String>>,
    /// The app's key-value stores.
    kv: Arc<KeyValueStores>,
    /// The `wasi:http/proxy` view of `pre`, built once (`None` for non-HTTP components).
    proxy: Option<ProxyPre<State>>,
    /// The `fermyon:spin/inbound-redis` view of `pre`, built once (`None` for components
    /// that do not export it).
    redis: Option<RedisComponentPre<State>>,
    /// This host's idle outbound HTTP connections (shared by its components).
    http_pool: Arc<HttpPool>,
}

struct Shared {
    app: App,
    components: HashMap<String, Arc<Loaded>>,
    logs: LogBook,
    timeout: Duration,
}

/// The `T` of each `Store`: one per request or message.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    hooks: Outbound,
    pub(crate) variables: Arc<HashMap<String, String>>,
    pub(crate) allowed: Arc<AllowedHosts>,
    pub(crate) logs: LogBook,
    pub(crate) component: String,
    memory: MemoryMeter,
    pub(crate) counters: Arc<Counters>,
    pub(crate) kv: Arc<KeyValueStores>,
    pub(crate) kv_labels: Arc<BTreeSet<String>>,
    /// With `GCAL_HOST_FUEL_TRACE=1`: where this instance's fuel goes.
    pub(crate) fuel_trace: Option<crate::fuel_trace::Shared>,
}

impl State {
    /// Names the host call now running in the fuel trace (if tracing).
    pub(crate) fn trace(&self, call: impl Into<std::borrow::Cow<'static, str>>) {
        crate::fuel_trace::mark(&self.fuel_trace, call);
    }

    fn new(c: &Loaded, logs: &LogBook) -> State {
        let wasi = WasiCtx::builder()
            .stdout(logs.sink(&c.id))
            .stderr(logs.sink(&c.id))
            .build();
        State {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: Outbound {
                allowed: c.allowed.clone(),
                logs: logs.clone(),
                component: c.id.clone(),
                pool: c.http_pool.clone(),
                counters: c.counters.clone(),
                fuel_trace: None,
            },
            variables: c.variables.clone(),
            allowed: c.allowed.clone(),
            logs: logs.clone(),
            component: c.id.clone(),
            memory: MemoryMeter {
                current: 0,
                counters: c.counters.clone(),
            },
            counters: c.counters.clone(),
            kv: c.kv.clone(),
            kv_labels: c.kv_labels.clone(),
            fuel_trace: None,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Outbound HTTP as Spin does it: refused unless the destination is in the component's
/// `allowed_outbound_hosts`.
struct Outbound {
    allowed: Arc<AllowedHosts>,
    logs: LogBook,
    component: String,
    /// Keep-alive connections for plain `http`.
    pool: Arc<HttpPool>,
    counters: Arc<Counters>,
    fuel_trace: Option<crate::fuel_trace::Shared>,
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        crate::fuel_trace::mark(&self.fuel_trace, "http.send");
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_owned();
        let host = uri.host().unwrap_or("").to_owned();
        let port = uri.port_u16();
        if !self.allowed.allows(&scheme, &host, port) {
            self.logs.note(&format!(
                "outbound http from component `{}` to {scheme}://{host}{} refused: not in allowed_outbound_hosts",
                self.component,
                port.map(|p| format!(":{p}")).unwrap_or_default()
            ));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        self.counters.outbound_http.fetch_add(1, Ordering::Relaxed);
        if scheme == "http" {
            return Box::new(self.pool.clone().send(request, options));
        }
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}

fn new_store(shared: &Shared, c: &Loaded) -> Store<State> {
    let mut store = Store::new(engine(), State::new(c, &shared.logs));
    store.limiter(|s| &mut s.memory);
    if fuel_metered() {
        // Cannot fail: fuel is on in this engine.
        let _ = store.set_fuel(FUEL);
    }
    if crate::fuel_trace::enabled() {
        let trace = crate::fuel_trace::Shared::new(FUEL);
        store.data_mut().hooks.fuel_trace = Some(trace.clone());
        store.data_mut().fuel_trace = Some(trace);
        crate::fuel_trace::install(&mut store, |s: &State| s.fuel_trace.clone());
    }
    c.counters.instances.fetch_add(1, Ordering::Relaxed);
    // Yield to tokio every tick so timeouts fire even while a guest computes.
    store.epoch_deadline_async_yield_and_update(1);
    store
}

// ------------------------------------------------------------------ HTTP trigger

async fn serve_http(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let Ok((stream, client)) = listener.accept().await else {
            continue;
        };
        // Answers are written as head and body: without this, Nagle's algorithm holds the
        // body back until the client acknowledges the head (a delayed ACK, ~40 ms).
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle_http(shared, req, client).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn plain(status: u16, text: &'static str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut r = hyper::Response::new(body);
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

async fn handle_http(
    shared: Arc<Shared>,
    mut req: hyper::Request<hyper::body::Incoming>,
    client: SocketAddr,
) -> hyper::Response<HyperOutgoingBody> {
    let path = req.uri().path().to_owned();
    let Some((route, path_info)) = shared.app.route(&path) else {
        return plain(404, "Not Found");
    };
    let Some(c) = shared.components.get(&route.component).cloned() else {
        return plain(500, "Internal Server Error");
    };
    let authority = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let component_route = route
        .raw
        .strip_suffix("/...")
        .unwrap_or(&route.raw)
        .to_owned();
    let spin_headers = [
        (
            "spin-full-url",
            format!("http://{authority}{path_and_query}"),
        ),
        ("spin-path-info", path_info),
        ("spin-matched-route", route.raw.clone()),
        ("spin-component-route", component_route),
        ("spin-raw-component-route", route.raw.clone()),
        ("spin-base-path", "/".to_owned()),
        ("spin-client-addr", client.to_string()),
    ];
    for (name, value) in spin_headers {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
            req.headers_mut().insert(name, v);
        }
    }
    match run_http(&shared, &c, req).await {
        Ok(resp) => resp,
        Err(e) => {
            shared
                .logs
                .note(&format!("component `{}` failed: {e:#}", c.id));
            plain(500, "Internal Server Error")
        }
    }
}

async fn run_http(
    shared: &Shared,
    c: &Arc<Loaded>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<HyperOutgoingBody>> {
    let mut store = new_store(shared, c);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let pre = proxy_pre(c)?;
    let timeout = shared.timeout;
    let task = tokio::spawn(async move {
        let run = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
                .map_err(anyhow::Error::from)
        };
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(anyhow!("timed out after {timeout:?}")),
        };
        charge_fuel(&mut store);
        result
    });
    match tokio::time::timeout(timeout, receiver).await {
        Ok(Ok(Ok(resp))) => Ok(resp),
        Ok(Ok(Err(code))) => Err(anyhow!("guest answered with error code {code:?}")),
        Ok(Err(_)) => match task.await {
            Ok(Ok(())) => Err(anyhow!("guest never set a response")),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(e.into()),
        },
        Err(_) => {
            task.abort();
            Err(anyhow!("timed out after {timeout:?}"))
        }
    }
}

// ------------------------------------------------------------------ Redis trigger

async fn serve_redis(
    shared: Arc<Shared>,
    trigger: manifest::RedisTrigger,
    ready: tokio::sync::oneshot::Sender<Result<()>>,
) {
    use futures::StreamExt;
    let subscribe = async || {
        let client = redis::Client::open(trigger.address.as_str())?;
        let connect = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&trigger.channel).await?;
            Ok::<_, anyhow::Error>(pubsub)
        };
        tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| anyhow!("subscribing timed out"))?
    };
    let setup = async {
        let c = shared
            .components
            .get(&trigger.component)
            .cloned()
            .ok_or_else(|| anyhow!("unknown component `{}`", trigger.component))?;
        let pre = match &c.redis {
            Some(pre) => pre.clone(),
            None => RedisComponentPre::new(c.pre.clone())?,
        };
        let pubsub = subscribe().await?;
        Ok::<_, anyhow::Error>((pubsub, c, pre))
    };
    let (mut pubsub, c, pre) = match setup.await {
        Ok(v) => {
            let _ = ready.send(Ok(()));
            v
        }
        Err(e) => {
            let _ = ready.send(Err(e.context(format!(
                "redis trigger for `{}` could not subscribe to `{}`",
                trigger.component, trigger.channel
            ))));
            return;
        }
    };
    // Like Spin's Redis trigger: when the connection is lost (Redis restarted), subscribe
    // again, with backoff, for as long as the host runs. Messages published meanwhile are
    // not seen (pub/sub keeps nothing); the app's stream covers them.
    loop {
        let mut messages = pubsub.into_on_message();
        // Messages are handled one at a time, in order, as Spin's Redis trigger does.
        while let Some(msg) = messages.next().await {
            let payload = msg.get_payload_bytes().to_vec();
            let mut store = new_store(&shared, &c);
            let run = async {
                let instance = pre.instantiate_async(&mut store).await?;
                instance
                    .fermyon_spin_inbound_redis()
                    .call_handle_message(&mut store, &payload)
                    .await
            };
            let outcome = tokio::time::timeout(shared.timeout, run).await;
            charge_fuel(&mut store);
            match outcome {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => shared.logs.note(&format!(
                    "component `{}` returned an error for a message: {e:?}",
                    c.id
                )),
                Ok(Err(e)) => shared
                    .logs
                    .note(&format!("component `{}` failed on a message: {e:#}", c.id)),
                Err(_) => shared
                    .logs
                    .note(&format!("component `{}` timed out on a message", c.id)),
            }
        }
        shared.logs.note(&format!(
            "redis trigger for `{}` lost its subscription to `{}`; subscribing again",
            c.id, trigger.channel
        ));
        let mut wait = Duration::from_millis(50);
        pubsub = loop {
            tokio::time::sleep(wait).await;
            match subscribe().await {
                Ok(p) => break p,
                Err(_) => wait = (wait * 2).min(Duration::from_secs(1)),
            }
        };
        shared.logs.note(&format!(
            "redis trigger for `{}` subscribed to `{}` again",
            c.id, trigger.channel
        ));
    }
}

// ------------------------------------------------------------------ views and meters

/// The `wasi:http/proxy` view of a component's pre-instantiation, built once at start
/// (export lookups by name); rebuilt here only to report why a component is not HTTP.
fn proxy_pre(c: &Loaded) -> Result<ProxyPre<State>> {
    match &c.proxy {
        Some(p) => Ok(p.clone()),
        None => Ok(ProxyPre::new(c.pre.clone())?),
    }
}

/// Follows the linear memory of one instance (its `Store`) and folds the peak into the
/// component's running maximum. Allows whatever the memory's own maximum allows.
struct MemoryMeter {
    current: usize,
    counters: Arc<Counters>,
}

impl wasmtime::ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.current += desired.saturating_sub(current);
        self.counters
            .peak_memory
            .fetch_max(self.current, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}

/// The fuel a finished instance burnt, added to its component's count.
fn charge_fuel(store: &mut Store<State>) {
    if let Ok(left) = store.get_fuel() {
        store
            .data()
            .counters
            .fuel
            .fetch_add(FUEL.saturating_sub(left), Ordering::Relaxed);
        if let Some(t) = &store.data().fuel_trace {
            eprintln!("{}", t.line(&store.data().component, left));
        }
    }
}

/// What one component's instances have done, counted as they go.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    peak_memory: AtomicUsize,
    instances: AtomicU64,
    pub(crate) redis_connections: AtomicU64,
    pub(crate) redis_commands: AtomicU64,
    pub(crate) kv_commands: AtomicU64,
    outbound_http: AtomicU64,
    pub(crate) variable_reads: AtomicU64,
    fuel: AtomicU64,
}

/// What one component's instances have done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ComponentStats {
    /// The most linear memory (bytes) one instance has had.
    pub peak_memory: usize,
    /// Instances made (one per request or message, plus [`Host::instantiate`]).
    pub instances: u64,
    /// Outbound Redis connections opened (Spin opens one per `open`).
    pub redis_connections: u64,
    /// Commands sent on them.
    pub redis_commands: u64,
    /// Key-value store commands (on the store's shared connection), `PING`s of `open`
    /// included.
    pub kv_commands: u64,
    /// Outbound HTTP requests sent.
    pub outbound_http: u64,
    /// `variables::get` calls (each a host call; with Spin's environment provider, a
    /// blocking hand-off in Spin).
    pub variable_reads: u64,
    /// Fuel burnt (guest instructions, roughly); 0 unless [`fuel_metered`].
    pub fuel: u64,
}

/// An instance of a component that was never called; dropping it frees its slot.
pub struct Instance {
    _store: Store<State>,
}

/// What runs in the host: its components, their counters, and instantiation alone.
impl Host {
    /// The ids of the app's components.
    pub fn component_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared.components.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The counters of `component`; `None` if the app has no such component.
    pub fn stats(&self, component: &str) -> Option<ComponentStats> {
        self.shared.components.get(component).map(|c| {
            let n = &c.counters;
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            ComponentStats {
                peak_memory: n.peak_memory.load(Ordering::Relaxed),
                instances: get(&n.instances),
                redis_connections: get(&n.redis_connections),
                redis_commands: get(&n.redis_commands),
                kv_commands: get(&n.kv_commands),
                outbound_http: get(&n.outbound_http),
                variable_reads: get(&n.variable_reads),
                fuel: get(&n.fuel),
            }
        })
    }

    /// Starts `component`'s peak linear memory ([`ComponentStats::peak_memory`]) again
    /// from zero, so the next instances' peak can be read alone.
    pub fn reset_peak_memory(&self, component: &str) {
        if let Some(c) = self.shared.components.get(component) {
            c.counters.peak_memory.store(0, Ordering::Relaxed);
        }
    }

    /// Instantiates `component` the way a request or message does (a new `Store`, then
    /// instantiation from the pre-instantiated component) without calling it.
    pub async fn instantiate(&self, component: &str) -> Result<Instance> {
        let c = self
            .shared
            .components
            .get(component)
            .cloned()
            .ok_or_else(|| anyhow!("unknown component `{component}`"))?;
        let mut store = new_store(&self.shared, &c);
        match &c.redis {
            Some(pre) if c.proxy.is_none() => {
                pre.instantiate_async(&mut store).await?;
            }
            _ => {
                proxy_pre(&c)?.instantiate_async(&mut store).await?;
            }
        }
        Ok(Instance { _store: store })
    }
}
