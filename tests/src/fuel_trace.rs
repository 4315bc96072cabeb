//! Where an instance's fuel goes, between the host calls it makes: with
//! `GCAL_HOST_FUEL_TRACE=1` (and fuel on, `GCAL_HOST_FUEL=1`) every instance prints one
//! line to stderr when it ends, `fuel-trace <component>: <segment> ...`, each segment the
//! fuel the guest burnt before a named host call (`kv.get`, `http.send`, `var.get`, ...),
//! with how many other host calls (WASI, libcalls) it made meanwhile. A profiling aid for
//! the cost model (docs/testing.md); off by default, and it changes no answer.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::{CallHook, Store, StoreContextMut};

/// Whether instances are traced (read once).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        crate::host::fuel_metered() && std::env::var("GCAL_HOST_FUEL_TRACE").is_ok_and(|v| v == "1")
    })
}

/// The trace of one instance.
#[derive(Debug, Default)]
pub(crate) struct FuelTrace {
    /// Fuel left when the guest last called the host.
    left: u64,
    /// Fuel left at the last named mark.
    marked: u64,
    calls: u32,
    segments: Vec<(Cow<'static, str>, u64, u32)>,
}

impl FuelTrace {
    pub(crate) fn new(start: u64) -> Self {
        FuelTrace {
            left: start,
            marked: start,
            ..FuelTrace::default()
        }
    }

    /// Closes the segment that ends with the host call now running.
    pub(crate) fn mark(&mut self, name: Cow<'static, str>) {
        let burnt = self.marked.saturating_sub(self.left);
        // The named call itself was counted as a host call; it is the segment's end.
        self.segments
            .push((name, burnt, self.calls.saturating_sub(1)));
        self.marked = self.left;
        self.calls = 0;
    }

    /// The line of a finished instance with `left` fuel.
    pub(crate) fn line(&mut self, component: &str, left: u64) -> String {
        self.left = left;
        self.calls += 1;
        self.mark("end".into());
        let total: u64 = self.segments.iter().map(|s| s.1).sum();
        let mut out = format!("fuel-trace {component}: total {total}");
        for (name, fuel, calls) in &self.segments {
            out.push_str(&format!(" | {name} {fuel} (+{calls} calls)"));
        }
        out
    }
}

/// One instance's trace, shared by the parts of the host that name its calls.
#[derive(Debug, Clone)]
pub(crate) struct Shared(Arc<Mutex<FuelTrace>>);

impl Shared {
    pub(crate) fn new(start: u64) -> Self {
        Shared(Arc::new(Mutex::new(FuelTrace::new(start))))
    }

    /// The line of the finished instance.
    pub(crate) fn line(&self, component: &str, left: u64) -> String {
        match self.0.lock() {
            Ok(mut t) => t.line(component, left),
            Err(_) => format!("fuel-trace {component}: unavailable"),
        }
    }
}

/// Names the host call now running (if the instance is traced).
pub(crate) fn mark(trace: &Option<Shared>, call: impl Into<Cow<'static, str>>) {
    if let Some(Ok(mut t)) = trace.as_ref().map(|t| t.0.lock()) {
        t.mark(call.into());
    }
}

/// Installs the hook that follows `store`'s host calls.
pub(crate) fn install<T: Send + 'static>(store: &mut Store<T>, trace: fn(&T) -> Option<Shared>) {
    store.call_hook(move |ctx: StoreContextMut<'_, T>, kind| {
        if matches!(kind, CallHook::CallingHost) {
            let left = ctx.get_fuel().unwrap_or(0);
            if let Some(Ok(mut t)) = trace(ctx.data()).as_ref().map(|t| t.0.lock()) {
                t.left = left;
                t.calls += 1;
            }
        }
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each segment is the fuel burnt since the last named call, up to the host call
    /// that is named; the host calls between are counted, not named.
    #[test]
    fn segments_are_the_fuel_between_named_host_calls() {
        let mut t = FuelTrace::new(1000);
        // The guest burns 100, calls WASI (unnamed), burns 50, calls `kv.get`.
        t.left = 900;
        t.calls += 1;
        t.left = 850;
        t.calls += 1;
        t.mark("kv.get".into());
        // Then 30 more before the instance ends.
        let line = t.line("events", 820);
        assert_eq!(
            line,
            "fuel-trace events: total 180 | kv.get 150 (+1 calls) | end 30 (+0 calls)"
        );
    }
}
