//! Sluice's integration tests: one binary (ripgrep's pattern), with a small harness in
//! [`util`]. `plugin_cli` drives the `sluice` binary the way a plugin author does;
//! `runtime` drives the plugin runtime's API through every failure class, the sandbox and
//! the compile cache; `kits` the C, Python, JavaScript and Go kits (conformance with the
//! Rust plugins, new projects); `broker` the embedded broker; `pipeline` the daemon against a real
//! broker (order, delivery, failure policies, reload, shutdown, subscriptions, sinks, the
//! admin endpoint and the status page in headless Chromium, driven by [`browser`]).

mod bad_input;
mod broker;
mod browser;
mod deploy;
mod kits;
mod pipeline;
mod reliability;
mod plugin_cli;
mod runtime;

mod util;
