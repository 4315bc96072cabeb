//! One JSON object per line on stdout, the shape log collectors expect from Spin apps.
//! Fields are our own words and ids only: never pass a secret here.

use serde_json::{Value, json};
use std::cell::{Cell, RefCell};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// From the `log_level` variable; anything unknown is `info`.
    pub fn parse(s: &str) -> Level {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Level::Debug,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            _ => Level::Info,
        }
    }
}

// A component instance serves one request or message on one thread: per-instance state
// is plain thread-local state.
thread_local! {
    static THRESHOLD: Cell<Level> = const { Cell::new(Level::Info) };
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

/// What the request line reports beyond method, path and status.
#[derive(Default)]
struct Context {
    user_id: Option<String>,
    code: Option<&'static str>,
    upstream: Vec<Value>,
}

/// Lines below `level` are not written.
pub fn set_level(level: Level) {
    THRESHOLD.with(|t| t.set(level));
}

/// Notes the user a request is about, for its log line.
pub fn set_user(user: &str) {
    CONTEXT.with(|c| c.borrow_mut().user_id = Some(user.to_owned()));
}

/// Notes the problem code a request ended with.
pub fn set_code(code: &'static str) {
    CONTEXT.with(|c| c.borrow_mut().code = Some(code));
}

/// Notes one outbound call: where (origin only: paths may hold ids, queries tokens),
/// how it ended, how long it took.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn upstream(method: &str, origin: &str, status: Option<u16>, ms: f64) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        // Bounded: a request makes a handful of calls; a runaway loop must not grow this.
        if c.upstream.len() < 32 {
            c.upstream
                .push(json!({"method": method, "host": origin, "status": status, "ms": round(ms)}));
        }
    });
}

/// What a request's line reports beyond method, path and status.
#[derive(Debug, Default, PartialEq)]
pub struct RequestContext {
    pub user_id: Option<String>,
    pub code: Option<&'static str>,
    pub upstream: Vec<Value>,
}

/// Takes the request's context for its line, leaving it empty.
pub fn take_context() -> RequestContext {
    CONTEXT.with(|c| {
        let c = std::mem::take(&mut *c.borrow_mut());
        RequestContext {
            user_id: c.user_id,
            code: c.code,
            upstream: c.upstream,
        }
    })
}

pub fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// Writes `{"ts", "level", "msg", ...fields}` when `level` is at or above the threshold,
/// in one write to stdout.
pub fn emit(level: Level, msg: &str, fields: &[(&str, Value)]) {
    if level >= THRESHOLD.with(Cell::get) {
        use std::io::Write as _;
        let mut l = line(level, msg, fields);
        l.push(b'\n');
        // A log line that cannot be written has nowhere else to go.
        let _ = std::io::stdout().lock().write_all(&l);
    }
}

/// The line, serialised straight from the fields (no map built, nothing cloned), keys in
/// order: `ts`, `level`, `msg`, then the fields (a field named like one of those three
/// is left out).
fn line(level: Level, msg: &str, fields: &[(&str, Value)]) -> Vec<u8> {
    struct Line<'a> {
        ts: String,
        level: &'static str,
        msg: &'a str,
        fields: &'a [(&'a str, Value)],
    }
    impl serde::Serialize for Line<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap as _;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("ts", &self.ts)?;
            m.serialize_entry("level", self.level)?;
            m.serialize_entry("msg", self.msg)?;
            for (k, v) in self.fields {
                if !matches!(*k, "ts" | "level" | "msg") {
                    m.serialize_entry(k, v)?;
                }
            }
            m.end()
        }
    }
    let level = match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    let line = Line {
        ts: chrono::Utc::now().to_rfc3339(),
        level,
        msg,
        fields,
    };
    serde_json::to_vec(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("WARN"), Level::Warn);
        assert_eq!(Level::parse("nonsense"), Level::Info);
        assert!(Level::Debug < Level::Info && Level::Warn < Level::Error);
    }

    #[test]
    fn the_context_collects_user_and_upstream_calls_once() {
        set_user("u1");
        set_code("not_found");
        upstream("GET", "https://www.googleapis.com", Some(200), 12.3456);
        let ctx = take_context();
        assert_eq!(ctx.user_id.as_deref(), Some("u1"));
        assert_eq!(ctx.code, Some("not_found"));
        assert_eq!(ctx.upstream[0]["ms"], 12.35);
        assert_eq!(take_context(), RequestContext::default());
    }

    #[test]
    fn a_line_is_one_json_object() {
        let l = line(
            Level::Warn,
            "a\nb",
            &[("user_id", Value::from("u1")), ("level", Value::from("x"))],
        );
        assert!(!l.contains(&b'\n'));
        let v: Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a\nb");
        assert_eq!(v["user_id"], "u1");
    }
}
