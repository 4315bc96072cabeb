//! The figures of one run, as JSON and as a Markdown table, with the machine they ran on.

use crate::load::{Outcome, percentile};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

/// Targets of the benchmark issue.
const TARGET_RATIO: f64 = 0.60;
const TARGET_P99_MS: f64 = 10.0;
const TARGET_INSTANTIATION_US: f64 = 100.0;
const TARGET_WASM_BYTES: u64 = 1_500_000;
/// The connection count the targets are stated at.
const TARGET_CONNECTIONS: usize = 16;

pub struct Scenario {
    pub name: String,
    pub outcome: Outcome,
}

impl Scenario {
    pub fn new(name: &str, outcome: Outcome) -> Scenario {
        Scenario {
            name: name.to_owned(),
            outcome,
        }
    }
}

pub struct Instantiation {
    pub component: String,
    pub n: usize,
    pub p50: Duration,
    pub mean: Duration,
    pub p99: Duration,
    pub min: Duration,
}

impl Instantiation {
    pub fn new(component: &str, mut times: Vec<Duration>) -> Instantiation {
        times.sort_unstable();
        let total: Duration = times.iter().sum();
        let n = times.len();
        Instantiation {
            component: component.to_owned(),
            n,
            p50: percentile(&times, 0.50),
            mean: if n > 0 {
                total / n as u32
            } else {
                Duration::ZERO
            },
            p99: percentile(&times, 0.99),
            min: times.first().copied().unwrap_or_default(),
        }
    }
}

pub struct WasmSize {
    pub component: String,
    pub file: String,
    pub bytes: u64,
    pub sections: Sections,
    pub wasm_opt: Result<u64, String>,
}

/// What one request caused upstream.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    pub google: usize,
    pub rest: usize,
    pub redis_commands: u64,
    /// What the updates component did after it (a create wakes it).
    pub updates_redis_commands: u64,
    pub updates_rest_calls: usize,
}

/// Bytes by kind of section, over the core modules of a component.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sections {
    pub code: u64,
    pub data: u64,
    pub custom: u64,
}

pub struct Report {
    mode: String,
    date: String,
    machine: Machine,
    commit: String,
    load_before: String,
    load_after: String,
    duration: Duration,
    scenarios: Vec<Scenario>,
    instantiations: Vec<Instantiation>,
    memory: Vec<(String, usize)>,
    rss: Option<u64>,
    wasm: Vec<WasmSize>,
    upstream: Vec<(String, Upstream)>,
    notes: Vec<String>,
}

struct Machine {
    cpus: usize,
    cpu_model: String,
    memory: String,
    kernel: String,
    rustc: String,
    host_profile: &'static str,
}

impl Report {
    pub fn new(mode: &str) -> Report {
        Report {
            mode: mode.to_owned(),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            machine: Machine::probe(),
            commit: git_commit(),
            load_before: loadavg(),
            load_after: String::new(),
            duration: Duration::ZERO,
            scenarios: Vec::new(),
            instantiations: Vec::new(),
            memory: Vec::new(),
            rss: None,
            wasm: Vec::new(),
            upstream: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn scenario(&mut self, s: Scenario) {
        self.scenarios.push(s);
    }

    pub fn instantiation(&mut self, i: Instantiation) {
        self.instantiations.push(i);
    }

    pub fn peak_memory(&mut self, component: &str, bytes: usize) {
        self.memory.push((component.to_owned(), bytes));
    }

    pub fn process_peak_rss(&mut self, bytes: Option<u64>) {
        self.rss = bytes;
    }

    pub fn wasm(&mut self, w: WasmSize) {
        self.wasm.push(w);
    }

    pub fn upstream(&mut self, what: &str, u: Upstream) {
        self.upstream.push((what.to_owned(), u));
    }

    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    pub fn finish(&mut self, took: Duration) {
        self.duration = took;
        self.load_after = loadavg();
    }

    fn find(&self, name_prefix: &str, connections: usize) -> Option<&Outcome> {
        self.scenarios
            .iter()
            .find(|s| s.name.starts_with(name_prefix) && s.outcome.connections == connections)
            .map(|s| &s.outcome)
    }

    /// Service throughput over pass-through throughput for the list, per connection count.
    fn ratio(&self, connections: usize) -> Option<f64> {
        let service = self.find("GET /events", connections)?;
        let direct = self.find("GET fake Google", connections)?;
        (direct.rps() > 0.0).then(|| service.rps() / direct.rps())
    }

    fn targets(&self) -> Vec<(String, String, Option<bool>)> {
        let mut t = Vec::new();
        let ratio = self.ratio(TARGET_CONNECTIONS);
        t.push((
            format!(
                "GET /events at {TARGET_CONNECTIONS} conns ≥ {:.0}% of the pass-through's throughput",
                TARGET_RATIO * 100.0
            ),
            ratio.map_or("n/a".into(), |r| format!("{:.0}%", r * 100.0)),
            ratio.map(|r| r >= TARGET_RATIO),
        ));
        let get = self.find("GET /events", TARGET_CONNECTIONS);
        t.push((
            format!("GET /events at {TARGET_CONNECTIONS} conns: p99 < {TARGET_P99_MS} ms"),
            get.map_or("n/a".into(), |o| format!("{:.2} ms", ms(o.p99))),
            get.map(|o| ms(o.p99) < TARGET_P99_MS),
        ));
        for i in &self.instantiations {
            t.push((
                format!(
                    "instantiation of `{}` < {TARGET_INSTANTIATION_US} µs (median)",
                    i.component
                ),
                format!("{:.0} µs", us(i.p50)),
                Some(us(i.p50) < TARGET_INSTANTIATION_US),
            ));
        }
        for w in &self.wasm {
            t.push((
                format!("`{}` < 1.5 MB", w.file),
                mb(w.bytes),
                Some(w.bytes < TARGET_WASM_BYTES),
            ));
        }
        t
    }

    /// The arithmetic behind each missed target, from this run's own figures.
    fn why_missed(&self) -> Vec<String> {
        let mut why = Vec::new();
        let get = self.find("GET /events", TARGET_CONNECTIONS);
        let direct = self.find("GET fake Google", TARGET_CONNECTIONS);
        if let (Some(get), Some(direct)) = (get, direct)
            && ms(get.p99) >= TARGET_P99_MS
        {
            // Little's law: with every connection always waiting on one request, the mean
            // latency is connections / throughput.
            let needed = TARGET_CONNECTIONS as f64 / (TARGET_P99_MS / 1000.0);
            let cpu = get.cpu_per_request().map(ms).unwrap_or(0.0);
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            why.push(format!(
                "p99 under {TARGET_P99_MS} ms with {TARGET_CONNECTIONS} connections that always \
                 have a request waiting needs, by Little's law, more than {needed:.0} req/s even \
                 for the mean latency. Each list request costs {cpu:.2} ms of CPU in this one \
                 process (load generator, host, guest and fakes together), so {cores:.0} cores \
                 serve at most {:.0} req/s; the service reached {:.0} req/s, a mean of {:.2} \
                 ms. The pass-through reached {:.0} req/s with a p99 of {:.2} ms on the same \
                 cores.",
                cores * 1000.0 / cpu.max(0.001),
                get.rps(),
                TARGET_CONNECTIONS as f64 * 1000.0 / get.rps().max(1.0),
                direct.rps(),
                ms(direct.p99),
            ));
        }
        if let (Some(get), Some(direct)) = (get, direct)
            && let (Some(g), Some(d)) = (get.cpu_per_request(), direct.cpu_per_request())
            && self
                .ratio(TARGET_CONNECTIONS)
                .is_some_and(|r| r < TARGET_RATIO)
        {
            why.push(format!(
                "Throughput is bound by CPU (2 cores shared by the client, the host, the guests \
                 and the fakes): a service request costs {:.2} ms of CPU against {:.2} ms for the \
                 pass-through. The service's extra work per request: one more HTTP hop (client to \
                 host, host to Google), a component instantiated, a Redis GET for the cached \
                 token, its decryption, Google's JSON parsed and mapped to our events, and a log \
                 line.",
                ms(g),
                ms(d),
            ));
        }
        for w in &self.wasm {
            if w.bytes >= TARGET_WASM_BYTES {
                why.push(format!(
                    "`{}` is {} of which {} are data segments, almost all of it the IANA time \
                     zone database that `chrono-tz` compiles in (every zone and link with its \
                     transitions, needed to turn a local `dateTime` into RFC 3339 with the zone's \
                     daylight-saving rules, as the SPEC asks); code is {}, compiled for speed \
                     (opt-level 2 in Cargo.toml's release profile: 15-20% fewer instructions \
                     per request than opt-level \"s\" for about 0.2 MB more; under Spin the \
                     code is compiled once per component, when the app loads).",
                    w.file,
                    mb(w.bytes),
                    mb(w.sections.data),
                    mb(w.sections.code),
                ));
            }
        }
        why
    }

    pub fn json(&self) -> Value {
        let m = &self.machine;
        json!({
            "date": self.date,
            "mode": self.mode,
            "commit": self.commit,
            "machine": {
                "cpus": m.cpus,
                "cpu_model": m.cpu_model,
                "memory": m.memory,
                "kernel": m.kernel,
                "rustc": m.rustc,
                "host_profile": m.host_profile,
                "load_average_before": self.load_before,
                "load_average_after": self.load_after,
            },
            "duration_s": round(self.duration.as_secs_f64(), 1),
            "http": self.scenarios.iter().map(|s| {
                let o = &s.outcome;
                json!({
                    "scenario": s.name,
                    "connections": o.connections,
                    "requests": o.requests,
                    "errors": o.errors,
                    "elapsed_s": round(o.elapsed.as_secs_f64(), 3),
                    "requests_per_s": round(o.rps(), 1),
                    "p50_ms": round(ms(o.p50), 3),
                    "p99_ms": round(ms(o.p99), 3),
                    "max_ms": round(ms(o.max), 3),
                    "process_cpu_ms_per_request": o.cpu_per_request().map(|d| round(ms(d), 3)),
                    "first_error": o.first_error,
                })
            }).collect::<Vec<_>>(),
            "upstream_per_request": self.upstream.iter().map(|(what, u)| json!({
                "request": what,
                "google_calls": u.google,
                "rest_calls": u.rest,
                "redis_commands": u.redis_commands,
                "then_updates_redis_commands": u.updates_redis_commands,
                "then_updates_rest_calls": u.updates_rest_calls,
            })).collect::<Vec<_>>(),
            "service_over_pass_through": CONNECTIONS_FOR_RATIO.iter().filter_map(|c| {
                self.ratio(*c).map(|r| json!({"connections": c, "ratio": round(r, 3)}))
            }).collect::<Vec<_>>(),
            "instantiation": self.instantiations.iter().map(|i| json!({
                "component": i.component,
                "n": i.n,
                "p50_us": round(us(i.p50), 1),
                "mean_us": round(us(i.mean), 1),
                "p99_us": round(us(i.p99), 1),
                "min_us": round(us(i.min), 1),
            })).collect::<Vec<_>>(),
            "peak_linear_memory_bytes": self.memory.iter().map(|(c, b)| json!({"component": c, "bytes": b})).collect::<Vec<_>>(),
            "process_peak_rss_bytes": self.rss,
            "wasm": self.wasm.iter().map(|w| json!({
                "component": w.component,
                "file": w.file,
                "bytes": w.bytes,
                "code_bytes": w.sections.code,
                "data_bytes": w.sections.data,
                "custom_section_bytes": w.sections.custom,
                "wasm_opt_oz_bytes": w.wasm_opt.as_ref().ok(),
                "wasm_opt_note": w.wasm_opt.as_ref().err(),
            })).collect::<Vec<_>>(),
            "targets": self.targets().into_iter().map(|(what, figure, met)| json!({
                "target": what, "figure": figure, "met": met,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(s, "# gcal benchmark ({} run)\n", self.mode);
        let _ = writeln!(
            s,
            "- date: {}, commit `{}`, took {:.0} s",
            self.date,
            self.commit,
            self.duration.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "- machine: {} CPUs ({}), {} memory, Linux {}",
            m.cpus, m.cpu_model, m.memory, m.kernel
        );
        let _ = writeln!(
            s,
            "- load average (1, 5, 15 min) before: {}; after: {}",
            self.load_before, self.load_after
        );
        let _ = writeln!(
            s,
            "- host: the test host (`tests/src/host.rs`, wasmtime 48), {}; {}; \
             components: release `.wasm` for wasm32-wasip2",
            m.host_profile, m.rustc
        );
        let _ = writeln!(
            s,
            "- everything in one process on loopback: host, fake Google, fake REST, load \
             generator (keep-alive HTTP/1.1, one task per connection); a private `redis-server`\n"
        );

        let _ = writeln!(s, "## HTTP\n");
        let _ = writeln!(
            s,
            "| scenario | conns | requests | errors | req/s | p50 ms | p99 ms | max ms | CPU ms/req |"
        );
        let _ = writeln!(
            s,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for sc in &self.scenarios {
            let o = &sc.outcome;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                sc.name,
                o.connections,
                o.requests,
                o.errors,
                o.rps(),
                ms(o.p50),
                ms(o.p99),
                ms(o.max),
                o.cpu_per_request()
                    .map_or("n/a".into(), |d| format!("{:.2}", ms(d)))
            );
        }
        let errors: Vec<_> = self
            .scenarios
            .iter()
            .filter_map(|sc| {
                sc.outcome.first_error.as_ref().map(|e| {
                    format!(
                        "- {} at {} conns, first error: {e}",
                        sc.name, sc.outcome.connections
                    )
                })
            })
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(s, "\n{}", errors.join("\n"));
        }

        let _ = writeln!(
            s,
            "\n## Upstream calls per request\n\nOne request each, after warm-up (the token is \
             cached), counted at the fakes and per component in the host; then what the updates \
             component did once woken by it:\n"
        );
        let _ = writeln!(
            s,
            "| request | Google calls | REST calls | Redis commands | then updates: Redis commands | then updates: REST calls |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for (what, u) in &self.upstream {
            let _ = writeln!(
                s,
                "| {what} | {} | {} | {} | {} | {} |",
                u.google, u.rest, u.redis_commands, u.updates_redis_commands, u.updates_rest_calls
            );
        }
        let _ = writeln!(
            s,
            "\n## Cost the service adds\n\nService throughput / pass-through throughput for the same \
             list (`GET /events/{{user}}` vs. the fake Google's list endpoint called directly):\n"
        );
        let _ = writeln!(s, "| conns | ratio |");
        let _ = writeln!(s, "| ---: | ---: |");
        for c in CONNECTIONS_FOR_RATIO {
            if let Some(r) = self.ratio(c) {
                let _ = writeln!(s, "| {c} | {:.0}% |", r * 100.0);
            }
        }

        let _ = writeln!(
            s,
            "\n## Instantiation (pre-instantiated path)\n\nA new `Store` plus instantiation from \
             the component's pre-instantiation, as each request (or Redis message) does, without \
             calling the guest:\n"
        );
        let _ = writeln!(
            s,
            "| component | n | median µs | mean µs | p99 µs | min µs |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for i in &self.instantiations {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                i.component,
                i.n,
                us(i.p50),
                us(i.mean),
                us(i.p99),
                us(i.min)
            );
        }

        let _ = writeln!(
            s,
            "\n## Memory\n\nPeak linear memory of one instance during the run (the largest any \
             single instance reached):\n"
        );
        let _ = writeln!(s, "| component | peak linear memory |");
        let _ = writeln!(s, "| --- | ---: |");
        for (c, b) in &self.memory {
            let _ = writeln!(s, "| {c} | {} KiB |", b / 1024);
        }
        if let Some(rss) = self.rss {
            let _ = writeln!(
                s,
                "\nPeak RSS of the whole benchmark process (host, fakes, load generator): {} MiB.",
                rss / (1024 * 1024)
            );
        }

        let _ = writeln!(s, "\n## .wasm sizes (release)\n");
        let _ = writeln!(
            s,
            "| component | file | bytes | size | code | data | custom sections | after `wasm-opt -Oz` |"
        );
        let _ = writeln!(s, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        let mut why_no_opt = None;
        for w in &self.wasm {
            let opt = match &w.wasm_opt {
                Ok(b) => format!("{} ({})", b, mb(*b)),
                Err(e) => {
                    why_no_opt.get_or_insert_with(|| e.clone());
                    "–".to_owned()
                }
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                w.component,
                w.file,
                w.bytes,
                mb(w.bytes),
                mb(w.sections.code),
                mb(w.sections.data),
                mb(w.sections.custom),
                opt
            );
        }
        let _ = writeln!(
            s,
            "\ncode, data and custom sections are summed over each component's core modules \
             (custom sections: names and producers)."
        );
        match why_no_opt {
            Some(why) => {
                let _ = writeln!(s, "`wasm-opt -Oz`: {why}.");
            }
            None => {
                let _ = writeln!(
                    s,
                    "`wasm-opt -Oz` ({}): binaryen reads core modules, not components, so each \
                     core module was cut out, optimised alone and counted in place of the \
                     original; the component around them is unchanged.",
                    command_line("wasm-opt", &["--version"]).unwrap_or_else(|| "binaryen".into())
                );
            }
        }

        let _ = writeln!(s, "\n## Targets\n");
        let _ = writeln!(s, "| target | figure | met |");
        let _ = writeln!(s, "| --- | ---: | --- |");
        for (what, figure, met) in self.targets() {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "n/a",
            };
            let _ = writeln!(s, "| {what} | {figure} | {met} |");
        }

        let why = self.why_missed();
        if !why.is_empty() {
            let _ = writeln!(s, "\nWhere a target is missed, the figures say why:\n");
            for w in why {
                let _ = writeln!(s, "- {w}");
            }
        }

        let _ = writeln!(s, "\n## Notes\n");
        let mut notes = vec![
            "Numbers are noisy: the machine is shared (other test suites may run at the same time; \
             see the load averages above), and the service, the fakes and the load generator share \
             its cores. Compare runs only with their load averages in mind."
                .to_owned(),
            "Latency is measured by the client: request written to response body read. \
             Each scenario starts with a short warm-up that is not counted. CPU ms/req is the \
             CPU time of the whole benchmark process (host, guests, fakes, load generator; not \
             `redis-server`) divided by the requests answered."
                .to_owned(),
            "`POST /events` includes what each create costs: a Redis publish and stream entry, and \
             the updates component delivering the notification to the fake REST service on the \
             same cores (the run waits for those deliveries between POST scenarios)."
                .to_owned(),
        ];
        notes.extend(self.notes.iter().cloned());
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
        s
    }
}

const CONNECTIONS_FOR_RATIO: [usize; 3] = [1, 16, 64];

impl Machine {
    fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            memory,
            kernel,
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".into()),
            host_profile: if cfg!(debug_assertions) {
                "dev profile of Cargo.toml (dependencies and gcal-bench at opt-level 2, dependencies without debug assertions; \
                 gcal-tests, the host's glue and the fakes, at opt-level 0 unless a note says \
                 otherwise)"
            } else {
                "release profile"
            },
        }
    }
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn git_commit() -> String {
    let Some(commit) = command_line("git", &["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit} + uncommitted changes")
    } else {
        commit
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000_000.0
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
