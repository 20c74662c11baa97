//! Sluice: consume RocketMQ topics, run every message through sandboxed WebAssembly
//! plugins (filters and transforms written against the WIT contract in `wit/`), and emit
//! the results to sinks.
//!
//! This crate is the host: the daemon and its CLI (`sluice`). Its parts:
//!
//! * [`message`]: the messages that flow through a pipeline and what stages make of them;
//! * [`plugin`]: the sandboxed plugin runtime (engine, compile cache, limits, pool);
//! * [`admin`]: the admin HTTP endpoint (metrics, health, status);
//! * [`config`]: the TOML configuration and its checks;
//! * [`daemon`]: what `sluice run` keeps running, reload and shutdown;
//! * [`source`]: the RocketMQ consumer feeding a pipeline;
//! * [`pipeline`]: stage chain, retries, dead letters, routing, delivery;
//! * [`sink`]: RocketMQ, file, stdout and HTTP sinks;
//! * [`connection`]: the shared RocketMQ client settings;
//! * [`broker`]: the embedded RocketMQ name server and broker;
//! * [`cli`]: the command line.

#![recursion_limit = "512"]

pub mod admin;
pub mod broker;
pub mod cli;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod message;
pub mod pipeline;
pub mod plugin;
pub mod sink;
pub mod source;
