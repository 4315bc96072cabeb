//! The updates component, behind Spin's Redis trigger on the events and auth channels.
//! Each message is handled (delivered, or synced for `calendar.changed`), then the event
//! stream is drained, so a message lost on pub/sub or published while no replica ran is
//! still delivered, once.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use spin_sdk::redis_component;

/// Never an error: a message that cannot be handled now stays in the stream for a later
/// drain (Spin would only log an error).
#[redis_component]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    gcal_core::on_message(&gcal_core::SpinRuntime, &message).await;
    Ok(())
}
