//! One JSON object per line on stdout, the shape log collectors expect from Spin apps.
//! Fields are our own words and ids only: never pass a secret here.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Writes `{"ts", "level", "msg", ...fields}`.
pub fn emit(level: Level, msg: &str, fields: &[(&str, Value)]) {
    println!("{}", line(level, msg, fields));
}

fn line(level: Level, msg: &str, fields: &[(&str, Value)]) -> String {
    let mut m = Map::new();
    m.insert("ts".into(), Value::from(chrono::Utc::now().to_rfc3339()));
    let level = match level {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    m.insert("level".into(), Value::from(level));
    m.insert("msg".into(), Value::from(msg));
    for (k, v) in fields {
        m.insert((*k).to_owned(), v.clone());
    }
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object() {
        let l = line(Level::Warn, "a\nb", &[("user_id", Value::from("u1"))]);
        assert!(!l.contains('\n'));
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a\nb");
        assert_eq!(v["user_id"], "u1");
    }
}
