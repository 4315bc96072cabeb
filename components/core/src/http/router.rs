//! A small router of our own, so each component's `lib.rs` reads as its route table:
//! `Router::new().get("/events/:user_id", user(events::list))`. Patterns are literal
//! segments, `:name` (one raw, still percent-encoded segment) and a final `*name` (the
//! rest, joined by `/`, possibly empty). Routes are tried in order; the first whose
//! pattern and method match answers. A path no route serves goes to the fallback
//! (`404 not_found`, behind the API token where the table says so); a route answering
//! `405` is declared in the table with `any`, so the table shows every answer, and a path
//! whose routes serve other methods only is `405` too (behind the fallback's check).
//! Every `405` carries `Allow`.

use super::guard::{self, Ctx, Endpoint, UserCtx};
use super::problem::Problem;
use super::request::segments;
use super::request_id::RequestId;
use super::response::{self, Response};
use crate::services::Runtime;
use http::{HeaderValue, header};

/// What a handler answers.
pub type Reply = Result<Response, Problem>;

enum Part {
    Literal(&'static str),
    Param(&'static str),
    Rest(&'static str),
}

impl Part {
    fn of(segment: &'static str) -> Part {
        match (segment.strip_prefix(':'), segment.strip_prefix('*')) {
            (Some(name), _) => Part::Param(name),
            (_, Some(name)) => Part::Rest(name),
            _ => Part::Literal(segment),
        }
    }
}

/// A route as written: the table is built for every request (an instance serves one), so
/// building it parses nothing and allocates nothing per route but its slot; the pattern
/// is read while matching.
struct Route<R: Runtime> {
    method: Option<&'static str>,
    pattern: &'static str,
    endpoint: Endpoint<R>,
}

pub struct Router<R: Runtime> {
    routes: Vec<Route<R>>,
    fallback: Endpoint<R>,
}

impl<R: Runtime> Default for Router<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Runtime> Router<R> {
    /// No routes; unknown paths are `404 not_found` without any check.
    pub fn new() -> Self {
        Router {
            // Room for the largest table (the events component's).
            routes: Vec::with_capacity(32),
            fallback: guard::public(not_found),
        }
    }

    pub fn get(self, path: &'static str, endpoint: Endpoint<R>) -> Self {
        self.route(Some("GET"), path, endpoint)
    }

    pub fn post(self, path: &'static str, endpoint: Endpoint<R>) -> Self {
        self.route(Some("POST"), path, endpoint)
    }

    pub fn patch(self, path: &'static str, endpoint: Endpoint<R>) -> Self {
        self.route(Some("PATCH"), path, endpoint)
    }

    pub fn delete(self, path: &'static str, endpoint: Endpoint<R>) -> Self {
        self.route(Some("DELETE"), path, endpoint)
    }

    /// Every method (after the routes above it): where a `405` or a `404` is answered.
    pub fn any(self, path: &'static str, endpoint: Endpoint<R>) -> Self {
        self.route(None, path, endpoint)
    }

    /// What answers a path no route serves.
    pub fn fallback(mut self, endpoint: Endpoint<R>) -> Self {
        self.fallback = endpoint;
        self
    }

    fn route(mut self, method: Option<&'static str>, path: &'static str, e: Endpoint<R>) -> Self {
        self.routes.push(Route {
            method,
            pattern: path,
            endpoint: e,
        });
        self
    }

    /// Runs the request through the table. A path whose routes serve other methods only
    /// is `405 method_not_allowed` (after the fallback's check); every `405` names the
    /// methods the path's routes serve in `Allow`.
    pub async fn dispatch(&self, cx: Ctx<'_, R>) -> Reply {
        let path = cx.req.uri().path();
        let segs = segments(path);
        let method = cx.req.method().as_str();
        let mut allowed: Vec<&'static str> = Vec::new();
        for route in &self.routes {
            let Some(params) = matches(route.pattern, &segs) else {
                continue;
            };
            match route.method {
                Some(m) if m != method => {
                    if serves_one_path(route.pattern, &params) && !allowed.contains(&m) {
                        allowed.push(m);
                    }
                }
                _ => {
                    let ctx = Ctx {
                        params: &params,
                        ..cx
                    };
                    return with_allow(route.endpoint.call(ctx).await, &allowed, cx.rid);
                }
            }
        }
        if allowed.is_empty() {
            return self.fallback.call(cx).await;
        }
        let refused = self
            .fallback
            .check(&cx)
            .and_then(|()| Err(super::request::method_not_allowed()));
        with_allow(refused, &allowed, cx.rid)
    }
}

/// Whether a route's match is one path of the route, not the rest of a longer path
/// swallowed by a final `*name` (`/auth/*user_id` does not serve `/auth/no/such/thing`).
fn serves_one_path(pattern: &'static str, params: &[(&'static str, String)]) -> bool {
    match pattern.rsplit('/').next().map(Part::of) {
        Some(Part::Rest(name)) => params
            .iter()
            .find(|(n, _)| *n == name)
            .is_none_or(|(_, v)| !v.contains('/')),
        _ => true,
    }
}

/// The answer, with `Allow` if it is a `405`.
fn with_allow(answer: Reply, allowed: &[&str], rid: &RequestId) -> Reply {
    let refused = match &answer {
        Ok(r) => r.status() == 405,
        Err(p) => p.status() == 405,
    };
    if !refused || allowed.is_empty() {
        return answer;
    }
    let mut r = response::finish(answer, rid);
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    Ok(r)
}

fn matches(pattern: &'static str, segs: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut n = 0;
    // Our patterns are well formed: `/a/:b/*c`, no empty segments.
    let parts = pattern.split('/').filter(|p| !p.is_empty());
    for (i, part) in parts.map(Part::of).enumerate() {
        n = i + 1;
        match part {
            Part::Literal(l) if segs.get(i) == Some(&l) => {}
            Part::Literal(_) => return None,
            Part::Param(name) => params.push((name, (*segs.get(i)?).to_owned())),
            Part::Rest(name) => {
                params.push((name, segs.get(i..).unwrap_or_default().join("/")));
                return Some(params);
            }
        }
    }
    (segs.len() == n).then_some(params)
}

/// `404 not_found`: the answer for a path no route serves.
pub async fn not_found<R: Runtime>(_: Ctx<'_, R>) -> Reply {
    Err(super::request::not_found())
}

/// `405 method_not_allowed`, for `any` after the methods a path serves.
pub async fn method_not_allowed<R: Runtime>(_: Ctx<'_, R>) -> Reply {
    Err(super::request::method_not_allowed())
}

/// The same two answers inside the user-scoped frame (after its checks and rate limit).
pub async fn user_not_found<R: Runtime>(_: UserCtx<'_, R>) -> Reply {
    Err(super::request::not_found())
}

pub async fn user_method_not_allowed<R: Runtime>(_: UserCtx<'_, R>) -> Reply {
    Err(super::request::method_not_allowed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &'static str) -> &'static str {
        Router::<crate::testing::TestRuntime>::new()
            .any(p, guard::public(not_found))
            .routes
            .remove(0)
            .pattern
    }

    #[test]
    fn patterns_bind_raw_segments_and_the_rest() {
        let p = pattern("/events/:user_id/:event_id");
        assert_eq!(
            matches(p, &["events", "u%40x", "e1"]),
            Some(vec![("user_id", "u%40x".into()), ("event_id", "e1".into())])
        );
        assert_eq!(matches(p, &["events", "u1"]), None);
        assert_eq!(matches(p, &["events", "u1", "e1", "x"]), None);
        let p = pattern("/auth/*user_id");
        assert_eq!(
            matches(p, &["auth"]),
            Some(vec![("user_id", String::new())])
        );
        assert_eq!(
            matches(p, &["auth", "url", "a"]),
            Some(vec![("user_id", "url/a".into())])
        );
        assert_eq!(matches(p, &["authx"]), None);
    }
}
