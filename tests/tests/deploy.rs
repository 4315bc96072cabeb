//! The deploy manifests (issue 7) against `spin.toml`: the SpinKube `SpinApp` binds every
//! application variable, secrets only from the `Secret` (never inline, never from the
//! ConfigMap), every reference points at a key that exists, and the production runtime
//! config parses. A variable added to `spin.toml` fails here until it is deployable.

use gcal_tests::manifest::{VariableDecl, declared_variables};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn deploy_dir() -> PathBuf {
    gcal_tests::build::workspace_root().join("deploy")
}

fn variables() -> BTreeMap<String, VariableDecl> {
    declared_variables(&gcal_tests::build::manifest_path()).expect("spin.toml")
}

/// YAML (1.2, as Kubernetes reads it) as JSON values, one per document.
fn yaml_docs(path: &Path) -> Vec<Value> {
    fn json(y: &Yaml) -> Value {
        match y {
            Yaml::String(s) | Yaml::Real(s) => Value::String(s.clone()),
            Yaml::Integer(i) => Value::from(*i),
            Yaml::Boolean(b) => Value::Bool(*b),
            Yaml::Array(a) => Value::Array(a.iter().map(json).collect()),
            Yaml::Hash(h) => Value::Object(
                h.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Yaml::String(s) => s.clone(),
                            other => panic!("non-string key {other:?}"),
                        };
                        (key, json(v))
                    })
                    .collect::<Map<_, _>>(),
            ),
            Yaml::Null => Value::Null,
            other => panic!("unexpected YAML node {other:?}"),
        }
    }
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
        .iter()
        .map(json)
        .collect()
}

/// The one document of a manifest file, checked for its kind.
fn manifest(name: &str, api_version: &str, kind: &str) -> Value {
    let docs = yaml_docs(&deploy_dir().join("spinkube").join(name));
    assert_eq!(docs.len(), 1, "{name}: one document");
    let doc = docs.into_iter().next().unwrap();
    assert_eq!(doc["apiVersion"], api_version, "{name}");
    assert_eq!(doc["kind"], kind, "{name}");
    assert!(doc["metadata"]["name"].is_string(), "{name}: metadata.name");
    doc
}

fn keys(doc: &Value, field: &str) -> BTreeSet<String> {
    doc[field]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_yaml_file_under_deploy_parses() {
    let mut seen = 0;
    let mut stack = vec![deploy_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let docs = yaml_docs(&path);
                assert!(!docs.is_empty(), "{} is empty", path.display());
                for d in docs {
                    assert!(d["kind"].is_string(), "{}: a kind", path.display());
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "only {seen} YAML files under deploy/");
}

#[test]
fn the_spinapp_runs_the_published_image_with_the_spin_shim() {
    let app = manifest("spinapp.yaml", "core.spinkube.dev/v1alpha1", "SpinApp");
    let spec = &app["spec"];
    assert_eq!(spec["executor"], "containerd-shim-spin");
    assert_eq!(spec["image"], "ghcr.io/OWNER/gcal:VERSION");
    assert!(
        spec["replicas"].as_i64().is_some_and(|n| n >= 1),
        "replicas: {}",
        spec["replicas"]
    );
    // The probes hit routes the app serves.
    let toml: toml::Value =
        toml::from_str(&std::fs::read_to_string(gcal_tests::build::manifest_path()).unwrap())
            .unwrap();
    let routes: BTreeSet<&str> = toml["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["route"].as_str())
        .collect();
    for probe in ["liveness", "readiness"] {
        let path = spec["checks"][probe]["httpGet"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("checks.{probe}.httpGet.path"));
        assert!(
            routes.contains(path),
            "{probe} probe {path} is no route of spin.toml"
        );
    }
}

#[test]
fn the_spinapp_binds_every_variable_secrets_only_from_the_secret() {
    let vars = variables();
    let app = manifest("spinapp.yaml", "core.spinkube.dev/v1alpha1", "SpinApp");
    let secret = manifest("secret.yaml", "v1", "Secret");
    let config = manifest("configmap.yaml", "v1", "ConfigMap");
    let secret_name = secret["metadata"]["name"].as_str().unwrap();
    let config_name = config["metadata"]["name"].as_str().unwrap();
    let secret_keys: BTreeSet<String> = keys(&secret, "stringData")
        .union(&keys(&secret, "data"))
        .cloned()
        .collect();
    let config_keys = keys(&config, "data");

    let bound = app["spec"]["variables"].as_array().expect("spec.variables");
    let mut names = BTreeSet::new();
    for v in bound {
        let name = v["name"].as_str().expect("a variable name");
        assert!(names.insert(name.to_owned()), "{name} is bound twice");
        let decl = vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} is bound but spin.toml declares no such variable"));
        let inline = v.get("value").is_some();
        let from = &v["valueFrom"];
        assert!(
            inline != from.is_object(),
            "{name}: exactly one of value and valueFrom"
        );
        if decl.secret {
            assert!(!inline, "secret {name} has an inline value");
            let r = &from["secretKeyRef"];
            assert!(
                r.is_object() && from.as_object().unwrap().len() == 1,
                "secret {name} must come from a secretKeyRef, not {from}"
            );
            assert_eq!(r["name"], secret_name, "{name}: the Secret");
            let key = r["key"].as_str().unwrap();
            assert!(
                secret_keys.contains(key),
                "{name}: key {key} is not in {secret_name}"
            );
        } else if let Some(r) = from.get("configMapKeyRef") {
            assert_eq!(r["name"], config_name, "{name}: the ConfigMap");
            let key = r["key"].as_str().unwrap();
            let optional = r["optional"] == true;
            assert!(
                config_keys.contains(key) || optional,
                "{name}: key {key} is not in {config_name} and not optional"
            );
            if decl.required {
                assert!(
                    !optional && config_keys.contains(key),
                    "required {name} must not be optional"
                );
            }
        } else if !inline {
            assert!(
                from["secretKeyRef"].is_object(),
                "{name}: valueFrom must be a configMapKeyRef or secretKeyRef: {from}"
            );
        }
    }
    let required: Vec<&String> = vars
        .iter()
        .filter(|(_, d)| d.required || d.secret)
        .map(|(n, _)| n)
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(
        required.is_empty(),
        "required or secret variables not bound in spinapp.yaml: {required:?}"
    );
    let unbound: Vec<&String> = vars.keys().filter(|n| !names.contains(*n)).collect();
    assert!(
        unbound.is_empty(),
        "variables of spin.toml not bound in spinapp.yaml (add them, optional ones from the ConfigMap with `optional: true`): {unbound:?}"
    );
}

#[test]
fn the_secret_holds_exactly_the_secret_variables_and_no_real_values() {
    let vars = variables();
    let secret = manifest("secret.yaml", "v1", "Secret");
    let secrets: BTreeSet<String> = vars
        .iter()
        .filter(|(_, d)| d.secret)
        .map(|(n, _)| n.clone())
        .collect();
    assert!(secrets.len() >= 3, "{secrets:?}");
    assert_eq!(
        keys(&secret, "stringData"),
        secrets,
        "secret.yaml keys vs spin.toml secret variables"
    );
    for (k, v) in secret["stringData"].as_object().unwrap() {
        let v = v.as_str().unwrap_or_else(|| panic!("{k}: a string"));
        assert!(
            v.is_empty() || v == "REPLACE_ME",
            "{k}: a template holds placeholders, not values"
        );
    }
    // The ConfigMap is for everything else: no secret in it.
    let config = manifest("configmap.yaml", "v1", "ConfigMap");
    for k in keys(&config, "data") {
        let decl = vars
            .get(&k)
            .unwrap_or_else(|| panic!("configmap key {k} is no variable of spin.toml"));
        assert!(!decl.secret, "secret {k} in the ConfigMap");
    }
    for (n, d) in &vars {
        if d.required && !d.secret {
            assert!(
                keys(&config, "data").contains(n),
                "required {n} missing from the ConfigMap"
            );
        }
    }
}

#[test]
fn the_production_runtime_config_parses() {
    let path = deploy_dir().join("runtime-config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let rc: toml::Table = toml::from_str(&text).expect("runtime-config.toml is TOML");
    let providers = rc["config_provider"]
        .as_array()
        .expect("[[config_provider]] entries");
    assert!(!providers.is_empty());
    for p in providers {
        match p["type"].as_str() {
            Some("vault") => {
                for field in ["url", "token", "mount"] {
                    assert!(p.get(field).is_some_and(|v| v.is_str()), "vault: {field}");
                }
                let known = ["type", "url", "token", "mount", "prefix"];
                for k in p.as_table().unwrap().keys() {
                    assert!(known.contains(&k.as_str()), "vault: unknown field {k}");
                }
            }
            Some("azure_key_vault") => {
                for field in ["vault_url", "client_id", "client_secret", "tenant_id"] {
                    assert!(p.get(field).is_some(), "azure_key_vault: {field}");
                }
            }
            other => panic!("unknown variables provider {other:?}"),
        }
    }
    // Every key-value store spin.toml names is a Redis store here.
    for label in kv_labels() {
        let store = &rc["key_value_store"][label.as_str()];
        assert_eq!(
            store["type"].as_str(),
            Some("redis"),
            "key_value_store.{label}"
        );
        assert!(
            store["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("redis://")),
            "key_value_store.{label}: url"
        );
    }
    // Nothing but what Spin's runtime config knows.
    let known = [
        "config_provider",
        "key_value_store",
        "sqlite_database",
        "llm_compute",
        "outbound_http",
    ];
    for k in rc.keys() {
        assert!(
            known.contains(&k.as_str()),
            "unknown runtime config section {k}"
        );
    }
}

/// The key-value store labels the components of spin.toml use.
fn kv_labels() -> BTreeSet<String> {
    let toml: toml::Value =
        toml::from_str(&std::fs::read_to_string(gcal_tests::build::manifest_path()).unwrap())
            .unwrap();
    let labels: BTreeSet<String> = toml["component"]
        .as_table()
        .unwrap()
        .values()
        .filter_map(|c| c.get("key_value_stores"))
        .flat_map(|l| l.as_array().unwrap().iter())
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    assert!(!labels.is_empty(), "spin.toml names no key-value store");
    labels
}

#[test]
fn the_spinapp_defines_every_key_value_store_as_the_redis_of_redis_address() {
    let app = manifest("spinapp.yaml", "core.spinkube.dev/v1alpha1", "SpinApp");
    let stores = app["spec"]["runtimeConfig"]["keyValueStores"]
        .as_array()
        .expect("spec.runtimeConfig.keyValueStores");
    let redis_address = app["spec"]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "redis_address")
        .expect("redis_address is bound")["valueFrom"]
        .clone();
    for label in kv_labels() {
        let store = stores
            .iter()
            .find(|s| s["name"] == label.as_str())
            .unwrap_or_else(|| panic!("no key-value store `{label}` in the SpinApp"));
        assert_eq!(store["type"], "redis", "{label}");
        let url = store["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "url")
            .unwrap_or_else(|| panic!("{label}: no url option"));
        assert_eq!(
            url["valueFrom"], redis_address,
            "{label}: the url must come from where redis_address does"
        );
    }
}

#[test]
fn the_drain_cronjob_posts_to_the_drain_route_every_minute_with_a_token_from_the_secret() {
    let job = manifest("drain-cronjob.yaml", "batch/v1", "CronJob");
    let app = manifest("spinapp.yaml", "core.spinkube.dev/v1alpha1", "SpinApp");
    let secret = manifest("secret.yaml", "v1", "Secret");
    let spec = &job["spec"];
    assert_eq!(spec["schedule"], "* * * * *", "every minute");
    assert_eq!(spec["concurrencyPolicy"], "Forbid", "one drain at a time");
    let run = &spec["jobTemplate"]["spec"];
    let deadline = run["activeDeadlineSeconds"].as_i64().expect("a deadline");
    assert!((1..60).contains(&deadline), "a run ends within its minute");
    let pod = &run["template"]["spec"];
    assert!(
        ["Never", "OnFailure"].contains(&pod["restartPolicy"].as_str().unwrap_or("")),
        "a Job's restartPolicy"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert!(
        c["image"].as_str().is_some_and(|i| i.contains(':')),
        "a pinned image"
    );
    let script: Vec<&str> = c["command"]
        .as_array()
        .into_iter()
        .chain(c["args"].as_array())
        .flatten()
        .map(|v| v.as_str().expect("strings"))
        .collect();
    let script = script.join(" ");
    assert!(script.contains("-X POST"), "{script}");
    assert!(script.contains("$GCAL_URL/admin/drain"), "{script}");
    assert!(
        script.contains("-f"),
        "a failed drain fails the job: {script}"
    );

    // The route exists: spin.toml sends /admin/... to the events component, whose table
    // has the POST.
    let toml: toml::Value =
        toml::from_str(&std::fs::read_to_string(gcal_tests::build::manifest_path()).unwrap())
            .unwrap();
    let admin = toml["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["route"].as_str() == Some("/admin/..."))
        .expect("an /admin/... route");
    let component = admin["component"].as_str().unwrap();
    let table = std::fs::read_to_string(
        gcal_tests::build::workspace_root().join(format!("components/{component}/src/lib.rs")),
    )
    .unwrap();
    assert!(
        table.contains(r#".post("/admin/drain", token(admin::drain))"#),
        "{component} serves POST /admin/drain behind the API token"
    );

    // The token only from the Secret; the URL is the SpinApp's Service.
    let env = c["env"].as_array().expect("env");
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("env {name}"))
    };
    let tokens = var("API_TOKENS");
    assert!(tokens.get("value").is_none(), "no inline token");
    let r = &tokens["valueFrom"]["secretKeyRef"];
    assert_eq!(r["name"], secret["metadata"]["name"]);
    assert_eq!(r["key"], "api_tokens");
    assert!(keys(&secret, "stringData").contains("api_tokens"));
    // api_tokens is a comma-separated list: the first one is sent.
    assert!(script.contains("Bearer ${API_TOKENS%%,*}"), "{script}");
    let url = url::Url::parse(var("GCAL_URL")["value"].as_str().unwrap()).unwrap();
    let service = app["metadata"]["name"].as_str().unwrap();
    assert!(
        url.host_str()
            .is_some_and(|h| h == service || h.starts_with(&format!("{service}."))),
        "{url} is not the Service of SpinApp {service}"
    );
}
