//! What the host does per request, measured alone: instantiation times and the
//! components' counters, read through the host's public views.

use anyhow::Result;
use gcal_tests::host::Host;
use std::time::{Duration, Instant};

/// Instantiates `component` `n` times the way a request or message does, without calling
/// it, and returns how long each took (the instance is dropped after the clock stops).
pub async fn instantiation_times(host: &Host, component: &str, n: usize) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let instance = host.instantiate(component).await?;
        times.push(started.elapsed());
        drop(instance);
    }
    Ok(times)
}

/// The most linear memory (bytes) one instance of `component` has had so far; 0 for an
/// unknown component.
pub fn peak_memory(host: &Host, component: &str) -> usize {
    host.stats(component).map_or(0, |s| s.peak_memory)
}

/// Outbound Redis commands instances of `component` have sent so far; 0 for an unknown
/// component.
pub fn redis_commands(host: &Host, component: &str) -> u64 {
    host.stats(component).map_or(0, |s| s.redis_commands)
}
