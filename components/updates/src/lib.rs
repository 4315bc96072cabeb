//! The updates component, behind Spin's Redis trigger on the events channel.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::log::{self, Level};
use serde_json::Value;
use spin_sdk::redis_component;

/// Logs what arrived: size and, for a CloudEvent, its `id` and `type` (never the payload,
/// which is not ours to print).
#[redis_component]
fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    let parsed: Option<Value> = serde_json::from_slice(&message).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map_or(Value::Null, Value::from)
    };
    log::emit(
        Level::Info,
        "message received",
        &[
            ("bytes", Value::from(message.len())),
            ("event_id", field("id")),
            ("event_type", field("type")),
        ],
    );
    Ok(())
}
