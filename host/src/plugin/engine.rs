//! The plugin engine: one wasmtime [`Engine`] with the settings Sluice needs, the sandbox
//! [`Linker`], the compile cache and the epoch ticker that enforces call deadlines.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::HostView;
use super::cache::CompileCache;
use super::instance::StoreState;

/// Engine settings, shared by every plugin of a host. In TOML under `[plugins]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Where compiled plugins are cached. Default: `$SLUICE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/sluice/plugins`, else `~/.cache/sluice/plugins`.
    #[serde(default = "default_cache_dir")]
    pub cache_dir: Option<PathBuf>,
    /// Turns the compile cache off.
    #[serde(default)]
    pub no_cache: bool,
    /// Cranelift optimisation level for plugin code.
    #[serde(default)]
    pub opt_level: OptLevel,
    /// Granularity of deadlines: the engine's epoch advances once per tick.
    #[serde(default = "default_tick", with = "humantime_serde")]
    pub epoch_tick: Duration,
}

/// Cranelift optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptLevel {
    /// No optimisation: fastest compile.
    None,
    /// Optimise for speed (the default).
    #[default]
    Speed,
    /// Optimise for speed and size.
    SpeedAndSize,
}

fn default_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("SLUICE_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sluice/plugins")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/sluice/plugins")))
}

fn default_tick() -> Duration {
    Duration::from_millis(10)
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { cache_dir: default_cache_dir(), no_cache: false, opt_level: OptLevel::default(), epoch_tick: default_tick() }
    }
}

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The shared plugin engine. Cheap to clone.
#[derive(Clone)]
pub struct PluginEngine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    pub(crate) cache: Option<CompileCache>,
    pub(crate) tick: Duration,
    stop: Arc<AtomicBool>,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl PluginEngine {
    /// Builds the engine, the sandbox linker and the epoch ticker.
    ///
    /// # Errors
    /// When wasmtime rejects the settings or the linker cannot be assembled.
    pub fn new(cfg: &EngineConfig) -> Result<Self, EngineError> {
        let mut c = Config::new();
        c.wasm_component_model(true);
        // wasmtime 48 defaults to concurrency support, which makes every call ~3x slower.
        c.concurrency_support(false);
        c.epoch_interruption(true);
        c.parallel_compilation(true);
        c.cranelift_opt_level(match cfg.opt_level {
            OptLevel::None => wasmtime::OptLevel::None,
            OptLevel::Speed => wasmtime::OptLevel::Speed,
            OptLevel::SpeedAndSize => wasmtime::OptLevel::SpeedAndSize,
        });
        let engine = Engine::new(&c).map_err(|e| EngineError(format!("{e:#}")))?;

        let mut linker = Linker::<StoreState>::new(&engine);
        // WASI is linked in full so that ordinary toolchains' components link, but each
        // store's context grants nothing: no preopened directories, no environment, no
        // arguments, no network, no stdin; see `StoreState::new`.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| EngineError(format!("{e:#}")))?;
        HostView::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| EngineError(format!("{e:#}")))?;

        let cache = match (&cfg.cache_dir, cfg.no_cache) {
            (Some(dir), false) => Some(CompileCache::new(dir.clone(), &engine)),
            _ => None,
        };

        let stop = Arc::new(AtomicBool::new(false));
        let tick = cfg.epoch_tick.max(Duration::from_millis(1));
        {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("sluice-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| EngineError(format!("cannot start the epoch thread: {e}")))?;
        }
        Ok(Self { inner: Arc::new(EngineInner { engine, linker, cache, tick, stop }) })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The compile cache, if enabled.
    pub fn cache(&self) -> Option<&CompileCache> {
        self.inner.cache.as_ref()
    }

    /// Epoch ticks for `deadline`. The current tick is already under way when a call
    /// starts, so one more is added: a call is interrupted after at least `deadline` and
    /// at most `deadline` plus one tick.
    pub(crate) fn ticks(&self, deadline: Duration) -> u64 {
        let t = deadline.as_nanos().div_ceil(self.inner.tick.as_nanos().max(1));
        u64::try_from(t).unwrap_or(u64::MAX).saturating_add(1)
    }
}
