//! The updates component, behind Spin's Redis trigger on the events and auth channels.
//! Each message is handled (delivered, or synced for `calendar.changed`), then the event
//! stream is drained, so a message lost on pub/sub or published while no replica ran is
//! still delivered, once.
// Spin components exist only for wasm32-wasip2; on the host target this crate is empty
// so `cargo test --workspace` and clippy stay green.
#![cfg(target_arch = "wasm32")]

use gcal_core::log::{self, Level};
use gcal_core::notify::EventType;
use gcal_core::spin::{Redis, SpinHttp, SpinVariables};
use gcal_core::tokens::Services;
use gcal_core::updates::{self, Outcome};
use gcal_core::watch;
use serde_json::Value;
use spin_sdk::redis_component;

#[redis_component]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    log::set_level(gcal_core::spin::log_level());
    let started = std::time::Instant::now();
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
    let vars = &SpinVariables;
    let redis = match Redis::from_vars(vars) {
        Ok(r) => r,
        Err(p) => {
            // The entry stays in the stream; the next message drains it.
            log::emit(
                Level::Error,
                "redis unavailable; message left for a later drain",
                &[("code", p.code.as_str().into())],
            );
            return Ok(());
        }
    };
    let svc = Services {
        vars,
        http: &SpinHttp,
        store: &redis,
    };
    if let Some(event) = updates::parse(&redis, &message) {
        let outcome = updates::handle(&svc, &event).await;
        log::emit(
            Level::Info,
            "message handled",
            &[
                ("event_id", event.id.clone().into()),
                ("event_type", event.type_.clone().into()),
                ("outcome", format!("{outcome:?}").to_lowercase().into()),
                (
                    "duration_ms",
                    log::round(started.elapsed().as_secs_f64() * 1000.0).into(),
                ),
                ("upstream", log::take_context().upstream.into()),
            ],
        );
        if outcome == Outcome::Synced
            && event.type_ == EventType::CalendarChanged.as_str()
            && let Some(channel) = event.data.get("channel_id").and_then(Value::as_str)
            && let Err(p) = watch::renew_if_due(&svc, channel).await
        {
            log::emit(
                Level::Warn,
                "channel renewal failed",
                &[("code", p.code.as_str().into())],
            );
        }
    }
    match updates::drain(&svc, &redis).await {
        Ok(n) if n > 0 => log::emit(Level::Info, "stream drained", &[("entries", n.into())]),
        Ok(_) => {}
        Err(p) => log::emit(
            Level::Error,
            "stream drain failed",
            &[("code", p.code.as_str().into())],
        ),
    }
    Ok(())
}
