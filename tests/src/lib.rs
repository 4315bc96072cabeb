//! Test tooling: a Spin-compatible host on wasmtime, fakes of Google and the REST
//! service, and a `redis-server` launcher. Not a product: production runs on Spin.

pub mod build;
pub mod fakes;
pub mod fuel_trace;
pub mod host;
mod http_pool;
pub mod key_value;
pub mod logs;
pub mod manifest;
pub mod outbound;
pub mod redis_server;
mod spin_impl;
pub mod suite_logs;
