//! Errors of the plugin runtime: [`LoadError`] when a plugin cannot be loaded or
//! initialised, [`CallError`] when a call fails, classified by [`FailureClass`].

use std::path::PathBuf;
use std::time::Duration;

use crate::message::PluginFailure;

/// Why a plugin could not be loaded, compiled, linked or initialised.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read plugin file {path}: {source}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not WebAssembly at all.
    #[error(
        "{path} is not a WebAssembly file (it starts with {found}); expected a WASM component, \
         e.g. a Rust plugin built with `cargo build --target wasm32-wasip2`"
    )]
    NotWasm {
        /// The plugin file.
        path: PathBuf,
        /// The first bytes found, in hex.
        found: String,
    },
    /// The file is a core module, not a component.
    #[error(
        "{path} is a core WebAssembly module, not a component; build it for wasm32-wasip2 \
         (Rust) or wrap it with `wasm-tools component new` (C, Go)"
    )]
    CoreModule {
        /// The plugin file.
        path: PathBuf,
    },
    /// The file starts like a component but does not compile (truncated, corrupt).
    #[error("{path} is not a valid WebAssembly component (truncated or corrupt?): {reason}")]
    Invalid {
        /// The plugin file.
        path: PathBuf,
        /// What the compiler said.
        reason: String,
    },
    /// The component exports no Sluice plugin interface.
    #[error(
        "{path} does not implement a Sluice plugin world: it exports [{found}]; expected one of \
         [{expected}] (build it against the worlds in wit/, e.g. with the Sluice SDK)"
    )]
    UnknownWorld {
        /// The plugin file.
        path: PathBuf,
        /// What the component exports.
        found: String,
        /// What this host accepts.
        expected: String,
    },
    /// The component implements another version of the contract.
    #[error(
        "{path} implements contract version {found} (`{export}`), this host supports \
         {supported}; rebuild the plugin against wit/ at version {supported}"
    )]
    WrongVersion {
        /// The plugin file.
        path: PathBuf,
        /// The export that carries the version.
        export: String,
        /// The version found.
        found: String,
        /// The version this host supports.
        supported: String,
    },
    /// The file's sha256 differs from the pinned one.
    #[error(
        "{path} has sha256 {actual}, but the configuration pins {expected}; refusing to load \
         a plugin that changed (update the pin if the new file is intended)"
    )]
    ShaMismatch {
        /// The plugin file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The digest of the file.
        actual: String,
    },
    /// A grant of the stage cannot be given (missing directory, unset variable, bad address).
    #[error("{path}: {reason}")]
    Grant {
        /// The plugin file.
        path: PathBuf,
        /// What is wrong with the grant.
        reason: String,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "{path} needs imports that a Sluice plugin does not get (plugins get WASI clocks, \
         random, empty filesystem/environment/sockets and sluice:plugin/host): {reason}"
    )]
    Link {
        /// The plugin file.
        path: PathBuf,
        /// What the linker said.
        reason: String,
    },
    /// Instantiation or `init` failed.
    #[error("plugin `{plugin}` failed to start: {source}")]
    Start {
        /// The plugin's name.
        plugin: String,
        /// Why.
        source: Box<CallError>,
    },
}

/// The class of a failed call, for policies, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureClass {
    /// The guest trapped (panic, unreachable, out-of-bounds access, stack overflow…).
    Trap,
    /// The call ran past its deadline and was interrupted.
    Deadline,
    /// The instance tried to grow its memory past the limit.
    Memory,
    /// The plugin returned `retry`.
    PluginRetry,
    /// The plugin returned `reject`.
    PluginReject,
    /// The plugin refused its configuration in `init`.
    InitRefused,
    /// The plugin answered with something that breaks the contract.
    InvalidOutput,
}

impl FailureClass {
    /// The class's stable name (`trap`, `deadline`, `memory`, `plugin-retry`,
    /// `plugin-reject`, `init-refused`, `invalid-output`), used in metrics and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trap => "trap",
            Self::Deadline => "deadline",
            Self::Memory => "memory",
            Self::PluginRetry => "plugin-retry",
            Self::PluginReject => "plugin-reject",
            Self::InitRefused => "init-refused",
            Self::InvalidOutput => "invalid-output",
        }
    }

    /// Whether the instance that failed this way is discarded (and rebuilt when next
    /// needed): after a trap, an interrupt or a memory breach its state cannot be trusted.
    pub fn discards_instance(self) -> bool {
        matches!(self, Self::Trap | Self::Deadline | Self::Memory | Self::InvalidOutput | Self::InitRefused)
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call into a plugin failed. Never a panic of the host.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The guest trapped.
    #[error("plugin `{plugin}` trapped: {message}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The trap and backtrace.
        message: String,
    },
    /// The call exceeded its deadline.
    #[error("plugin `{plugin}` exceeded its deadline of {}", humantime::format_duration(*deadline))]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// The deadline.
        deadline: Duration,
    },
    /// The instance hit its memory limit.
    #[error("plugin `{plugin}` exceeded its memory limit of {limit} bytes")]
    Memory {
        /// Plugin name.
        plugin: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The plugin reported a failure of the whole batch.
    #[error("plugin `{plugin}`: {failure}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// What it reported.
        failure: PluginFailure,
    },
    /// `init` refused the configuration.
    #[error("plugin `{plugin}` refused its configuration{}: {message}", key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
    InitRefused {
        /// Plugin name.
        plugin: String,
        /// The key at fault, if the plugin named one.
        key: Option<String>,
        /// The plugin's explanation.
        message: String,
    },
    /// The answer broke the contract (wrong count, malformed frames, too many outputs…).
    #[error("plugin `{plugin}` returned an invalid answer: {detail}")]
    InvalidOutput {
        /// Plugin name.
        plugin: String,
        /// What is wrong.
        detail: String,
    },
}

impl CallError {
    /// The failure class.
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Trap { .. } => FailureClass::Trap,
            Self::Deadline { .. } => FailureClass::Deadline,
            Self::Memory { .. } => FailureClass::Memory,
            Self::Plugin { failure: PluginFailure::Retry(_), .. } => FailureClass::PluginRetry,
            Self::Plugin { failure: PluginFailure::Reject(_), .. } => FailureClass::PluginReject,
            Self::InitRefused { .. } => FailureClass::InitRefused,
            Self::InvalidOutput { .. } => FailureClass::InvalidOutput,
        }
    }
}
