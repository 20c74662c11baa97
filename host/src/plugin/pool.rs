//! A loaded plugin: its compiled component pre-linked into an `InstancePre`, and a pool
//! of initialised instances reused across calls. A trap, deadline, memory breach or
//! invalid answer discards the instance that failed; the next call builds a fresh one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::InstancePre;

use super::bindings::exports::sluice::plugin::{
    frames_filter as filter_frames, frames_transform as transform_frames, typed_filter as filter,
    typed_transform as transform,
};
use super::cache::CacheStatus;
use super::component::{self, Abi, ContractExport, PluginFile, PluginKind};
use super::engine::PluginEngine;
use super::error::{CallError, FailureClass, LoadError};
use super::instance::{GuestIndices, LiveInstance, PluginIdentity, StoreState};
use super::limits::PluginLimits;
use crate::message::{Batch, Outcome};

/// Everything needed to load one plugin stage.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// Name used in logs, errors and metrics.
    pub name: String,
    /// The component file.
    pub path: PathBuf,
    /// The stage configuration handed to `init`, in order.
    pub config: Vec<(String, String)>,
    /// Bounds.
    pub limits: PluginLimits,
    /// Expected lowercase hex sha256 of the file, if pinned.
    pub sha256: Option<String>,
    /// Pipeline name (for the plugin's batch context and logs).
    pub pipeline: String,
    /// Stage name.
    pub stage: String,
    /// What the plugin may reach beyond the sandbox (nothing by default).
    pub grants: super::Grants,
}

impl PluginSpec {
    /// A spec with default limits and no pin, named after the file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into());
        Self {
            stage: name.clone(),
            name,
            path,
            config: Vec::new(),
            limits: PluginLimits::default(),
            sha256: None,
            pipeline: "default".into(),
            grants: super::Grants::default(),
        }
    }
}

/// Facts about a loaded plugin.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    /// Name.
    pub name: String,
    /// File.
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Size of the file.
    pub size: u64,
    /// The contract interface it implements.
    pub contract: ContractExport,
    /// Whether compiling was served from the cache.
    pub cache: CacheStatus,
    /// Time to read, compile or load, link and initialise the first instance.
    pub load_time: Duration,
}

/// Counters of a plugin's life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginStats {
    /// Batches handed to the plugin.
    pub calls: u64,
    /// Instances created (the first included).
    pub instances_created: u64,
    /// Instances discarded, by the class of failure that discarded them.
    pub discarded: BTreeMap<&'static str, u64>,
}

pub(crate) struct PluginInner {
    pub(crate) id: Arc<PluginIdentity>,
    pub(crate) engine: PluginEngine,
    pub(crate) pre: InstancePre<StoreState>,
    pub(crate) indices: GuestIndices,
    pub(crate) limits: PluginLimits,
    pub(crate) config: Vec<(String, String)>,
    pub(crate) ticks: u64,
    idle: Mutex<Vec<LiveInstance>>,
    info: PluginInfo,
    calls: AtomicU64,
    created: AtomicU64,
    discarded: Mutex<BTreeMap<&'static str, u64>>,
}

/// A loaded, initialised plugin. Cheap to clone; safe to call from many threads (each
/// call gets an instance of its own).
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

impl PluginEngine {
    /// Loads a plugin: reads the file, checks the pin, compiles it (or loads it from the
    /// cache), checks it implements the contract, links it into the sandbox and starts
    /// one instance, whose `init` must accept the configuration.
    ///
    /// # Errors
    /// Any [`LoadError`], each naming the file or plugin and what to do.
    pub fn load(&self, spec: &PluginSpec) -> Result<Plugin, LoadError> {
        let started = Instant::now();
        let file = PluginFile::read(&spec.path)?;
        if let Some(pin) = &spec.sha256
            && !pin.eq_ignore_ascii_case(&file.sha256)
        {
            return Err(LoadError::ShaMismatch { path: spec.path.clone(), expected: pin.clone(), actual: file.sha256 });
        }
        let grants = spec.grants.resolve().map_err(|reason| LoadError::Grant { path: spec.path.clone(), reason })?;
        let (component, cache) = component::compile(self, &file)?;
        let (_, exports) = component::interface_names(self, &component);
        let contract = component::identify(&spec.path, &exports)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link { path: spec.path.clone(), reason: format!("{e:#}") })?;
        let wrong_version = |e: wasmtime::Error| LoadError::WrongVersion {
            path: spec.path.clone(),
            export: format!("{} ({e})", contract.export),
            found: contract.version.clone(),
            supported: super::bindings::CONTRACT_VERSION.into(),
        };
        let indices = match (contract.kind, contract.abi) {
            (PluginKind::Filter, Abi::Typed) => GuestIndices::Filter(filter::GuestIndices::new(&pre).map_err(wrong_version)?),
            (PluginKind::Transform, Abi::Typed) => {
                GuestIndices::Transform(transform::GuestIndices::new(&pre).map_err(wrong_version)?)
            }
            (PluginKind::Filter, Abi::Frames) => {
                GuestIndices::FilterFrames(filter_frames::GuestIndices::new(&pre).map_err(wrong_version)?)
            }
            (PluginKind::Transform, Abi::Frames) => {
                GuestIndices::TransformFrames(transform_frames::GuestIndices::new(&pre).map_err(wrong_version)?)
            }
        };
        let id = Arc::new(PluginIdentity {
            name: spec.name.clone(),
            pipeline: spec.pipeline.clone(),
            stage: spec.stage.clone(),
            counters: Mutex::default(),
            log_budget: Mutex::default(),
            grants,
        });
        let mut inner = PluginInner {
            id,
            engine: self.clone(),
            pre,
            indices,
            limits: spec.limits.clone(),
            config: spec.config.clone(),
            ticks: self.ticks(spec.limits.deadline),
            idle: Mutex::new(Vec::new()),
            info: PluginInfo {
                name: spec.name.clone(),
                path: spec.path.clone(),
                sha256: file.sha256,
                size: file.bytes.len() as u64,
                contract,
                cache,
                load_time: Duration::ZERO,
            },
            calls: AtomicU64::new(0),
            created: AtomicU64::new(0),
            discarded: Mutex::default(),
        };
        let first = LiveInstance::start(&inner)
            .map_err(|e| LoadError::Start { plugin: spec.name.clone(), source: Box::new(e) })?;
        inner.created.store(1, Ordering::Relaxed);
        inner.info.load_time = started.elapsed();
        inner.idle.get_mut().map(|v| v.push(first)).ok();
        tracing::info!(
            plugin = %spec.name,
            path = %spec.path.display(),
            kind = %inner.info.contract.kind,
            abi = %inner.info.contract.abi,
            cache = inner.info.cache.as_str(),
            load_ms = inner.info.load_time.as_secs_f64() * 1e3,
            "plugin loaded"
        );
        Ok(Plugin { inner: Arc::new(inner) })
    }
}

impl Plugin {
    /// Runs one batch (messages of one queue, in order) through the plugin and returns one
    /// outcome per message, in order.
    ///
    /// # Errors
    /// A classified [`CallError`]; for classes that
    /// [discard the instance](FailureClass::discards_instance) the failing instance is
    /// dropped and the next call starts a fresh one.
    pub fn process(&self, batch: &Batch<'_>) -> Result<Vec<Outcome>, CallError> {
        let p = &*self.inner;
        if batch.messages.is_empty() {
            return Ok(Vec::new());
        }
        p.calls.fetch_add(1, Ordering::Relaxed);
        let idle = p.idle.lock().ok().and_then(|mut v| v.pop());
        let mut inst = match idle {
            Some(i) => i,
            None => {
                p.created.fetch_add(1, Ordering::Relaxed);
                LiveInstance::start(p).inspect_err(|e| self.discarded(e.class()))?
            }
        };
        let r = inst.call(p, batch);
        match &r {
            Err(e) if e.class().discards_instance() => {
                self.discarded(e.class());
                tracing::warn!(plugin = %p.id.name, class = %e.class(), error = %e, "plugin instance discarded; a fresh one will serve the next batch");
            }
            _ => {
                if let Ok(mut idle) = p.idle.lock()
                    && idle.len() < p.limits.max_idle_instances.max(1)
                {
                    idle.push(inst);
                }
            }
        }
        r
    }

    /// Starts instances until `n` are idle, so that the first `n` concurrent batches find
    /// one ready (instances are otherwise created on demand). Returns how many are idle.
    ///
    /// # Errors
    /// An instance that fails to start (its `init` refused, say).
    pub fn prestart(&self, n: usize) -> Result<usize, CallError> {
        let p = &*self.inner;
        loop {
            let idle = p.idle.lock().map(|v| v.len()).unwrap_or(n);
            if idle >= n {
                return Ok(idle);
            }
            let inst = LiveInstance::start(p)?;
            p.created.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut v) = p.idle.lock() {
                v.push(inst);
            }
        }
    }

    fn discarded(&self, class: FailureClass) {
        if let Ok(mut d) = self.inner.discarded.lock() {
            *d.entry(class.as_str()).or_default() += 1;
        }
    }

    /// Facts about the plugin.
    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }

    /// Counters of its life so far.
    pub fn stats(&self) -> PluginStats {
        let p = &*self.inner;
        PluginStats {
            calls: p.calls.load(Ordering::Relaxed),
            instances_created: p.created.load(Ordering::Relaxed),
            discarded: p.discarded.lock().map(|d| d.clone()).unwrap_or_default(),
        }
    }

    /// The counters the plugin bumped through `counter-add`.
    pub fn guest_counters(&self) -> BTreeMap<String, u64> {
        self.inner.id.counters.lock().map(|c| c.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default()
    }
}
