//! The sandboxed plugin runtime.
//!
//! A [`PluginEngine`] (one per host) owns the wasmtime engine, the sandbox linker, the
//! compile cache and the epoch ticker. [`PluginEngine::load`] turns a [`PluginSpec`] into
//! a [`Plugin`]: a checked, compiled, pre-linked component with a pool of initialised
//! instances. [`Plugin::process`] runs one batch and returns one [`Outcome`] per message,
//! or a [`CallError`] classified as trap, deadline, memory, plugin-retry, plugin-reject,
//! init-refused or invalid-output. Nothing a plugin does can panic or stop the host.
//!
//! ```no_run
//! use sluice::message::{Batch, MessageParts};
//! use sluice::plugin::{EngineConfig, PluginEngine, PluginSpec};
//!
//! let engine = PluginEngine::new(&EngineConfig::default())?;
//! let mut spec = PluginSpec::new("plugins/json_filter.wasm");
//! spec.config = vec![("field".into(), "type".into()), ("equals".into(), "\"paid\"".into())];
//! let plugin = engine.load(&spec)?;
//! let messages = vec![MessageParts { body: r#"{"type":"paid"}"#.into(), ..Default::default() }.build()];
//! let outcomes = plugin.process(&Batch { topic: "orders", queue_id: 0, messages: &messages })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout: [`bindings`] (the one `bindgen!`), [`engine`], [`cache`], [`component`]
//! (reading, checking, identifying), [`instance`] (store, sandbox, calls), [`pool`],
//! [`limits`], [`grants`] (what a stage lets its plugin reach), [`error`].

pub mod bindings;
pub mod cache;
pub mod component;
pub mod engine;
pub mod error;
pub mod grants;
pub mod instance;
pub mod limits;
pub mod pool;
pub mod stderr;

pub use cache::CacheStatus;
pub use component::{Abi, Inspection, PluginKind};
pub use engine::{EngineConfig, OptLevel, PluginEngine};
pub use error::{CallError, FailureClass, LoadError};
pub use grants::Grants;
pub use limits::PluginLimits;
pub use pool::{Plugin, PluginInfo, PluginSpec, PluginStats};

use crate::message::{Batch, Outcome};

/// Anything that turns a batch into outcomes: a WASM [`Plugin`], or a native closure
/// ([`NativeStage`]) for comparison in benchmarks and for built-in stages.
pub trait BatchProcessor: Send + Sync {
    /// One outcome per message of `batch`, in order.
    ///
    /// # Errors
    /// A classified failure of the whole batch.
    fn process(&self, batch: &Batch<'_>) -> Result<Vec<Outcome>, CallError>;
}

impl BatchProcessor for Plugin {
    fn process(&self, batch: &Batch<'_>) -> Result<Vec<Outcome>, CallError> {
        Plugin::process(self, batch)
    }
}

/// A stage implemented by a native Rust function of one message.
pub struct NativeStage<F>(pub F);

impl<F> BatchProcessor for NativeStage<F>
where
    F: Fn(&crate::message::Message) -> Outcome + Send + Sync,
{
    fn process(&self, batch: &Batch<'_>) -> Result<Vec<Outcome>, CallError> {
        Ok(batch.messages.iter().map(&self.0).collect())
    }
}
