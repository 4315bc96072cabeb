//! What keeps the components runnable on real Spin: each built `.wasm` imports nothing
//! beyond what Spin 3.x offers (WASI 0.2 CLI and HTTP, `fermyon:spin/*@2.0.0`) and
//! exports the handler its trigger calls.

use gcal_tests::build;
use gcal_tests::manifest::{self, App};
use std::collections::HashMap;
use wasmparser::{Parser, Payload};

/// Interfaces Spin 3.x gives every component: `wasi:cli/imports@0.2` and
/// `wasi:http/outgoing-handler@0.2` (WASI 0.2.x versions link by semver), plus the Spin
/// interfaces listed in `wit/world.wit` (variables, outbound Redis, and `wasi:keyvalue` store
/// and atomics, which Spin 3.0 added). A Redis-triggered component also gets the
/// unversioned `fermyon:spin/redis-types` its handler's signature uses.
fn allowed_import(name: &str, redis_trigger: bool) -> bool {
    const WASI_0_2: [&str; 20] = [
        "wasi:cli/environment",
        "wasi:cli/exit",
        "wasi:cli/stdin",
        "wasi:cli/stdout",
        "wasi:cli/stderr",
        "wasi:cli/terminal-input",
        "wasi:cli/terminal-output",
        "wasi:cli/terminal-stdin",
        "wasi:cli/terminal-stdout",
        "wasi:cli/terminal-stderr",
        "wasi:clocks/monotonic-clock",
        "wasi:clocks/wall-clock",
        "wasi:io/error",
        "wasi:io/poll",
        "wasi:io/streams",
        "wasi:random/random",
        "wasi:random/insecure",
        "wasi:random/insecure-seed",
        "wasi:http/types",
        "wasi:http/outgoing-handler",
    ];
    const FS_SOCKETS: [&str; 2] = ["wasi:filesystem/", "wasi:sockets/"];
    const SPIN: [&str; 4] = [
        "fermyon:spin/variables@2.0.0",
        "fermyon:spin/redis@2.0.0",
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:keyvalue/atomics@0.2.0-draft2",
    ];
    if SPIN.contains(&name) || (redis_trigger && name == "fermyon:spin/redis-types") {
        return true;
    }
    let Some((iface, version)) = name.split_once('@') else {
        return false;
    };
    let wasi_0_2 = version.starts_with("0.2.") && !version.contains('-');
    wasi_0_2 && (WASI_0_2.contains(&iface) || FS_SOCKETS.iter().any(|p| iface.starts_with(p)))
}

/// Top-level imports and exports of a component (not those of nested modules).
fn interface(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for i in reader {
                    imports.push(i.expect("import").name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for e in reader {
                    exports.push(e.expect("export").name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

fn app() -> App {
    let path = build::manifest_path();
    let decls = manifest::declared_variables(&path).unwrap();
    let values: HashMap<String, String> = decls
        .keys()
        .map(|k| (k.clone(), "http://x".to_owned()))
        .collect();
    App::load(&path, &values).unwrap()
}

#[test]
fn every_component_imports_only_what_spin_offers_and_exports_its_handler() {
    build::components().unwrap();
    let app = app();
    assert!(!app.components.is_empty());
    for (id, c) in &app.components {
        let http = app.http_routes.iter().any(|r| &r.component == id);
        let redis = app.redis_triggers.iter().any(|t| &t.component == id);
        let bytes = std::fs::read(&c.source).unwrap();
        let (imports, exports) = interface(&bytes);
        assert!(!imports.is_empty(), "{id}: no imports decoded");
        let foreign: Vec<_> = imports
            .iter()
            .filter(|i| !allowed_import(i, redis))
            .collect();
        assert!(
            foreign.is_empty(),
            "{id} imports what Spin does not offer: {foreign:?}"
        );

        assert!(http ^ redis, "{id}: exactly one trigger kind");
        let wanted = if http {
            "wasi:http/incoming-handler@0.2.0"
        } else {
            "fermyon:spin/inbound-redis"
        };
        assert!(
            exports.iter().any(|e| e == wanted),
            "{id} must export {wanted}, exports {exports:?}"
        );
    }
}

#[test]
fn the_checker_rejects_what_spin_lacks() {
    for bad in [
        "wasi:http/types@0.3.0-rc-2026-01-06",
        // Spin 3.0 added `wasi:keyvalue@0.2.0-draft2`; other versions it does not offer.
        "wasi:keyvalue/store@0.1.0",
        "fermyon:spin/key-value@2.0.0",
        "fermyon:spin/redis@3.0.0",
        "spin:postgres/postgres@4.0.0",
        "wasi:io/streams",
        "my:own/thing@1.0.0",
    ] {
        assert!(!allowed_import(bad, true), "{bad}");
    }
    assert!(
        !allowed_import("fermyon:spin/redis-types", false),
        "only for redis triggers"
    );
    for good in [
        "wasi:io/streams@0.2.6",
        "wasi:http/outgoing-handler@0.2.0",
        "fermyon:spin/variables@2.0.0",
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:keyvalue/atomics@0.2.0-draft2",
    ] {
        assert!(allowed_import(good, false), "{good}");
    }
}

#[test]
fn every_spin_toml_default_matches_the_code_defaults() {
    let decls = manifest::declared_variables(&build::manifest_path()).unwrap();
    let default = |n: &str| decls[n].default.clone().unwrap_or_default();
    assert_eq!(default("redis_address"), gcal_core::defaults::REDIS_ADDRESS);
    assert_eq!(
        default("events_channel"),
        gcal_core::defaults::EVENTS_CHANNEL
    );
    assert_eq!(default("auth_channel"), gcal_core::defaults::AUTH_CHANNEL);
    // Every secret of SPEC section 2 is marked secret, every required one required.
    for s in [
        "google_client_secret",
        "api_tokens",
        "token_encryption_key",
        "rest_service_token",
    ] {
        assert!(decls[s].secret, "{s} must be secret");
    }
    for r in [
        "google_client_id",
        "google_client_secret",
        "google_redirect_uri",
        "api_tokens",
        "token_encryption_key",
    ] {
        assert!(
            decls[r].required && decls[r].default.is_none(),
            "{r} must be required"
        );
    }
}
