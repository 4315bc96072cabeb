//! One JSON object per line on stdout, the shape log collectors expect from Spin apps.
//! Fields are our own words and ids only: never pass a secret here.

use serde_json::Value;
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
    upstream: Vec<Upstream>,
}

/// One outbound call, as a line reports it: `{"method", "host", "status", "ms"}`.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Upstream {
    pub method: String,
    pub host: String,
    pub status: Option<u16>,
    pub ms: f64,
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
            c.upstream.push(Upstream {
                method: method.to_owned(),
                host: origin.to_owned(),
                status,
                ms: round(ms),
            });
        }
    });
}

/// What a request's line reports beyond method, path and status.
#[derive(Debug, Default, PartialEq)]
pub struct RequestContext {
    pub user_id: Option<String>,
    pub code: Option<&'static str>,
    pub upstream: Vec<Upstream>,
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
    emit_record(level, msg, &Fields(fields));
}

/// Writes `{"ts", "level", "msg", ...record}` when `level` is at or above the threshold,
/// in one write to stdout: `record` is a struct (or map) whose fields follow `msg`, so a
/// line of known shape is serialised straight from its types, with no `Value` built.
pub fn emit_record(level: Level, msg: &str, record: &impl serde::Serialize) {
    if level >= THRESHOLD.with(Cell::get) {
        use std::io::Write as _;
        let mut l = line(level, msg, record);
        l.push(b'\n');
        // A log line that cannot be written has nowhere else to go.
        let _ = std::io::stdout().lock().write_all(&l);
    }
}

/// Free-form fields as a map, in order (a field named like `ts`, `level` or `msg` is left
/// out).
struct Fields<'a>(&'a [(&'a str, Value)]);

impl serde::Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if !matches!(*k, "ts" | "level" | "msg") {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The line, keys in order: `ts`, `level`, `msg`, then the record's fields. The record is
/// serialised as its own object whose opening brace becomes the comma after `msg`.
fn line(level: Level, msg: &str, record: &impl serde::Serialize) -> Vec<u8> {
    let level = match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    let mut out = Vec::with_capacity(320);
    // An RFC 3339 time is ASCII digits and punctuation: nothing in it needs escaping.
    out.extend_from_slice(b"{\"ts\":\"");
    out.extend_from_slice(chrono::Utc::now().to_rfc3339().as_bytes());
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(level.as_bytes());
    out.extend_from_slice(b"\",\"msg\":");
    if serde_json::to_writer(&mut out, msg).is_err() {
        return Vec::new();
    }
    let at = out.len();
    if serde_json::to_writer(&mut out, record).is_err() || out.get(at) != Some(&b'{') {
        // Not an object: a programming error; the line is dropped rather than malformed.
        return Vec::new();
    }
    if out.len() - at == 2 {
        // `{}`: no more fields.
        out.truncate(at);
        out.push(b'}');
    } else {
        out[at] = b',';
    }
    out
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
        assert_eq!(ctx.upstream[0].ms, 12.35);
        assert_eq!(ctx.upstream[0].host, "https://www.googleapis.com");
        assert_eq!(take_context(), RequestContext::default());
    }

    #[test]
    fn a_line_is_one_json_object() {
        let l = line(
            Level::Warn,
            "a\nb",
            &Fields(&[("user_id", Value::from("u1")), ("level", Value::from("x"))]),
        );
        assert!(!l.contains(&b'\n'));
        let v: Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a\nb");
        assert_eq!(v["user_id"], "u1");
        assert!(chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).is_ok());
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }

    #[test]
    fn a_record_line_puts_its_fields_after_msg_in_order() {
        #[derive(serde::Serialize)]
        struct R<'a> {
            b: &'a str,
            a: Option<u16>,
        }
        let l = line(Level::Info, "m", &R { b: "x\"y", a: None });
        let text = std::str::from_utf8(&l).unwrap();
        assert!(
            text.ends_with(r#","msg":"m","b":"x\"y","a":null}"#),
            "{text}"
        );
        let v: Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["b"], "x\"y");
        // No fields at all, and a record that is not an object.
        let empty: Value = serde_json::from_slice(&line(Level::Info, "m", &Fields(&[]))).unwrap();
        assert_eq!(empty.as_object().unwrap().len(), 3);
        assert!(line(Level::Info, "m", &42).is_empty());
    }
}
