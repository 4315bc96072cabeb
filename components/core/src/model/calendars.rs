//! `GET /calendars/{user_id}`: the query, and the calendar we answer with for each of
//! Google's `calendarList` entries.

use super::params::Params;
use crate::http::problem::{Code, Problem};
use serde_json::{Value, json};

/// Google's page size when we follow every page.
pub const PAGE_SIZE: u32 = 250;
/// At most this many pages per request when following pages (2,500 calendars); past it the
/// answer carries `next_page_token`.
pub const MAX_PAGES: usize = 10;

const ROLES: [&str; 4] = ["freeBusyReader", "reader", "writer", "owner"];

/// The validated query of `GET /calendars/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarsQuery {
    pub min_access_role: Option<&'static str>,
    pub show_hidden: bool,
    pub page_token: Option<String>,
    pub max_results: Option<u32>,
}

impl CalendarsQuery {
    pub fn parse(query: &str) -> Result<CalendarsQuery, Problem> {
        let p = Params::parse(
            query,
            &[
                "min_access_role",
                "show_hidden",
                "page_token",
                "max_results",
            ],
        )?;
        let min_access_role = match p.get("min_access_role") {
            None => None,
            Some(r) => Some(ROLES.into_iter().find(|k| *k == r).ok_or_else(|| {
                Problem::new(
                    Code::InvalidQuery,
                    "min_access_role must be freeBusyReader, reader, writer or owner",
                )
            })?),
        };
        Ok(CalendarsQuery {
            min_access_role,
            show_hidden: p.boolean("show_hidden", false)?,
            page_token: p.token("page_token")?.map(str::to_owned),
            max_results: p.number("max_results", 1, 250)?,
        })
    }

    /// One page as the client asked (`page_token` or `max_results` given), rather than
    /// every page up to [`MAX_PAGES`].
    pub fn one_page(&self) -> bool {
        self.page_token.is_some() || self.max_results.is_some()
    }

    /// Google's query for one page, after `page_token` (ours, or the last page's).
    pub fn google(&self, page_token: Option<&str>) -> Vec<(&'static str, String)> {
        let mut q = vec![(
            "maxResults",
            self.max_results.unwrap_or(PAGE_SIZE).to_string(),
        )];
        if let Some(r) = self.min_access_role {
            q.push(("minAccessRole", r.to_owned()));
        }
        if self.show_hidden {
            q.push(("showHidden", "true".to_owned()));
        }
        if let Some(t) = page_token {
            q.push(("pageToken", t.to_owned()));
        }
        q
    }
}

/// A `calendarList` entry as we answer it: `primary`, `selected` and `hidden` always
/// booleans (Google leaves them out when false).
pub fn calendar(entry: &Value) -> Value {
    let flag = |k: &str| entry.get(k).and_then(Value::as_bool).unwrap_or(false);
    let text = |k: &str| entry.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": text("id"),
        "summary": text("summary"),
        "description": text("description"),
        "time_zone": text("timeZone"),
        "primary": flag("primary"),
        "access_role": text("accessRole"),
        "background_color": text("backgroundColor"),
        "selected": flag("selected"),
        "hidden": flag("hidden"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked_and_passed_on() {
        let q = CalendarsQuery::parse("min_access_role=writer&show_hidden=true").unwrap();
        assert!(!q.one_page());
        assert_eq!(
            q.google(Some("p2")),
            vec![
                ("maxResults", "250".to_owned()),
                ("minAccessRole", "writer".to_owned()),
                ("showHidden", "true".to_owned()),
                ("pageToken", "p2".to_owned()),
            ]
        );
        let q = CalendarsQuery::parse("max_results=5").unwrap();
        assert!(q.one_page());
        assert_eq!(q.google(None), vec![("maxResults", "5".to_owned())]);
        for bad in [
            "min_access_role=admin",
            "show_hidden=1",
            "max_results=0",
            "max_results=251",
            "page_token=",
            "color=red",
        ] {
            let e = CalendarsQuery::parse(bad).unwrap_err();
            assert_eq!(e.code, Code::InvalidQuery, "{bad}");
        }
    }

    #[test]
    fn flags_are_always_booleans() {
        let c = calendar(&json!({"id": "a@x", "summary": "A", "accessRole": "owner"}));
        assert_eq!(c["primary"], false);
        assert_eq!(c["selected"], false);
        assert_eq!(c["hidden"], false);
        assert_eq!(c["description"], Value::Null);
        assert_eq!(c["access_role"], "owner");
        let c = calendar(&json!({"id": "p", "summary": "S", "primary": true,
            "timeZone": "Europe/Berlin", "backgroundColor": "#fff"}));
        assert_eq!(c["primary"], true);
        assert_eq!(c["summary"], "S");
        assert_eq!(c["time_zone"], "Europe/Berlin");
        assert_eq!(c["background_color"], "#fff");
    }
}
