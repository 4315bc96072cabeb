//! The floor of the benchmark's Spin cost model: a hello-world component, what any Spin
//! HTTP component costs before it does anything (an instance, the request and the
//! answer through `wasi:http`). Built and run by `bench/` only.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(_req: spin_sdk::http::Request) -> anyhow::Result<spin_sdk::http::Response> {
    Ok(spin_sdk::http::Response::new(200, "hello"))
}
