//! Sluice: consume RocketMQ topics, run every message through sandboxed WebAssembly
//! plugins (filters and transforms written against the WIT contract in `wit/`), and emit
//! the results to sinks.
//!
//! This crate is the host: the daemon and its CLI (`sluice`). Its parts:
//!
//! * [`message`]: the messages that flow through a pipeline and what stages make of them;
//! * [`plugin`]: the sandboxed plugin runtime (engine, compile cache, limits, pool);
//! * [`broker`]: the embedded RocketMQ name server and broker;
//! * [`cli`]: the command line.

pub mod broker;
pub mod cli;
pub mod message;
pub mod plugin;
