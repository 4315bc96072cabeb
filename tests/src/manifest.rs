//! Reading `spin.toml` (manifest version 2) the way Spin does, as far as this app uses it:
//! variables, HTTP and Redis triggers, components with their variables,
//! `allowed_outbound_hosts` and `key_value_stores`, all templated from application variables.

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
    #[serde(default)]
    redis: Vec<RawRedisTrigger>,
}

#[derive(Debug, Deserialize)]
struct RawHttpTrigger {
    route: String,
    component: String,
}

#[derive(Debug, Deserialize)]
struct RawRedisTrigger {
    address: String,
    channel: String,
    component: String,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: String,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: BTreeSet<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// An application variable as declared.
#[derive(Debug, Clone, Deserialize)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

/// The manifest with every template resolved against the application variables.
#[derive(Debug, Clone)]
pub struct App {
    pub root: PathBuf,
    pub variables: BTreeMap<String, VariableDecl>,
    pub http_routes: Vec<HttpRoute>,
    pub redis_triggers: Vec<RedisTrigger>,
    pub components: BTreeMap<String, Component>,
}

#[derive(Debug, Clone)]
pub struct HttpRoute {
    /// As written, e.g. `/auth/...` or `/health`.
    pub raw: String,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct RedisTrigger {
    pub address: String,
    pub channel: String,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub id: String,
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    /// The key-value store labels the component may open.
    pub key_value_stores: BTreeSet<String>,
    /// Component variable name to resolved value: only these are visible to the guest.
    pub variables: HashMap<String, String>,
}

/// Application variable values: manifest defaults, then `SPIN_VARIABLE_<NAME>` from the
/// environment, then `overrides` (what a test passes). A required variable with no value
/// is an error naming it, as `spin up` refuses to start.
pub fn resolve_variables(
    decls: &BTreeMap<String, VariableDecl>,
    env: &HashMap<String, String>,
    overrides: &HashMap<String, String>,
) -> Result<HashMap<String, String>> {
    if let Some(unknown) = overrides.keys().find(|k| !decls.contains_key(*k)) {
        bail!("variable `{unknown}` is not declared in spin.toml");
    }
    let mut values = HashMap::new();
    let mut missing = Vec::new();
    for (name, decl) in decls {
        let env_name = format!("SPIN_VARIABLE_{}", name.to_uppercase());
        let value = overrides
            .get(name)
            .or_else(|| env.get(&env_name))
            .cloned()
            .or_else(|| decl.default.clone());
        match value {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None if decl.required => missing.push(name.clone()),
            None => {}
        }
    }
    if !missing.is_empty() {
        bail!(
            "required variable(s) not set: {} (set SPIN_VARIABLE_{} or pass a value)",
            missing.join(", "),
            missing[0].to_uppercase()
        );
    }
    Ok(values)
}

/// Expands `{{ name }}` templates with application variable values.
pub fn expand(template: &str, values: &HashMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed template in `{template}`"))?;
        let name = after[..end].trim();
        let value = values
            .get(name)
            .ok_or_else(|| anyhow!("template `{template}` names unknown variable `{name}`"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The variables `spin.toml` declares, read before any value is known.
pub fn declared_variables(path: &Path) -> Result<BTreeMap<String, VariableDecl>> {
    Ok(read(path)?.variables)
}

fn read(path: &Path) -> Result<RawManifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: RawManifest =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if raw.spin_manifest_version != 2 {
        bail!("only spin_manifest_version = 2 is supported");
    }
    Ok(raw)
}

impl App {
    /// Loads `spin.toml` and resolves it with `values` from [`resolve_variables`].
    pub fn load(path: &Path, values: &HashMap<String, String>) -> Result<App> {
        let raw = read(path)?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let allowed = c
                .allowed_outbound_hosts
                .iter()
                .map(|h| expand(h, values))
                .collect::<Result<Vec<_>>>()?;
            let variables = c
                .variables
                .iter()
                .map(|(k, v)| Ok((k.clone(), expand(v, values)?)))
                .collect::<Result<HashMap<_, _>>>()?;
            components.insert(
                id.clone(),
                Component {
                    id,
                    source: root.join(&c.source),
                    allowed_outbound_hosts: allowed,
                    key_value_stores: c.key_value_stores,
                    variables,
                },
            );
        }
        let known = |c: &str| -> Result<()> {
            if components.contains_key(c) {
                Ok(())
            } else {
                bail!("trigger names unknown component `{c}`")
            }
        };
        let mut http_routes = Vec::new();
        for t in raw.trigger.http {
            known(&t.component)?;
            http_routes.push(HttpRoute {
                raw: t.route,
                component: t.component,
            });
        }
        let mut redis_triggers = Vec::new();
        for t in raw.trigger.redis {
            known(&t.component)?;
            redis_triggers.push(RedisTrigger {
                address: expand(&t.address, values)?,
                channel: expand(&t.channel, values)?,
                component: t.component,
            });
        }
        Ok(App {
            root,
            variables: raw.variables,
            http_routes,
            redis_triggers,
            components,
        })
    }

    /// Spin's routing: an exact route beats a wildcard; among wildcards (`/x/...`) the
    /// longest prefix wins. Returns the route and the path info after its base.
    pub fn route<'a>(&'a self, path: &str) -> Option<(&'a HttpRoute, String)> {
        if let Some(r) = self.http_routes.iter().find(|r| r.raw == path) {
            return Some((r, String::new()));
        }
        self.http_routes
            .iter()
            .filter_map(|r| {
                let base = r.raw.strip_suffix("/...")?;
                let base = if base.is_empty() { "" } else { base };
                let info = if path == base {
                    ""
                } else {
                    path.strip_prefix(base)
                        .filter(|rest| rest.starts_with('/'))?
                };
                Some((r, base.len(), info.to_owned()))
            })
            .max_by_key(|(_, len, _)| *len)
            .map(|(r, _, info)| (r, info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let mut d = BTreeMap::new();
        d.insert(
            "a".into(),
            VariableDecl {
                default: Some("da".into()),
                required: false,
                secret: false,
            },
        );
        d.insert(
            "b".into(),
            VariableDecl {
                default: None,
                required: true,
                secret: true,
            },
        );
        d
    }

    #[test]
    fn variables_resolve_defaults_then_env_then_overrides() {
        let env: HashMap<_, _> = [
            ("SPIN_VARIABLE_A".to_string(), "ea".to_string()),
            ("SPIN_VARIABLE_B".into(), "eb".into()),
        ]
        .into();
        let v = resolve_variables(&decls(), &env, &HashMap::new()).unwrap();
        assert_eq!((v["a"].as_str(), v["b"].as_str()), ("ea", "eb"));
        let o: HashMap<_, _> = [("a".to_string(), "oa".to_string())].into();
        let v = resolve_variables(&decls(), &env, &o).unwrap();
        assert_eq!(v["a"], "oa");
        let v = resolve_variables(
            &decls(),
            &HashMap::new(),
            &[("b".to_string(), "x".to_string())].into(),
        )
        .unwrap();
        assert_eq!(v["a"], "da");
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        let e = resolve_variables(&decls(), &HashMap::new(), &HashMap::new()).unwrap_err();
        assert!(
            e.to_string().contains("required variable(s) not set: b"),
            "{e}"
        );
        let e = resolve_variables(
            &decls(),
            &HashMap::new(),
            &[("zz".to_string(), "1".to_string())].into(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("zz"), "{e}");
    }

    fn app_with_routes(routes: &[(&str, &str)]) -> App {
        App {
            root: PathBuf::from("."),
            variables: BTreeMap::new(),
            http_routes: routes
                .iter()
                .map(|(r, c)| HttpRoute {
                    raw: r.to_string(),
                    component: c.to_string(),
                })
                .collect(),
            redis_triggers: Vec::new(),
            components: BTreeMap::new(),
        }
    }

    #[test]
    fn routing_prefers_exact_then_the_longest_wildcard() {
        let app = app_with_routes(&[
            ("/...", "root"),
            ("/auth/...", "auth"),
            ("/auth/special/...", "special"),
            ("/health", "health"),
        ]);
        let hit = |p: &str| app.route(p).map(|(r, info)| (r.component.clone(), info));
        assert_eq!(hit("/health"), Some(("health".into(), "".into())));
        assert_eq!(hit("/auth"), Some(("auth".into(), "".into())));
        assert_eq!(hit("/auth/url/u1"), Some(("auth".into(), "/url/u1".into())));
        assert_eq!(
            hit("/auth/special/x"),
            Some(("special".into(), "/x".into()))
        );
        assert_eq!(hit("/authx"), Some(("root".into(), "/authx".into())));
        assert_eq!(hit("/health/x"), Some(("root".into(), "/health/x".into())));
        let app = app_with_routes(&[("/auth/...", "auth"), ("/health", "health")]);
        assert!(app.route("/authx").is_none());
        assert!(app.route("/health/x").is_none());
        assert!(app.route("/").is_none());
    }

    #[test]
    fn templates_expand_and_reject_unknown_names() {
        let v: HashMap<_, _> = [("x".to_string(), "1".to_string())].into();
        assert_eq!(expand("a{{ x }}b{{x}}", &v).unwrap(), "a1b1");
        assert!(expand("{{ y }}", &v).is_err());
        assert!(expand("{{ x", &v).is_err());
    }
}
