//! The Spin cost model: per route, what decides a request's cost under a real Spin,
//! counted by the test host as Spin would incur it (`../shared/notes/spin-costs.md`):
//! instances, outbound Redis connections opened (Spin connects on every `open`), Redis
//! commands on them, key-value commands (on the one connection Spin shares per store,
//! its `PING` per open included), outbound HTTP requests, guest work as wasmtime fuel
//! (deterministic, unlike time), and this process's CPU per request (host, fakes and
//! client together: a trend, not Spin's figure). The same figures for a hello-world
//! component (`bench/hello`) are the floor.
//!
//! Fuel metering slows guests down, so the model runs in a child process of its own
//! (`--cost-model-child`), once per manifest: the current one and, with `--baseline`, an
//! earlier build, in the same run.

use crate::load::{self, Load, MakeRequest};
use crate::{Bench, READER, WRITER, authed, create_event, health, list_events};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use gcal_tests::host::{ComponentStats, Host, HostConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// One route's figures, per request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteCost {
    pub route: String,
    pub component: String,
    pub requests: u64,
    pub instances: f64,
    pub redis_connections: f64,
    pub redis_commands: f64,
    pub kv_commands: f64,
    pub outbound_http: f64,
    /// `variables::get` calls: host calls, and with Spin's environment provider each a
    /// blocking hand-off in Spin.
    #[serde(default)]
    pub variable_reads: f64,
    pub fuel: f64,
    /// The most linear memory one instance had (KiB): what Spin's pooling allocator
    /// must zero or fault in (it keeps 2 MiB resident between instances).
    #[serde(default)]
    pub peak_memory_kib: f64,
    pub cpu_ms: f64,
}

/// The routes of one build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostModel {
    pub label: String,
    pub routes: Vec<RouteCost>,
}

/// Builds the floor component.
fn build_hello() -> Result<PathBuf> {
    let root = gcal_tests::build::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "-p",
            "gcal-bench-hello",
        ])
        .status()
        .context("running cargo for bench/hello")?;
    if !status.success() {
        bail!("building bench/hello failed ({status})");
    }
    Ok(root.join("bench/hello/spin.toml"))
}

/// In the child: measures every route of the app at `manifest`, `n` requests each.
pub async fn child(manifest: &Path, n: u64) -> Result<Vec<RouteCost>> {
    if !gcal_tests::host::fuel_metered() {
        bail!("the cost model needs GCAL_HOST_FUEL=1 (run it through --cost-model)");
    }
    let mut routes = Vec::new();
    let hello = Host::start(HostConfig::new(build_hello()?)).await?;
    let addr = crate::addr_of(&hello.origin())?;
    let req: MakeRequest = Arc::new(move |_| load::request("GET", addr, "/", &[], Bytes::new()));
    routes.push(
        measure(
            &hello,
            "hello-world component (the floor)",
            "hello",
            addr,
            200,
            n,
            req,
        )
        .await?,
    );
    drop(hello);

    let b = Bench::start(manifest).await?;
    b.connect(READER).await?;
    b.connect(WRITER).await?;
    for i in 0..crate::SEEDED_EVENTS as u64 {
        b.expect(create_event(b.service, READER, i), 201).await?;
    }
    let listed: serde_json::Value =
        serde_json::from_slice(&b.expect(list_events(b.service), 200).await?)?;
    let id = listed["items"][0]["id"]
        .as_str()
        .context("the list has no event")?
        .to_owned();
    let s = b.service;
    let get_path = format!("/events/{READER}/{id}");
    let status_path = format!("/auth/status/{READER}");
    let cases: Vec<(&str, &str, u16, MakeRequest)> = vec![
        (
            "events, 401 (no token: no I/O)",
            "events",
            401,
            Arc::new(move |_| load::request("GET", s, "/events/bench-reader", &[], Bytes::new())),
        ),
        (
            "health, 405 (no I/O)",
            "health",
            405,
            Arc::new(move |_| load::request("POST", s, "/health", &[], Bytes::new())),
        ),
        ("GET /health", "health", 200, Arc::new(move |_| health(s))),
        (
            "GET /events/{user}, cached token, 10 events",
            "events",
            200,
            Arc::new(move |_| list_events(s)),
        ),
        (
            "GET /events/{user}/{id}, cached token",
            "events",
            200,
            Arc::new(move |_| authed("GET", s, &get_path, Bytes::new())),
        ),
        (
            "POST /events/{user}",
            "events",
            201,
            Arc::new(move |i| create_event(s, WRITER, 1_000_000 + i)),
        ),
        (
            "GET /auth/status/{user}",
            "auth",
            200,
            Arc::new(move |_| authed("GET", s, &status_path, Bytes::new())),
        ),
    ];
    for (what, component, status, make) in cases {
        routes.push(measure(&b.host, what, component, s, status, n, make).await?);
    }
    Ok(routes)
}

async fn measure(
    host: &Host,
    route: &str,
    component: &str,
    addr: SocketAddr,
    expect: u16,
    n: u64,
    make: MakeRequest,
) -> Result<RouteCost> {
    let stats = || host.stats(component).unwrap_or_default();
    // One warm-up request (compiles nothing: the host compiled at start; fills caches).
    let mut l = Load {
        addr,
        connections: 1,
        max_requests: 1,
        duration: Duration::from_secs(60),
        expect,
    };
    load::run(&l, make.clone()).await?;
    host.reset_peak_memory(component);
    let before = stats();
    l.max_requests = n;
    let o = load::run(&l, make).await?;
    if o.errors > 0 {
        bail!(
            "{route}: {} of {n} requests did not answer {expect}",
            o.errors
        );
    }
    let after = stats();
    let done = o.requests.max(1) as f64;
    let per = |f: fn(&ComponentStats) -> u64| (f(&after) - f(&before)) as f64 / done;
    Ok(RouteCost {
        route: route.to_owned(),
        component: component.to_owned(),
        requests: o.requests,
        instances: per(|s| s.instances),
        redis_connections: per(|s| s.redis_connections),
        redis_commands: per(|s| s.redis_commands),
        kv_commands: per(|s| s.kv_commands),
        outbound_http: per(|s| s.outbound_http),
        variable_reads: per(|s| s.variable_reads),
        fuel: per(|s| s.fuel),
        peak_memory_kib: after.peak_memory as f64 / 1024.0,
        cpu_ms: o.cpu.map_or(f64::NAN, |c| c.as_secs_f64() * 1000.0 / done),
    })
}

/// In the parent: runs the child for `manifest` and reads its figures.
pub fn run(label: &str, manifest: &Path, n: u64) -> Result<CostModel> {
    eprintln!(
        "cost model of {label} ({}), {n} requests per route",
        manifest.display()
    );
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args([
            "--cost-model-child",
            &manifest.to_string_lossy(),
            &n.to_string(),
        ])
        .env("GCAL_HOST_FUEL", "1")
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the cost model's child")?;
    if !out.status.success() {
        bail!("the cost model of {label} failed ({})", out.status);
    }
    let routes = serde_json::from_slice(&out.stdout).context("reading the cost model")?;
    Ok(CostModel {
        label: label.to_owned(),
        routes,
    })
}

/// The "Spin cost model" section: one table per build, then, with a baseline, the change
/// of each route's figures.
pub fn markdown(models: &[CostModel]) -> String {
    use std::fmt::Write as _;
    let mut md = String::from("## Spin cost model\n\n");
    md.push_str(
        "Per request, sequential on one keep-alive connection; counted by the test host as \
         Spin incurs them. `redis conns`: outbound Redis connections opened (Spin connects \
         on every open and closes with the instance). `redis cmds`: commands on them. \
         `kv cmds`: key-value store commands on the connection Spin shares per store (its \
         PING per open included). `http`: outbound HTTP requests. `vars`: the component's \
         `variables::get` calls (host calls; with Spin's environment provider each is a \
         blocking hand-off in Spin). `fuel`: wasmtime fuel, \
         about one per guest instruction (deterministic). `memory`: the most linear memory \
         one instance had, in KiB (Spin's pooling allocator keeps 2 MiB of an instance \
         slot resident; above that every page faults in anew). `CPU`: this process's CPU per \
         request, fakes and client included (a trend only).\n\n",
    );
    for m in models {
        let _ = writeln!(md, "### {}\n", m.label);
        md.push_str(
            "| route | component | redis conns | redis cmds | kv cmds | http | vars | fuel | memory KiB | CPU ms |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for r in &m.routes {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.3} |",
                r.route,
                r.component,
                r.redis_connections,
                r.redis_commands,
                r.kv_commands,
                r.outbound_http,
                r.variable_reads,
                r.fuel,
                r.peak_memory_kib,
                r.cpu_ms
            );
        }
        md.push('\n');
    }
    if let [before, .., after] = models {
        let _ = writeln!(md, "### {} against {}\n", after.label, before.label);
        md.push_str(
            "| route | redis conns | Redis round trips (cmds + kv) | vars | fuel | memory KiB | CPU ms |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        for a in &after.routes {
            let Some(b) = before.routes.iter().find(|b| b.route == a.route) else {
                continue;
            };
            let _ = writeln!(
                md,
                "| {} | {:.2} → {:.2} | {:.2} → {:.2} | {:.2} → {:.2} | {:.0} → {:.0} ({:+.0}%) | {:.0} → {:.0} | {:.3} → {:.3} |",
                a.route,
                b.redis_connections,
                a.redis_connections,
                b.redis_commands + b.kv_commands,
                a.redis_commands + a.kv_commands,
                b.variable_reads,
                a.variable_reads,
                b.fuel,
                a.fuel,
                if b.fuel > 0.0 {
                    (a.fuel / b.fuel - 1.0) * 100.0
                } else {
                    0.0
                },
                b.peak_memory_kib,
                a.peak_memory_kib,
                b.cpu_ms,
                a.cpu_ms
            );
        }
        md.push('\n');
    }
    md
}

pub fn json(models: &[CostModel]) -> serde_json::Value {
    serde_json::to_value(models).unwrap_or(serde_json::Value::Null)
}
