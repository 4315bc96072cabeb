//! Building the components for `wasm32-wasip2`, once per test process, so a plain
//! `cargo test` works from a clean checkout.

use anyhow::{Result, anyhow};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The component packages, as `spin.toml` builds them.
pub const COMPONENTS: [&str; 4] = ["gcal-auth", "gcal-events", "gcal-health", "gcal-updates"];

/// The workspace root (where `spin.toml` is).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".."))
}

pub fn manifest_path() -> PathBuf {
    workspace_root().join("spin.toml")
}

/// `target/wasm32-wasip2/release/<name>.wasm`
pub fn wasm_path(lib_name: &str) -> PathBuf {
    workspace_root()
        .join("target/wasm32-wasip2/release")
        .join(format!("{lib_name}.wasm"))
}

/// Runs `cargo build --target wasm32-wasip2 --release` for every component, once.
pub fn components() -> Result<()> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(workspace_root()).args([
                "build",
                "--target",
                "wasm32-wasip2",
                "--release",
            ]);
            for c in COMPONENTS {
                cmd.args(["-p", c]);
            }
            match cmd.status() {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(format!(
                    "building the components failed ({s}); is the target installed? \
                     `rustup target add wasm32-wasip2`"
                )),
                Err(e) => Err(format!("could not run cargo: {e}")),
            }
        })
        .clone()
        .map_err(|e| anyhow!(e))
}
