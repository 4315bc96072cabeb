//! Query strings of the read routes: each parameter at most once, only known names, and the
//! readings they share (booleans, whole numbers in a range, instants or dates).

use super::event::clip;
use crate::http::problem::{Code, Problem};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::collections::HashMap;

/// A parsed query string.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

fn invalid(detail: String) -> Problem {
    Problem::new(Code::InvalidQuery, detail)
}

impl Params {
    /// 400 `invalid_query` for a repeated parameter or one not in `known`.
    pub fn parse(query: &str, known: &[&str]) -> Result<Params, Problem> {
        let mut seen = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen
                .insert(k.clone().into_owned(), v.into_owned())
                .is_some()
            {
                return Err(invalid(format!("`{}` is given more than once", clip(&k))));
            }
        }
        if let Some(k) = seen.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(format!("unknown parameter `{}`", clip(k))));
        }
        Ok(Params(seen))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// `true` or `false`, else `default` when absent.
    pub fn boolean(&self, k: &str, default: bool) -> Result<bool, Problem> {
        match self.get(k) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(invalid(format!("`{k}` must be true or false"))),
        }
    }

    /// A whole number in `lo..=hi`, or `None` when absent.
    pub fn number(&self, k: &str, lo: u32, hi: u32) -> Result<Option<u32>, Problem> {
        self.get(k)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| invalid(format!("{k} must be {lo} to {hi}")))
            })
            .transpose()
    }

    /// An opaque token of Google's (`page_token`, `sync_token`): 1 to 2048 characters, no
    /// control characters.
    pub fn token(&self, k: &str) -> Result<Option<&str>, Problem> {
        match self.get(k) {
            Some(t)
                if t.is_empty() || t.chars().count() > 2048 || t.chars().any(char::is_control) =>
            {
                Err(invalid(format!("`{k}` is malformed")))
            }
            other => Ok(other),
        }
    }

    /// An RFC 3339 instant, or a date (`YYYY-MM-DD`) read as midnight in `zone`, else UTC.
    pub fn instant(
        &self,
        k: &str,
        zone: Option<Tz>,
    ) -> Result<Option<DateTime<FixedOffset>>, Problem> {
        let Some(v) = self.get(k) else {
            return Ok(None);
        };
        if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
            return Ok(Some(dt));
        }
        let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| invalid(format!("`{k}` must be RFC 3339 or YYYY-MM-DD")))?;
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        let resolved = match zone {
            Some(z) => z
                .from_local_datetime(&midnight)
                .earliest()
                .map(|t| t.fixed_offset()),
            None => Some(chrono::Utc.from_utc_datetime(&midnight).fixed_offset()),
        };
        resolved
            .map(Some)
            .ok_or_else(|| invalid(format!("`{k}` does not exist in the time zone")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_unknown_parameters_are_refused() {
        let e = Params::parse("a=1&a=2", &["a"]).unwrap_err();
        assert_eq!(e.code, Code::InvalidQuery);
        assert!(e.detail.contains("more than once"));
        let e = Params::parse("b=1", &["a"]).unwrap_err();
        assert!(e.detail.contains("unknown parameter `b`"));
        assert_eq!(
            Params::parse("a=x%20y", &["a"]).unwrap().get("a"),
            Some("x y")
        );
    }

    #[test]
    fn readings() {
        let p = Params::parse(
            "t=true&f=no&n=7&big=9999&d=2026-03-29&z=2026-01-01T10:00:00Z&e=",
            &["t", "f", "n", "big", "d", "z", "e"],
        )
        .unwrap();
        assert!(p.boolean("t", false).unwrap());
        assert!(p.boolean("missing", true).unwrap());
        assert!(p.boolean("f", true).is_err());
        assert_eq!(p.number("n", 1, 10).unwrap(), Some(7));
        assert!(p.number("big", 1, 10).is_err());
        assert_eq!(p.number("missing", 1, 10).unwrap(), None);
        assert!(p.token("e").is_err());
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let d = p.instant("d", Some(berlin)).unwrap().unwrap();
        assert_eq!(d.to_rfc3339(), "2026-03-29T00:00:00+01:00");
        let z = p.instant("z", None).unwrap().unwrap();
        assert_eq!(z.to_rfc3339(), "2026-01-01T10:00:00+00:00");
        assert!(p.instant("n", None).is_err());
    }
}
