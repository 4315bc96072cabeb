//! The OpenAPI documents against the running service (issue 7).
//!
//! `openapi.json` (served at `/openapi.json`) describes this service; the second document,
//! `openapi-rest-service.json`, the user-data REST service it calls. Nothing here trusts
//! either document: the suites drive real flows through the built components in the test
//! host (real Redis, fake Google and REST) and check every answer against the document,
//! by method, path template and status, with a JSON Schema 2020-12 validator (OpenAPI 3.1
//! schemas are JSON Schema): the body against the response schema (problem codes
//! included), the required headers, the content type, and that the status is documented
//! at all. Every request the service sent to the REST fake is checked against the second
//! document, and every message on the stream against the `CloudEvent` schema. So the
//! documents cannot drift from the code: a field added, renamed or dropped, a new status,
//! a new problem code fails here.

mod common;

use common::{App, Resp, enc};
use gcal_tests::fakes::google::Route as GoogleRoute;
use gcal_tests::fakes::{Fault, Faulty as _};
use redis::Commands as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USER: &str = "u1";
const EMAIL: &str = "u1@example.com";
const WAIT: Duration = Duration::from_secs(20);

fn root() -> PathBuf {
    gcal_tests::build::workspace_root()
}

fn read_json(name: &str) -> Value {
    let path = root().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

// ================================================================== the document model

/// An OpenAPI 3.1 document, with compiled schemas cached.
struct Spec {
    name: &'static str,
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// `#/components/schemas/X` → `#/$defs/X`, so a schema can be compiled on its own with the
/// document's schemas beside it.
fn rewrite_refs(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => (
                        k.clone(),
                        Value::String(r.replace("#/components/schemas/", "#/$defs/")),
                    ),
                    _ => (k.clone(), rewrite_refs(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(rewrite_refs).collect()),
        other => other.clone(),
    }
}

/// Path templates of a document matched against a concrete path: `{x}` is one segment;
/// among several matches the one with more literal segments wins (OpenAPI's rule).
fn match_template<'a>(templates: impl Iterator<Item = &'a String>, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    templates
        .filter_map(|t| {
            let tsegs: Vec<&str> = t.trim_start_matches('/').split('/').collect();
            if tsegs.len() != segs.len() {
                return None;
            }
            let mut literals = 0;
            for (t, s) in tsegs.iter().zip(&segs) {
                if t.starts_with('{') && t.ends_with('}') {
                    if s.is_empty() {
                        return None;
                    }
                } else if t == s {
                    literals += 1;
                } else {
                    return None;
                }
            }
            Some((t.clone(), literals))
        })
        .max_by_key(|(_, n)| *n)
        .map(|(t, _)| t)
}

impl Spec {
    fn load(name: &'static str) -> Spec {
        Spec {
            name,
            doc: read_json(name),
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// Follows local `$ref`s until a non-reference object.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..16 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let pointer = r
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("{}: non-local $ref {r}", self.name));
                    v = self
                        .doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("{}: dangling $ref {r}", self.name));
                }
                None => return v,
            }
        }
        panic!("{}: $ref loop", self.name)
    }

    fn template(&self, path: &str) -> Option<String> {
        let paths = self.doc["paths"].as_object()?;
        match_template(paths.keys(), path)
    }

    /// The operation for a concrete method and path.
    fn operation(&self, method: &str, path: &str) -> Result<(String, &Value), String> {
        let template = self
            .template(path)
            .ok_or_else(|| format!("{}: no path template matches {path}", self.name))?;
        let op = self.doc["paths"][&template]
            .get(method.to_ascii_lowercase())
            .ok_or_else(|| format!("{}: {method} {template} is not documented", self.name))?;
        Ok((template, op))
    }

    fn validator(&self, schema: &Value) -> Arc<jsonschema::Validator> {
        let key = schema.to_string();
        if let Some(v) = self.validators.lock().unwrap().get(&key) {
            return v.clone();
        }
        let mut compiled = rewrite_refs(schema);
        if let Value::Object(m) = &mut compiled {
            m.insert(
                "$defs".into(),
                rewrite_refs(&self.doc["components"]["schemas"]),
            );
        }
        let v = Arc::new(
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&compiled)
                .unwrap_or_else(|e| {
                    panic!("{}: schema does not compile: {e}\n{schema}", self.name)
                }),
        );
        self.validators.lock().unwrap().insert(key, v.clone());
        v
    }

    /// Validation errors of `instance` against `schema`, one line each.
    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(instance)
            .map(|e| format!("{e} (at `{}`)", e.instance_path()))
            .collect()
    }

    fn schema(&self, name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// Checks one answer against the document; `Err` says everything that is wrong.
    fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) -> Result<String, String> {
        let (template, op) = self.operation(method, path)?;
        let op_id = op["operationId"].as_str().unwrap_or("?").to_owned();
        let where_ = format!("{method} {path} ({op_id}) answered {status}");
        let response = op["responses"]
            .get(status.to_string())
            .map(|r| self.resolve(r))
            .ok_or_else(|| {
                let documented: Vec<&String> = op["responses"]
                    .as_object()
                    .map(|m| m.keys().collect())
                    .unwrap_or_default();
                format!("{where_}: status not documented (documented: {documented:?}); body {body}")
            })?;
        let mut problems = Vec::new();
        if let Some(hs) = response.get("headers").and_then(Value::as_object) {
            for (name, h) in hs {
                let h = self.resolve(h);
                match headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                    None if h["required"] == true => {
                        problems.push(format!("required header `{name}` is missing"))
                    }
                    None => {}
                    Some(value) => {
                        let instance = if h["schema"]["type"] == "integer" {
                            value
                                .parse::<i64>()
                                .map(Value::from)
                                .unwrap_or_else(|_| Value::from(value))
                        } else {
                            Value::from(value)
                        };
                        for e in self.errors(&h["schema"], &instance) {
                            problems.push(format!("header `{name}: {value}`: {e}"));
                        }
                    }
                }
            }
        }
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        match response.get("content").and_then(Value::as_object) {
            None => {
                if !body.is_empty() {
                    problems.push(format!("documented without a body, but got {body}"));
                }
            }
            Some(content) => {
                let ct = content_type.unwrap_or_default();
                match content.get(&ct) {
                    None => problems.push(format!(
                        "content type `{ct}` not documented (documented: {:?})",
                        content.keys().collect::<Vec<_>>()
                    )),
                    // A page (`text/html`): the body as a string, against the schema.
                    Some(media) if !ct.ends_with("json") => {
                        for e in self.errors(&media["schema"], &Value::from(body)) {
                            problems.push(format!("body: {e}"));
                        }
                    }
                    Some(media) => match serde_json::from_str::<Value>(body) {
                        Err(e) => problems.push(format!("body is not JSON ({e}): {body}")),
                        Ok(instance) => {
                            for e in self.errors(&media["schema"], &instance) {
                                problems.push(format!("body: {e}"));
                            }
                        }
                    },
                }
            }
        }
        if problems.is_empty() {
            Ok(op_id)
        } else {
            Err(format!(
                "{where_} ({template}) does not match {}:\n  - {}\n  body: {}",
                self.name,
                problems.join("\n  - "),
                clip(body)
            ))
        }
    }

    /// Checks a request body we sent (and the service accepted) against the document.
    fn check_request_body(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let (_, op) = self.operation(method, path)?;
        let schema = &self.resolve(&op["requestBody"])["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Err(format!("{method} {path}: no JSON request body documented"));
        }
        let errors = self.errors(schema, body);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {path}: accepted body {body} does not match the documented request schema: {errors:?}"
            ))
        }
    }

    /// Every `(operationId, status)` the document promises for a success (2xx, 3xx).
    fn success_statuses(&self) -> BTreeSet<(String, u16)> {
        let mut out = BTreeSet::new();
        for item in self.doc["paths"].as_object().unwrap().values() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                for status in op["responses"].as_object().unwrap().keys() {
                    let s: u16 = status.parse().expect("numeric statuses only");
                    if s < 400 {
                        out.insert((op["operationId"].as_str().unwrap().to_owned(), s));
                    }
                }
            }
        }
        out
    }
}

fn clip(s: &str) -> String {
    s.chars().take(600).collect()
}

// ================================================================== the client side

/// Checks every answer against the document as it arrives.
struct Checker<'a> {
    spec: &'a Spec,
    /// `(operationId, status)` seen.
    covered: Mutex<BTreeSet<(String, u16)>>,
    mismatches: Mutex<Vec<String>>,
}

impl Checker<'_> {
    fn check(&self, method: &Method, path: &str, resp: &Resp) {
        if resp.headers.get("x-request-id").is_none() {
            self.mismatch(format!("{method} {path}: no x-request-id"));
        }
        let bare = path.split('?').next().unwrap_or(path);
        match self.spec.check_response(
            method.as_str(),
            bare,
            resp.status,
            &resp.headers,
            &resp.text,
        ) {
            Ok(op_id) => {
                self.covered.lock().unwrap().insert((op_id, resp.status));
            }
            Err(e) => self.mismatch(e),
        }
    }

    fn mismatch(&self, e: String) {
        self.mismatches.lock().unwrap().push(e);
    }
}

/// The shared client, its every answer checked against the document.
struct Api<'a> {
    client: common::Api<'a>,
    checker: Arc<Checker<'a>>,
}

impl<'a> Api<'a> {
    fn new(app: &'a App, spec: &'a Spec) -> Self {
        let checker = Arc::new(Checker {
            spec,
            covered: Mutex::new(BTreeSet::new()),
            mismatches: Mutex::new(Vec::new()),
        });
        let observer = checker.clone();
        Api {
            client: common::Api::observed(
                app,
                Box::new(move |method, path, resp| observer.check(method, path, resp)),
            ),
            checker,
        }
    }

    fn request(&self, method: Method, path: &str, token: bool) -> reqwest::RequestBuilder {
        if token {
            self.client.authed(method, path)
        } else {
            self.client.request(method, path)
        }
    }

    /// Sends, reads, and checks the answer against the document.
    async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        self.client.send(req).await
    }

    async fn call(&self, method: Method, path: &str) -> Resp {
        self.send(self.request(method, path, true)).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path).await
    }

    /// A JSON request; a body the service accepts (2xx) must also match the document's
    /// request schema.
    async fn json(&self, method: Method, path: &str, body: &Value) -> Resp {
        let r = self
            .send(self.request(method.clone(), path, true).json(body))
            .await;
        if (200..300).contains(&r.status) {
            let bare = path.split('?').next().unwrap_or(path);
            if let Err(e) = self
                .checker
                .spec
                .check_request_body(method.as_str(), bare, body)
            {
                self.checker.mismatch(e);
            }
        }
        r
    }

    /// `POST /events/{USER}` with an `Idempotency-Key`.
    async fn keyed(&self, body: &Value, key: &str) -> Resp {
        self.client
            .post_with_key(&format!("/events/{USER}"), key, body)
            .await
    }

    /// An answer to a method the path does not serve: not an operation of the document,
    /// but still a problem of the documented shape.
    async fn unserved(&self, method: Method, path: &str, token: bool) -> Resp {
        let r = self
            .client
            .fetch(self.request(method.clone(), path, token))
            .await;
        let body: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
        let spec = self.checker.spec;
        for e in spec.errors(&spec.schema("Problem"), &body) {
            self.checker.mismatch(format!("{method} {path}: {e}"));
        }
        r
    }

    /// The whole OAuth flow through `GET /auth/callback`; the callback's answer.
    async fn connect(&self, user: &str, email: &str) -> Resp {
        self.client.app.rest.add_user(user, Some(email), None);
        common::authorize(&self.client, user, common::Callback::Get)
            .await
            .1
    }

    #[track_caller]
    fn assert_clean(&self) {
        let m = self.checker.mismatches.lock().unwrap();
        assert!(
            m.is_empty(),
            "{} answer(s) do not match the document:\n{}",
            m.len(),
            m.join("\n\n")
        );
    }
}

fn timed(summary: &str, start: &str, end: &str) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": start, "timeZone": "Europe/Berlin"},
        "end": {"dateTime": end, "timeZone": "Europe/Berlin"},
    })
}

/// Every request the service sent to the REST fake, checked against the REST document.
fn check_rest_requests(app: &App, rest: &Spec) -> Vec<String> {
    let mut errors = Vec::new();
    let record_fields: BTreeSet<String> =
        rest.doc["components"]["schemas"]["CredentialRecord"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
    let requests = app.rest.requests();
    assert!(!requests.is_empty(), "nothing reached the REST fake");
    for r in &requests {
        let (template, op) = match rest.operation(&r.method, &r.path) {
            Ok(x) => x,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for p in params.iter().map(|p| rest.resolve(p)) {
            if p["in"] == "header" && p["required"] == true {
                let name = p["name"].as_str().unwrap();
                match r.header(name) {
                    None => errors.push(format!("{} {}: no `{name}` header", r.method, r.path)),
                    Some(v) => {
                        for e in rest.errors(&p["schema"], &Value::from(v)) {
                            errors.push(format!("{} {}: header `{name}`: {e}", r.method, r.path));
                        }
                    }
                }
            }
        }
        if let Some(body) = op.get("requestBody") {
            let schema = &rest.resolve(body)["content"]["application/json"]["schema"];
            match r.json() {
                None => errors.push(format!("{} {}: body is not JSON", r.method, r.path)),
                Some(v) => {
                    for e in rest.errors(schema, &v) {
                        errors.push(format!("{} {template}: body {e}", r.method));
                    }
                    if template.ends_with("/credentials/google") {
                        let sent: BTreeSet<String> =
                            v.as_object().unwrap().keys().cloned().collect();
                        if sent != record_fields {
                            errors.push(format!(
                                "PUT credentials sent fields {sent:?}, the document lists {record_fields:?}"
                            ));
                        }
                    }
                    if template == "/notifications"
                        && r.header("idempotency-key") != v["id"].as_str()
                    {
                        errors.push("Idempotency-Key is not the CloudEvent id".into());
                    }
                }
            }
        } else if !r.body.is_empty() {
            errors.push(format!(
                "{} {}: a body where none is documented",
                r.method, r.path
            ));
        }
    }
    errors
}

/// Every message on the stream, checked against the `CloudEvent` schema.
fn check_stream(app: &App, spec: &Spec) -> (usize, Vec<String>) {
    let mut con = redis::Client::open(app.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("gcal:stream:events")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let schema = spec.schema("CloudEvent");
    let mut errors = Vec::new();
    for (id, fields) in &entries {
        for (_, payload) in fields {
            let v: Value = serde_json::from_str(payload).unwrap();
            for e in spec.errors(&schema, &v) {
                errors.push(format!("stream entry {id} ({}): {e}", v["type"]));
            }
        }
    }
    (entries.len(), errors)
}

// ================================================================== the documents themselves

#[test]
fn the_document_is_openapi_3_1_with_every_reference_resolving() {
    for name in ["openapi.json", "openapi-rest-service.json"] {
        let spec = Spec::load(name);
        assert_eq!(spec.doc["openapi"], "3.1.0", "{name}");
        assert!(spec.doc["info"]["title"].is_string(), "{name}");
        assert!(spec.doc["info"]["version"].is_string(), "{name}");
        // Every $ref resolves, and every schema compiles.
        fn walk(spec: &Spec, v: &Value, at: &str) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(_)) = m.get("$ref") {
                        spec.resolve(v);
                    }
                    for (k, v) in m {
                        walk(spec, v, &format!("{at}/{k}"));
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(spec, v, at)),
                _ => {}
            }
        }
        walk(&spec, &spec.doc, "");
        for (schema, _) in spec.doc["components"]["schemas"].as_object().unwrap() {
            spec.validator(&spec.schema(schema));
        }
        // Unique operation ids; no catch-all `default` responses (every status is named,
        // so an undocumented one fails the response checks).
        let mut ids = BTreeSet::new();
        for (path, item) in spec.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {method} {path} has no operationId"));
                assert!(
                    ids.insert(id.to_owned()),
                    "{name}: duplicate operationId {id}"
                );
                assert!(
                    op["responses"].get("default").is_none(),
                    "{name}: {id} has a default response"
                );
            }
        }
    }
}

/// `(code, status)` of every `Code` of `components/core/src/http/problem.rs`.
fn codes_in_source() -> BTreeMap<String, u16> {
    let codes: BTreeMap<String, u16> = gcal_core::ProblemCode::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.status()))
        .collect();
    assert!(codes.len() >= 30, "{codes:?}");
    assert_eq!(
        codes.len(),
        gcal_core::ProblemCode::ALL.len(),
        "a code used twice"
    );
    codes
}

#[test]
fn problem_codes_and_their_statuses_are_exactly_those_of_the_code() {
    let spec = Spec::load("openapi.json");
    let source = codes_in_source();
    // The catalogue: ProblemCode lists each code once, with its status.
    let documented: BTreeMap<String, u16> =
        spec.doc["components"]["schemas"]["ProblemCode"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["const"].as_str().unwrap().to_owned(),
                    c["x-status"].as_u64().unwrap() as u16,
                )
            })
            .collect();
    assert_eq!(documented, source, "ProblemCode vs problem.rs");
    // Each problem response lists only codes that come with its status, and every code
    // but `method_not_allowed` (answered on methods that are no operation) is used.
    let mut used = BTreeSet::new();
    let mut check = |where_: &str, status: &str, response: &Value| {
        let response = spec.resolve(response);
        let Some(schema) = response
            .get("content")
            .and_then(|c| c.get("application/problem+json"))
            .map(|m| &m["schema"])
        else {
            return;
        };
        let code = &schema["properties"]["code"];
        let codes: Vec<&str> = match (code.get("const"), code.get("enum")) {
            (Some(c), _) => vec![c.as_str().unwrap()],
            (_, Some(Value::Array(a))) => a.iter().map(|c| c.as_str().unwrap()).collect(),
            _ => panic!("{where_} {status}: the problem response does not name its codes"),
        };
        assert_eq!(
            schema["properties"]["status"]["const"].as_u64(),
            status.parse::<u64>().ok(),
            "{where_} {status}"
        );
        for c in codes {
            assert_eq!(
                source.get(c).map(|s| s.to_string()).as_deref(),
                Some(status),
                "{where_}: `{c}` under status {status}"
            );
            used.insert(c.to_owned());
        }
    };
    for (path, item) in spec.doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                check(&format!("{method} {path}"), status, r);
            }
        }
    }
    let unused: Vec<&String> = source
        .keys()
        .filter(|c| !used.contains(*c) && c.as_str() != "method_not_allowed")
        .collect();
    assert!(
        unused.is_empty(),
        "codes no operation documents: {unused:?}"
    );
}

#[test]
fn every_http_route_of_spin_toml_is_documented_and_nothing_else() {
    let spec = Spec::load("openapi.json");
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(gcal_tests::build::manifest_path()).unwrap())
            .unwrap();
    let routes: Vec<String> = manifest["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["route"].as_str().unwrap().to_owned())
        .collect();
    assert!(routes.iter().any(|r| r == "/openapi.json"), "{routes:?}");
    let paths: Vec<&String> = spec.doc["paths"].as_object().unwrap().keys().collect();
    for route in &routes {
        match route.strip_suffix("/...") {
            Some(base) => assert!(
                paths.iter().any(|p| p.starts_with(&format!("{base}/"))),
                "no documented path under {route}"
            ),
            None => assert!(paths.contains(&route), "{route} is not documented"),
        }
    }
    for path in paths {
        let routed = routes.iter().any(|r| match r.strip_suffix("/...") {
            Some(base) => path.starts_with(&format!("{base}/")),
            None => r == path,
        });
        assert!(
            routed,
            "{path} is documented but spin.toml routes nothing there"
        );
    }
}

#[test]
fn the_documents_share_one_cloudevent_definition() {
    let api = read_json("openapi.json");
    let rest = read_json("openapi-rest-service.json");
    for name in [
        "CloudEvent",
        "EventNotificationData",
        "CalendarChangedData",
        "AuthCompletedData",
        "AuthRevokedData",
        "AuthRefreshFailedData",
        "EventTime",
    ] {
        assert_eq!(
            api["components"]["schemas"][name], rest["components"]["schemas"][name],
            "{name} differs between the documents"
        );
        assert!(api["components"]["schemas"][name].is_object(), "{name}");
    }
}

// ================================================================== real answers

/// A step of [`real_answers_match_the_document`]: the public routes: health and the document itself.
async fn public_routes(api: &Api<'_>, spec: &Spec) {
    // ---- public routes
    api.send(api.request(Method::GET, "/health", false))
        .await
        .expect(200);
    let doc = api
        .send(api.request(Method::GET, "/openapi.json", false))
        .await;
    doc.expect(200);
    assert_eq!(doc.header("content-type"), Some("application/json"));
    assert_eq!(
        doc.json(),
        spec.doc,
        "the served document is not the repository's openapi.json (rebuild the health component)"
    );
    api.unserved(Method::POST, "/openapi.json", false)
        .await
        .problem(405, "method_not_allowed");
    api.unserved(Method::POST, "/health", false)
        .await
        .problem(405, "method_not_allowed");
}

/// A step of [`real_answers_match_the_document`]: auth: the flow (finished by a browser and by a backend), status, errors.
async fn auth_routes(api: &Api<'_>, app: &App) {
    // ---- auth: the flow, status, errors
    api.get("/auth/status/u1").await.expect(200);
    let connected = api.connect(USER, EMAIL).await;
    connected.expect(200);
    api.get(&format!("/auth/url/{USER}")).await.expect(200);
    assert_eq!(
        api.get(&format!("/auth/status/{USER}"))
            .await
            .expect(200)
            .json()["authorized"],
        true
    );
    // The same flow, finished by a backend with POST.
    app.rest.add_user("u2", Some("u2@example.com"), None);
    let begun = api.get("/auth/url/u2").await;
    let consent = app
        .google
        .consent(begun.json()["auth_url"].as_str().unwrap())
        .unwrap();
    api.json(
        Method::POST,
        "/auth/callback",
        &json!({"code": consent.code, "state": consent.state}),
    )
    .await
    .expect(200);
    api.json(
        Method::POST,
        "/auth/callback",
        &json!({"code": "x", "state": "y", "extra": 1}),
    )
    .await
    .problem(400, "invalid_request");
    api.send(api.request(
        Method::GET,
        "/auth/callback?code=abc&state=unknown-state",
        false,
    ))
    .await
    .problem(400, "invalid_state");
    api.send(api.request(
        Method::GET,
        "/auth/callback?error=access_denied&state=s",
        false,
    ))
    .await
    .problem(400, "authorization_denied");
    // A browser at the callback: pages, with the statuses of the JSON answers.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    app.rest
        .add_user("browser-user", Some("browser-user@example.com"), None);
    let begun = api.get("/auth/url/browser-user").await;
    let consent = app
        .google
        .consent(begun.json()["auth_url"].as_str().unwrap())
        .unwrap();
    let path = format!(
        "/auth/callback?code={}&state={}",
        enc(&consent.code),
        enc(&consent.state)
    );
    for (status, says) in [(200, "connected for browser-user"), (400, "expired")] {
        let page = api
            .send(
                api.request(Method::GET, &path, false)
                    .header("accept", browser),
            )
            .await;
        page.expect(status);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.text.contains(says), "{}", page.text);
    }
    api.get("/auth/url/nobody")
        .await
        .problem(404, "user_not_found");
    api.get("/auth/url/a%2Fb")
        .await
        .problem(400, "invalid_user_id");
    api.send(api.request(Method::GET, "/auth/status/u1", false))
        .await
        .problem(401, "unauthorized");
    api.call(Method::DELETE, "/auth/u2").await.expect(204);
    api.unserved(Method::PUT, "/auth/url/u1", true)
        .await
        .problem(405, "method_not_allowed");
}

/// A step of [`real_answers_match_the_document`]: events: creates (timed, all-day, recurring, keyed); returns the first one's id.
async fn event_writes(api: &Api<'_>) -> String {
    // ---- events
    let created = api
        .json(
            Method::POST,
            &format!("/events/{USER}"),
            &timed("Standup", "2026-07-10T09:00:00", "2026-07-10T09:15:00"),
        )
        .await;
    created.expect(201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let all_day = json!({"summary": "Off", "start": {"date": "2026-07-11"}, "end": {"date": "2026-07-12"},
        "description": "away", "location": "home", "attendees": [{"email": "a@example.com", "optional": true}],
        "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]}});
    api.json(Method::POST, &format!("/events/{USER}"), &all_day)
        .await
        .expect(201);
    let recurring = json!({"summary": "Weekly", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        "start": {"dateTime": "2026-07-13T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-07-13T11:00:00", "timeZone": "Europe/Berlin"}});
    api.json(Method::POST, &format!("/events/{USER}"), &recurring)
        .await
        .expect(201);
    // Idempotency: the same key twice is one event (201, then 200); another body is 422.
    let body = timed("Keyed", "2026-07-14T09:00:00", "2026-07-14T10:00:00");
    api.keyed(&body, "key-1").await.expect(201);
    api.keyed(&body, "key-1").await.expect(200);
    let other = timed("Other", "2026-07-14T09:00:00", "2026-07-14T10:00:00");
    api.keyed(&other, "key-1")
        .await
        .problem(422, "idempotency_key_reused");
    id
}

/// A step of [`real_answers_match_the_document`]: events: lists, pages, get, patch, an incremental sync, an expired sync token.
async fn event_reads_and_sync(api: &Api<'_>, app: &App, id: &str) {
    let list = api
        .get(&format!(
            "/events/{USER}?time_min=2026-07-01&time_max=2026-08-01&order_by=startTime"
        ))
        .await;
    assert!(list.expect(200).json()["items"].as_array().unwrap().len() >= 4);
    let page = api.get(&format!("/events/{USER}?max_results=2")).await;
    assert!(page.expect(200).json()["next_page_token"].is_string());
    api.get(&format!("/events/{USER}/{id}")).await.expect(200);
    api.json(
        Method::PATCH,
        &format!("/events/{USER}/{id}"),
        &json!({"summary": "Daily standup", "description": null}),
    )
    .await
    .expect(200);

    // Incremental sync, and an expired token.
    let mut page = api
        .get(&format!("/events/{USER}?single_events=false"))
        .await
        .json();
    while let Some(t) = page["next_page_token"].as_str() {
        page = api
            .get(&format!(
                "/events/{USER}?single_events=false&page_token={}",
                enc(t)
            ))
            .await
            .json();
    }
    let sync = page["next_sync_token"]
        .as_str()
        .expect("a sync token")
        .to_owned();
    api.call(Method::DELETE, &format!("/events/{USER}/{id}"))
        .await
        .expect(204);
    let changes = api
        .get(&format!(
            "/events/{USER}?sync_token={}&show_deleted=true",
            enc(&sync)
        ))
        .await;
    let deleted: Vec<Value> = changes.expect(200).json()["items"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        deleted
            .iter()
            .any(|e| e["id"] == id && e["status"] == "cancelled"),
        "{deleted:?}"
    );
    app.google.invalidate_sync_tokens();
    api.get(&format!("/events/{USER}?sync_token={}", enc(&sync)))
        .await
        .problem(410, "sync_token_expired");
    api.json(
        Method::PATCH,
        &format!("/events/{USER}/{id}"),
        &json!({"summary": "x"}),
    )
    .await
    .problem(404, "event_not_found");
}

/// A step of [`real_answers_match_the_document`]: events: client errors.
async fn event_client_errors(api: &Api<'_>, app: &App) {
    // Client errors.
    let events = format!("/events/{USER}");
    api.get(&format!("/events/{USER}/nosuchevent"))
        .await
        .problem(404, "event_not_found");
    api.get(&format!("/events/{USER}?bogus=1"))
        .await
        .problem(400, "invalid_query");
    api.get(&format!("/events/{USER}?time_zone=Mars/Olympus"))
        .await
        .problem(400, "invalid_time_zone");
    api.get(&format!(
        "/events/{USER}?time_min=2026-08-01&time_max=2026-07-01"
    ))
    .await
    .problem(400, "invalid_time_range");
    api.get(&format!("/events/{}", "x".repeat(129)))
        .await
        .problem(400, "invalid_user_id");
    api.json(
        Method::POST,
        &events,
        &json!({"summary": "x", "colour": "red"}),
    )
    .await
    .problem(400, "unknown_field");
    api.json(Method::POST, &events, &json!({"summary": "x"}))
        .await
        .problem(400, "invalid_event");
    api.json(
        Method::POST,
        &events,
        &json!({"summary": "x", "start": {"dateTime": "2026-07-10T09:00:00"}, "end": {"dateTime": "2026-07-10T10:00:00"}}),
    )
    .await
    .problem(400, "missing_time_zone");
    api.json(
        Method::POST,
        &events,
        &timed("Gap", "2026-03-29T02:30:00", "2026-03-29T04:00:00"),
    )
    .await
    .problem(400, "nonexistent_local_time");
    api.json(
        Method::POST,
        &events,
        &timed("Backwards", "2026-07-10T10:00:00", "2026-07-10T09:00:00"),
    )
    .await
    .problem(400, "invalid_time_range");
    api.send(
        api.request(Method::POST, &events, true)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await
    .problem(415, "unsupported_media_type");
    api.send(
        api.request(Method::POST, &events, true)
            .header("content-type", "application/json")
            .body(vec![b' '; 70 * 1024]),
    )
    .await
    .problem(413, "payload_too_large");
    api.send(api.request(Method::GET, &events, false))
        .await
        .problem(401, "unauthorized");
    api.unserved(Method::PUT, &events, true)
        .await
        .problem(405, "method_not_allowed");
    api.unserved(Method::GET, "/events", true)
        .await
        .problem(404, "not_found");
    // A user without a connected calendar.
    app.rest.add_user("u3", Some("u3@example.com"), None);
    api.get("/events/u3").await.problem(401, "not_authorized");

    // Google failing.
    app.google
        .fail_next(GoogleRoute::EventsGet, Fault::Status(403), 1);
    api.get(&format!("/events/{USER}/nosuchevent"))
        .await
        .problem(403, "insufficient_permissions");
    app.google.clear_faults();
    app.google
        .fail_next(GoogleRoute::EventsList, Fault::Status(429), 3);
    let r = api.get(&events).await;
    r.problem(429, "upstream_rate_limited");
    assert!(r.header("retry-after").is_some());
    app.google.clear_faults();
    app.google
        .fail_next(GoogleRoute::EventsList, Fault::Status(503), 3);
    api.get(&events).await.problem(503, "upstream_unavailable");
    app.google.clear_faults();
}

/// A step of [`real_answers_match_the_document`]: push channels and the webhook.
async fn push_channels(api: &Api<'_>, app: &App) {
    // ---- push channels and the webhook
    let watch = api
        .call(Method::POST, &format!("/events/{USER}/watch"))
        .await;
    watch.expect(201);
    api.call(Method::POST, &format!("/events/{USER}/watch"))
        .await
        .expect(200);
    let channel = app.google.channels()[0].clone();
    let push = |token: &str| {
        api.request(Method::POST, "/webhooks/google", false)
            .header("x-goog-channel-id", channel.id.as_str())
            .header("x-goog-channel-token", token)
            .header("x-goog-resource-id", channel.resource_id.as_str())
            .header("x-goog-resource-state", "exists")
    };
    let token = channel.token.clone().expect("a channel token");
    api.send(push(&token)).await.expect(200);
    api.send(push("forged")).await.problem(404, "not_found");
    api.unserved(Method::GET, "/webhooks/google", false)
        .await
        .problem(405, "method_not_allowed");
    api.call(Method::DELETE, &format!("/events/{USER}/watch"))
        .await
        .expect(204);
    api.call(Method::DELETE, &format!("/events/{USER}/watch?x=1"))
        .await
        .problem(400, "invalid_query");
}

/// A step of [`real_answers_match_the_document`]: the REST service down, dead letters,
/// replay, a drain.
async fn dead_letters(api: &Api<'_>, app: &App) {
    // ---- the REST service down, dead letters, replay
    let mut con = redis::Client::open(app.redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    app.rest.set_down(true);
    api.get(&format!("/auth/status/{USER}"))
        .await
        .problem(503, "rest_unavailable");
    api.json(
        Method::POST,
        &format!("/events/{USER}"),
        &timed(
            "Undeliverable",
            "2026-07-20T09:00:00",
            "2026-07-20T10:00:00",
        ),
    )
    .await
    .expect(201);
    let dead = common::eventually(WAIT, || con.llen::<_, usize>("gcal:dlq").unwrap_or(0) > 0).await;
    assert!(dead, "nothing was dead-lettered: {}", app.logs());
    let letters = api.get("/admin/dlq").await;
    assert!(letters.expect(200).json()["length"].as_u64().unwrap() >= 1);
    let failed = api.call(Method::POST, "/admin/dlq/replay").await;
    assert!(failed.expect(200).json()["error"].is_string());
    app.rest.set_down(false);
    let replayed = api.call(Method::POST, "/admin/dlq/replay").await;
    assert!(replayed.expect(200).json()["replayed"].as_u64().unwrap() >= 1);
    let drained = api.call(Method::POST, "/admin/drain").await;
    assert!(drained.expect(200).json()["entries"].is_u64());
    api.send(api.request(Method::GET, "/admin/dlq", false))
        .await
        .problem(401, "unauthorized");
}

/// A step of [`real_answers_match_the_document`]: meetings: a Meet conference with
/// attendees, an RSVP, the instances of a series (SPEC section 9).
async fn meetings(api: &Api<'_>, app: &App) {
    let mut body = timed("Kickoff", "2026-07-15T09:00:00", "2026-07-15T09:30:00");
    body["conference"] = json!({"type": "google_meet"});
    body["attendees"] = json!([{"email": "ann@example.com", "display_name": "Ann"}]);
    body["recurrence"] = json!(["RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=3"]);
    let created = api
        .json(
            Method::POST,
            &format!("/events/{USER}?send_updates=all"),
            &body,
        )
        .await;
    let meeting = created.expect(201).json();
    assert_eq!(meeting["conference"]["status"], "success", "{meeting}");
    let id = meeting["id"].as_str().unwrap();
    let page = api
        .get(&format!("/events/{USER}/{id}/instances?max_results=2"))
        .await;
    assert!(page.expect(200).json()["next_page_token"].is_string());
    api.get(&format!("/events/{USER}/{id}/instances?q=x"))
        .await
        .problem(400, "invalid_query");
    api.json(
        Method::POST,
        &format!("/events/{USER}/{id}/rsvp"),
        &json!({"response": "accepted"}),
    )
    .await
    .problem(409, "not_an_attendee");
    let invitation = app
        .google
        .insert_invitation(
            EMAIL,
            "primary",
            "org@example.com",
            json!({"summary": "Planning", "start": {"dateTime": "2026-07-16T14:00:00Z"},
                "end": {"dateTime": "2026-07-16T15:00:00Z"},
                "attendees": [{"email": "org@example.com"}, {"email": EMAIL}]}),
        )
        .expect("an invitation");
    let invited = invitation["id"].as_str().unwrap();
    api.json(
        Method::POST,
        &format!("/events/{USER}/{invited}/rsvp?send_updates=external_only"),
        &json!({"response": "tentative", "comment": "maybe"}),
    )
    .await
    .expect(200);
    api.json(
        Method::POST,
        &format!("/events/{USER}/{invited}/rsvp"),
        &json!({"response": "maybe"}),
    )
    .await
    .problem(400, "invalid_event");
    api.json(
        Method::PATCH,
        &format!("/events/{USER}/{invited}?send_updates=none"),
        &json!({"conference": {"type": "google_meet"}}),
    )
    .await
    .expect(200);
    api.unserved(Method::GET, &format!("/events/{USER}/{invited}/rsvp"), true)
        .await
        .problem(405, "method_not_allowed");
}

/// A step of [`real_answers_match_the_document`]: calendars, free/busy, availability.
async fn scheduling(api: &Api<'_>) {
    // ---- scheduling: calendars, free/busy, availability (SPEC section 8)
    api.get(&format!("/calendars/{USER}")).await.expect(200);
    api.get(&format!("/calendars/{USER}?min_access_role=boss"))
        .await
        .problem(400, "invalid_query");
    api.get(&format!(
        "/freebusy/{USER}?time_min=2026-03-02&time_max=2026-03-03&calendar_ids=primary,nobody@example.com"
    ))
    .await
    .expect(200);
    api.get(&format!("/freebusy/{USER}?time_min=2026-03-02"))
        .await
        .problem(400, "invalid_query");
    let mut body = json!({"participants": [{"user_id": USER}],
        "time_min": "2026-03-02T00:00:00Z", "time_max": "2026-03-03T00:00:00Z",
        "duration_minutes": 60});
    api.json(Method::POST, "/availability", &body)
        .await
        .expect(200);
    body["participants"] = json!([{"user_id": USER}, {"user_id": "nobody"}]);
    api.json(Method::POST, "/availability", &body)
        .await
        .problem(422, "participant_unavailable");
    body["duration_minutes"] = json!(1);
    api.json(Method::POST, "/availability", &body)
        .await
        .problem(400, "invalid_duration");
}

/// A step of [`real_answers_match_the_document`]: disconnecting.
async fn disconnect(api: &Api<'_>) {
    // ---- disconnect
    api.call(Method::DELETE, &format!("/auth/{USER}"))
        .await
        .expect(204);
    api.get(&format!("/events/{USER}"))
        .await
        .problem(401, "not_authorized");
}

#[tokio::test]
async fn real_answers_match_the_document() {
    let spec = Spec::load("openapi.json");
    let rest_spec = Spec::load("openapi-rest-service.json");
    let app = App::start_watchable().await;
    let api = Api::new(&app, &spec);

    public_routes(&api, &spec).await;
    auth_routes(&api, &app).await;
    let id = event_writes(&api).await;
    event_reads_and_sync(&api, &app, &id).await;
    event_client_errors(&api, &app).await;
    push_channels(&api, &app).await;
    dead_letters(&api, &app).await;
    meetings(&api, &app).await;
    scheduling(&api).await;
    disconnect(&api).await;

    // ---- what reached the REST service, and what was published
    let mut errors = check_rest_requests(&app, &rest_spec);
    let (n, stream_errors) = check_stream(&app, &spec);
    assert!(n >= 5, "only {n} messages on the stream");
    errors.extend(stream_errors);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    api.assert_clean();

    // Every documented success was seen, except what the second test covers.
    let covered = api.checker.covered.lock().unwrap().clone();
    let missing: Vec<_> = spec
        .success_statuses()
        .into_iter()
        .filter(|s| !covered.contains(s) && *s != ("getAuthCallback".to_owned(), 303))
        .collect();
    assert!(missing.is_empty(), "successes never exercised: {missing:?}");
}

#[tokio::test]
async fn rate_limits_and_the_browser_redirect_match_the_document() {
    let spec = Spec::load("openapi.json");
    let app = App::start_with(|c| {
        c.variable("rate_limit_per_minute", "3")
            .variable("post_auth_redirect_url", "https://app.example/connected")
    })
    .await;
    let api = Api::new(&app, &spec);

    let r = api.connect(USER, EMAIL).await;
    r.expect(303);
    assert!(r.header("location").unwrap().contains("status=ok"));
    let denied = "/auth/callback?error=access_denied";
    api.send(api.request(Method::GET, denied, false))
        .await
        .expect(303);

    // Over the limit: 429 with Retry-After and the RateLimit headers. The budget is per
    // minute, so a minute boundary may reset it once: keep going until the 429.
    app.rest.add_user("r1", None, None);
    let mut limited = None;
    for _ in 0..10 {
        let r = api.get("/auth/status/r1").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        r.expect(200);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
    }
    let r = limited.expect("no 429 within 10 requests at 3 per minute");
    r.problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    api.get("/events/r1").await.problem(429, "rate_limited");

    api.assert_clean();
    let covered = api.checker.covered.lock().unwrap();
    assert!(covered.contains(&("getAuthCallback".to_owned(), 303)));
    assert!(covered.contains(&("getAuthStatus".to_owned(), 429)));
}

/// The checks themselves: a document that drifted from the answers fails.
#[test]
fn a_drifted_document_is_caught() {
    let mut spec = Spec::load("openapi.json");
    let headers = {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("x-request-id", "r-1".parse().unwrap());
        h
    };
    let health = r#"{"status":"ok","version":"0.1.0","checks":{"redis":"ok"}}"#;
    assert!(
        spec.check_response("GET", "/health", 200, &headers, health)
            .is_ok()
    );
    // An extra field, a missing one, an undocumented status, a wrong content type.
    let extra = r#"{"status":"ok","version":"0.1.0","checks":{"redis":"ok"},"uptime":1}"#;
    assert!(
        spec.check_response("GET", "/health", 200, &headers, extra)
            .is_err()
    );
    let missing = r#"{"status":"ok","checks":{"redis":"ok"}}"#;
    assert!(
        spec.check_response("GET", "/health", 200, &headers, missing)
            .is_err()
    );
    assert!(
        spec.check_response("GET", "/health", 418, &headers, health)
            .is_err()
    );
    let mut problem_ct = headers.clone();
    problem_ct.insert("content-type", "application/problem+json".parse().unwrap());
    assert!(
        spec.check_response("GET", "/health", 200, &problem_ct, health)
            .is_err()
    );
    // A value of the wrong format (formats are validated, not only annotations).
    let status = r#"{"authorized":true,"status":"active","scopes":[],"expires_at":"soon"}"#;
    assert!(
        spec.check_response("GET", "/auth/status/u1", 200, &headers, status)
            .is_err()
    );
    // A required header missing.
    let mut no_id = headers.clone();
    no_id.remove("x-request-id");
    assert!(
        spec.check_response("GET", "/health", 200, &no_id, health)
            .is_err()
    );
    // A problem code the operation does not document.
    let problem = r#"{"type":"urn:gcal:problem:event_not_found","title":"Event not found","status":404,"detail":"x","code":"event_not_found","request_id":"r-1"}"#;
    assert!(
        spec.check_response("GET", "/auth/url/u1", 404, &problem_ct, problem)
            .is_err()
    );
    // A document that forgot a field the code sends.
    spec.doc["components"]["schemas"]["Health"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    spec.validators.lock().unwrap().clear();
    assert!(
        spec.check_response("GET", "/health", 200, &headers, health)
            .is_err()
    );
}
