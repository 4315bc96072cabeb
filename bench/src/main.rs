//! `cargo run -p gcal-bench -- [--smoke]`
//!
//! Starts a private Redis, the fake Google and REST services and the test host with the
//! release `.wasm` files, connects two users through the real OAuth flow, then measures
//! with keep-alive clients on loopback: throughput and latency of the hot routes, the
//! same list load sent straight to the fake Google (the floor the service is compared
//! to), what each request costs upstream, instantiation time and peak linear memory of
//! each component, and `.wasm` sizes. Writes `bench/results/latest.{md,json}` (or
//! `smoke.*`, or `NAME.*` with `--out NAME`) and prints the Markdown.

mod cost;
mod load;
mod probe;
mod report;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use bytes::Bytes;
use gcal_tests::fakes::{FakeGoogle, FakeRest, Faulty as _};
use gcal_tests::host::{Host, HostConfig};
use gcal_tests::redis_server::RedisServer;
use http_body_util::Full;
use load::{Load, MakeRequest};
use report::{Instantiation, Report, Scenario, Sections, Upstream, WasmSize};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const API_TOKEN: &str = "bench-api-token-0123456789";
const CLIENT_ID: &str = "bench-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "bench-client-secret";
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";
/// The user whose calendar is listed (a fixed number of events).
const READER: &str = "bench-reader";
/// The user events are created for.
const WRITER: &str = "bench-writer";
/// A participant of the availability scenario (with the reader and the guest).
const PLANNER: &str = "bench-planner";
/// The third participant of the availability scenario: not the writer, whose calendar
/// the create scenario fills with thousands of events at one hour (free/busy would then
/// answer thousands of intervals, which is another scenario).
const GUEST: &str = "bench-guest";
/// Events in the reader's calendar.
const SEEDED_EVENTS: usize = 10;
const CONNECTIONS: [usize; 3] = [1, 16, 64];

const USAGE: &str = "usage: cargo run -p gcal-bench -- [options]
  --smoke          about a second per scenario, few requests (CI); writes smoke.{md,json}
  --out NAME       write bench/results/NAME.{md,json} (default: latest, or smoke)
  --only LIST      only some of: health,list,direct,create,availability,instantiate (for profiling)
  --conns LIST     connection counts (default: 1,16,64)
  --manifest PATH  another spin.toml (to compare builds of the components)
  --note TEXT      a line for the report's notes (e.g. how this build differs)
  --baseline PATH  the spin.toml of an earlier build (its .wasm files beside it, as
                   its manifest names them): the Spin cost model runs for both
  --baseline-label TEXT  what to call it (default: baseline)";

/// What to run, how long and how much.
struct Mode {
    name: &'static str,
    out: String,
    duration: Duration,
    max_requests: u64,
    warmup: Duration,
    warmup_requests: u64,
    instantiations: usize,
    /// Longest wait for the updates component to deliver what creates published.
    settle: Duration,
    /// Scenarios to run; all when empty.
    only: Vec<String>,
    connections: Vec<usize>,
    manifest: PathBuf,
    notes: Vec<String>,
    /// Requests per route of the Spin cost model.
    cost_requests: u64,
    /// An earlier build for the cost model, and its label.
    baseline: Option<(PathBuf, String)>,
}

impl Mode {
    fn from_args() -> Result<Mode> {
        let mut smoke = false;
        let mut out = None;
        let mut only = Vec::new();
        let mut connections = CONNECTIONS.to_vec();
        let mut manifest = gcal_tests::build::manifest_path();
        let mut notes = Vec::new();
        let mut baseline = None;
        let mut baseline_label = "baseline".to_owned();
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = || args.next().with_context(|| format!("{a} needs a value"));
            match a.as_str() {
                "--smoke" => smoke = true,
                "--out" => out = Some(value()?),
                "--only" => only = value()?.split(',').map(str::to_owned).collect(),
                "--conns" => {
                    connections = value()?
                        .split(',')
                        .map(|c| c.parse().context("--conns takes numbers like 1,16"))
                        .collect::<Result<_>>()?;
                }
                "--manifest" => manifest = value()?.into(),
                "--note" => notes.push(value()?),
                "--baseline" => baseline = Some(PathBuf::from(value()?)),
                "--baseline-label" => baseline_label = value()?,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument `{other}`\n{USAGE}"),
            }
        }
        if let Some(name) = &out
            && (name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            bail!("--out takes a plain name like `before`");
        }
        let baseline = baseline.map(|b| (b, baseline_label));
        Ok(if smoke {
            Mode {
                name: "smoke",
                out: out.unwrap_or_else(|| "smoke".into()),
                duration: Duration::from_secs(1),
                max_requests: 300,
                warmup: Duration::from_millis(200),
                warmup_requests: 20,
                instantiations: 50,
                settle: Duration::from_secs(10),
                only,
                connections,
                manifest,
                notes,
                cost_requests: 20,
                baseline,
            }
        } else {
            Mode {
                name: "full",
                out: out.unwrap_or_else(|| "latest".into()),
                duration: Duration::from_secs(5),
                max_requests: 200_000,
                warmup: Duration::from_millis(500),
                warmup_requests: 2_000,
                instantiations: 2_000,
                settle: Duration::from_secs(60),
                only,
                connections,
                manifest,
                notes,
                cost_requests: 200,
                baseline,
            }
        })
    }

    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

/// Everything a run talks to. Dropping it stops the host, the fakes and Redis.
struct Bench {
    host: Host,
    google: FakeGoogle,
    rest: FakeRest,
    _redis: RedisServer,
    service: SocketAddr,
    google_addr: SocketAddr,
    /// Each component's `.wasm` file.
    sources: Vec<(String, PathBuf)>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, manifest, n] = args.as_slice()
        && flag == "--cost-model-child"
    {
        let routes = cost::child(Path::new(manifest), n.parse()?).await?;
        println!("{}", serde_json::to_string(&routes)?);
        return Ok(());
    }
    let mode = Mode::from_args()?;
    let started = Instant::now();
    let mut report = Report::new(mode.name);
    for n in &mode.notes {
        report.note(n.clone());
    }
    if mode.manifest != gcal_tests::build::manifest_path() {
        report.note(format!("Components from `{}`.", mode.manifest.display()));
    }
    eprintln!("gcal-bench ({} mode): building the components", mode.name);
    gcal_tests::build::components()?;
    let b = Bench::start(&mode.manifest).await?;

    // Two users through the real OAuth flow; the reader gets a calendar of fixed size.
    let reader_token = b.connect(READER).await?;
    b.connect(WRITER).await?;
    b.connect(PLANNER).await?;
    b.connect(GUEST).await?;
    for i in 0..SEEDED_EVENTS {
        b.expect(create_event(b.service, READER, i as u64), 201)
            .await
            .context("seeding an event")?;
    }
    // The first list caches the access token; the Google call it makes is the one the
    // pass-through replays.
    b.google.clear_requests();
    let listed = b.expect(list_events(b.service), 200).await?;
    let items = serde_json::from_slice::<Value>(&listed)?["items"]
        .as_array()
        .map_or(0, Vec::len);
    if items != SEEDED_EVENTS {
        bail!("the reader has {items} events, expected {SEEDED_EVENTS}");
    }
    let upstream = b
        .google
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/events"))
        .context("the list did not reach the fake Google")?;
    let direct_path = match &upstream.query {
        Some(q) => format!("{}?{q}", upstream.path),
        None => upstream.path.clone(),
    };
    report.note(format!(
        "The list: {SEEDED_EVENTS} events, {} bytes of JSON from the service. The pass-through \
         sends the service's own Google request (`GET {{google}}{}?{}`) with the reader's \
         access token straight to the fake Google, on keep-alive connections like the rest.",
        listed.len(),
        upstream.path,
        upstream.query.as_deref().unwrap_or("")
    ));

    // What one request of each kind causes upstream (once the seeding is delivered).
    settle(&b.rest, mode.settle).await;
    let probes = [
        ("GET /events/{user}", "events", list_events(b.service), 200),
        (
            "POST /events/{user}",
            "events",
            create_event(b.service, WRITER, u64::MAX),
            201,
        ),
        ("GET /health", "health", health(b.service), 200),
        (
            "POST /availability, 3 participants",
            "events",
            availability(b.service),
            200,
        ),
    ];
    for (what, component, req, status) in probes {
        let calls = b
            .upstream_calls(component, req, status, mode.settle)
            .await?;
        report.upstream(what, calls);
    }

    eprintln!("measuring:");
    let service = b.service;
    let google_addr = b.google_addr;
    let bearer = format!("Bearer {reader_token}");
    let direct: MakeRequest = Arc::new(move |_| {
        let auth = [("authorization", bearer.as_str())];
        load::request("GET", google_addr, &direct_path, &auth, Bytes::new())
    });
    for &c in &mode.connections {
        if mode.runs("health") {
            let make: MakeRequest = Arc::new(move |_| health(service));
            let o = b.measure(&mode, service, c, 200, make).await?;
            report.scenario(Scenario::new("GET /health", o));
        }
    }
    // The service and the pass-through alternate, so both see the same machine.
    for &c in &mode.connections {
        if mode.runs("list") {
            let make: MakeRequest = Arc::new(move |_| list_events(service));
            let o = b.measure(&mode, service, c, 200, make).await?;
            report.scenario(Scenario::new("GET /events/{user}, cached token", o));
        }
        if mode.runs("direct") {
            let o = b
                .measure(&mode, google_addr, c, 200, direct.clone())
                .await?;
            report.scenario(Scenario::new("GET fake Google list directly", o));
        }
    }
    for &c in &mode.connections {
        if mode.runs("create") {
            let make: MakeRequest = Arc::new(move |n| create_event(service, WRITER, n));
            let o = b.measure(&mode, service, c, 201, make).await?;
            report.scenario(Scenario::new("POST /events/{user}", o));
            // Each create published a message: let the updates component deliver them
            // all, so its work does not load the next measurement.
            settle(&b.rest, mode.settle).await;
            b.rest.clear_notifications();
        }
    }

    // Three participants' user records and free/busy, asked at once.
    for &c in &mode.connections {
        if mode.runs("availability") {
            let make: MakeRequest = Arc::new(move |_| availability(service));
            let o = b.measure(&mode, service, c, 200, make).await?;
            report.scenario(Scenario::new("POST /availability, 3 participants", o));
        }
    }

    if mode.runs("instantiate") {
        eprintln!("instantiating each component {} times", mode.instantiations);
        for id in b.host.component_ids() {
            let times = probe::instantiation_times(&b.host, &id, mode.instantiations).await?;
            report.instantiation(Instantiation::new(&id, times));
        }
    }
    for id in b.host.component_ids() {
        report.peak_memory(&id, probe::peak_memory(&b.host, &id));
    }
    report.process_peak_rss(peak_rss());
    for (id, path) in &b.sources {
        let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        report.wasm(WasmSize {
            component: id.clone(),
            file: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: wasm.len() as u64,
            sections: sections(&wasm)?,
            wasm_opt: wasm_opt_size(path),
        });
    }
    drop(b);
    let mut models = Vec::new();
    if let Some((manifest, label)) = &mode.baseline {
        models.push(cost::run(label, manifest, mode.cost_requests)?);
    }
    models.push(cost::run("this build", &mode.manifest, mode.cost_requests)?);
    report.finish(started.elapsed());

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&dir)?;
    let markdown = report.markdown() + "\n" + &cost::markdown(&models);
    std::fs::write(dir.join(format!("{}.md", mode.out)), &markdown)?;
    let mut json = report.json();
    json["spin_cost_model"] = cost::json(&models);
    let json = serde_json::to_string_pretty(&json)? + "\n";
    std::fs::write(dir.join(format!("{}.json", mode.out)), json)?;
    println!("{markdown}");
    eprintln!(
        "wrote bench/results/{0}.md and bench/results/{0}.json",
        mode.out
    );
    Ok(())
}

impl Bench {
    async fn start(manifest: &Path) -> Result<Bench> {
        let redis = RedisServer::start()?;
        let google = FakeGoogle::start().await?;
        let rest = FakeRest::start().await?;
        google.register_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI);
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let cfg = HostConfig::new(manifest)
            .variable("google_client_id", CLIENT_ID)
            .variable("google_client_secret", CLIENT_SECRET)
            .variable("google_redirect_uri", REDIRECT_URI)
            .variable("google_oauth_origin", google.origin())
            .variable("google_token_origin", google.origin())
            .variable("google_api_origin", google.origin())
            .variable("rest_service_url", rest.origin())
            .variable("redis_address", redis.url())
            .key_value_store("default", redis.url())
            .variable("api_tokens", API_TOKEN)
            .variable("token_encryption_key", key)
            // The rate limit counts every request, as in production, but one user sends
            // thousands a minute here: a budget it never reaches.
            .variable("rate_limit_per_minute", "100000000");
        let sources = component_sources(&cfg)?;
        let host = Host::start(cfg).await.context("starting the test host")?;
        Ok(Bench {
            service: addr_of(&host.origin())?,
            google_addr: addr_of(&google.origin())?,
            host,
            google,
            rest,
            _redis: redis,
            sources,
        })
    }

    /// One request to the service on a new connection; its body, if the status is `status`.
    async fn expect(&self, req: http::Request<Full<Bytes>>, status: u16) -> Result<Bytes> {
        let (got, body) = load::once(self.service, req).await?;
        if got != status {
            bail!("{got} {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }

    /// The OAuth flow: `/auth/url` → consent at the fake Google → `/auth/callback`.
    /// Returns the access token Google issued.
    async fn connect(&self, user: &str) -> Result<String> {
        let email = format!("{user}@example.com");
        self.rest
            .add_user(user, Some(&email), Some("Europe/Berlin"));
        let url = format!("/auth/url/{user}");
        let begun = self
            .expect(authed("GET", self.service, &url, Bytes::new()), 200)
            .await
            .context("/auth/url")?;
        let begun: Value = serde_json::from_slice(&begun)?;
        let consent = self
            .google
            .consent(begun["auth_url"].as_str().context("no auth_url")?)?;
        let callback = format!(
            "/auth/callback?code={}&state={}",
            enc(&consent.code),
            enc(&consent.state)
        );
        let req = load::request("GET", self.service, &callback, &[], Bytes::new());
        self.expect(req, 200).await.context("/auth/callback")?;
        Ok(self
            .google
            .last_issued_tokens()
            .context("no tokens issued")?
            .access_token)
    }

    /// A warm-up (not counted), then the measured run of requests `make` builds for `to`.
    async fn measure(
        &self,
        mode: &Mode,
        to: SocketAddr,
        connections: usize,
        expect: u16,
        make: MakeRequest,
    ) -> Result<load::Outcome> {
        let probe = make(0);
        let label = format!("{} {}", probe.method(), probe.uri().path());
        let mut l = Load {
            addr: to,
            connections,
            max_requests: mode.warmup_requests,
            duration: mode.warmup,
            expect,
        };
        load::run(&l, make.clone()).await?;
        l.max_requests = mode.max_requests;
        l.duration = mode.duration;
        let o = load::run(&l, make).await?;
        eprintln!(
            "  {label:<44} {connections:>2} conns: {:>6.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  CPU/req {:>5.2} ms  errors {}",
            o.rps(),
            ms(o.p50),
            ms(o.p99),
            o.cpu_per_request().map_or(f64::NAN, ms),
            o.errors
        );
        // The fakes record every request; forget them between runs.
        self.google.clear_requests();
        self.rest.clear_requests();
        Ok(o)
    }

    /// Sends one request and counts what it caused: Google and REST calls and outbound
    /// Redis commands of the component that answered, then, once quiet again, what the
    /// updates component did (a create wakes it).
    async fn upstream_calls(
        &self,
        component: &str,
        req: http::Request<Full<Bytes>>,
        status: u16,
        limit: Duration,
    ) -> Result<Upstream> {
        let commands = |id: &str| probe::redis_commands(&self.host, id);
        let deliveries = || {
            self.rest
                .requests()
                .iter()
                .filter(|r| r.path == "/notifications")
                .count()
        };
        self.google.clear_requests();
        self.rest.clear_requests();
        let (before, updates_before) = (commands(component), commands("updates"));
        self.expect(req, status).await?;
        let redis_commands = commands(component) - before;
        let google = self.google.requests().len();
        let rest = self.rest.requests().len() - deliveries();
        let deadline = Instant::now() + limit;
        let mut last = None;
        while Instant::now() < deadline {
            let now = Some((commands("updates"), deliveries()));
            if now == last {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(Upstream {
            google,
            rest,
            redis_commands,
            updates_redis_commands: commands("updates") - updates_before,
            updates_rest_calls: deliveries(),
        })
    }
}

/// Each component's `.wasm` file, as the manifest names it.
fn component_sources(cfg: &HostConfig) -> Result<Vec<(String, PathBuf)>> {
    use gcal_tests::manifest;
    let decls = manifest::declared_variables(&cfg.manifest)?;
    let values = manifest::resolve_variables(&decls, &Default::default(), &cfg.variables)?;
    let app = manifest::App::load(&cfg.manifest, &values)?;
    Ok(app
        .components
        .into_iter()
        .map(|(id, c)| (id, c.source))
        .collect())
}

fn addr_of(origin: &str) -> Result<SocketAddr> {
    let url = url::Url::parse(origin)?;
    let host = url.host_str().context("origin without host")?;
    let port = url.port_or_known_default().context("origin without port")?;
    Ok(format!("{host}:{port}").parse()?)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn authed(method: &str, addr: SocketAddr, path: &str, body: Bytes) -> http::Request<Full<Bytes>> {
    let bearer = format!("Bearer {API_TOKEN}");
    load::request(method, addr, path, &[("authorization", &bearer)], body)
}

fn health(addr: SocketAddr) -> http::Request<Full<Bytes>> {
    load::request("GET", addr, "/health", &[], Bytes::new())
}

fn list_events(addr: SocketAddr) -> http::Request<Full<Bytes>> {
    authed("GET", addr, &format!("/events/{READER}"), Bytes::new())
}

/// Slots of 30 minutes in a working week, 09:00-17:00 in each participant's own zone, for
/// the reader (10 events), the planner and the guest.
fn availability(addr: SocketAddr) -> http::Request<Full<Bytes>> {
    let body = json!({
        "participants": [{"user_id": READER}, {"user_id": PLANNER}, {"user_id": GUEST}],
        "time_min": "2026-07-06T00:00:00Z",
        "time_max": "2026-07-11T00:00:00Z",
        "duration_minutes": 30,
        "working_hours": {"start": "09:00", "end": "17:00",
            "days": ["mon", "tue", "wed", "thu", "fri"]},
    });
    authed("POST", addr, "/availability", Bytes::from(body.to_string()))
}

/// A timed event in local Berlin time (the service converts it), unique by `n`.
fn create_event(addr: SocketAddr, user: &str, n: u64) -> http::Request<Full<Bytes>> {
    let body = json!({
        "summary": format!("bench event {n}"),
        "start": {"dateTime": "2026-07-10T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-07-10T09:30:00", "timeZone": "Europe/Berlin"},
    });
    let path = format!("/events/{user}");
    authed("POST", addr, &path, Bytes::from(body.to_string()))
}

/// Waits until the REST service has had no new notification for a second (or `limit`).
async fn settle(rest: &FakeRest, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline {
        let n = Some(rest.notifications().len());
        if n == last {
            return;
        }
        last = n;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `VmHWM` of this process (host, fakes and load generator together), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes of code, data segments and custom sections (names, producers) in a component's
/// core modules: what a `.wasm` file's size is made of.
fn sections(wasm: &[u8]) -> Result<Sections> {
    use wasmparser::Payload;
    let mut s = Sections::default();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::CodeSectionStart { range, .. } => s.code += range.len() as u64,
            Payload::DataSection(r) => s.data += r.range().len() as u64,
            Payload::CustomSection(r) => s.custom += r.range().len() as u64,
            _ => {}
        }
    }
    Ok(s)
}

/// The file's size once its core modules went through `wasm-opt -Oz`, or why there is
/// none. binaryen reads core modules, not components: each core module is cut out of
/// the component, optimised alone, and the file's size counted with the smaller modules
/// in place (the component around them is unchanged).
fn wasm_opt_size(path: &Path) -> Result<u64, String> {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("wasm-opt").is_file()));
    if !found {
        return Err("not available (no `wasm-opt` on the PATH; Debian package `binaryen`)".into());
    }
    let wasm = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut modules = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::ModuleSection {
            unchecked_range, ..
        } = payload.map_err(|e| e.to_string())?
        {
            modules.push(unchecked_range);
        }
    }
    if modules.is_empty() {
        return optimised_module_size(&wasm);
    }
    let mut size = wasm.len() as u64;
    for range in modules {
        let module = &wasm[range.clone()];
        let after = optimised_module_size(module)?;
        size = size - module.len() as u64 + after.min(module.len() as u64);
    }
    Ok(size)
}

/// The size of one core module after `wasm-opt -Oz`.
fn optimised_module_size(module: &[u8]) -> Result<u64, String> {
    let dir = std::env::temp_dir();
    let stem = format!("gcal-bench-{}-{}", std::process::id(), module.len());
    let (input, out) = (
        dir.join(format!("{stem}.in.wasm")),
        dir.join(format!("{stem}.out.wasm")),
    );
    std::fs::write(&input, module).map_err(|e| e.to_string())?;
    let result = std::process::Command::new("wasm-opt")
        .arg("-Oz")
        .arg("--all-features")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output();
    let size = match result {
        Ok(o) if o.status.success() => std::fs::metadata(&out)
            .map(|m| m.len())
            .map_err(|e| e.to_string()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let first = err.lines().next().unwrap_or("").trim().to_owned();
            Err(format!("wasm-opt failed: {first}"))
        }
        Err(e) => Err(format!("wasm-opt did not run: {e}")),
    };
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&out);
    size
}
