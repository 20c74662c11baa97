//! The on-disk compile cache: compiled components keyed by wasmtime version, engine
//! settings and the component's sha256, so a restart loads a plugin in milliseconds and
//! an engine with other settings never loads code compiled for different ones.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Loaded a precompiled artifact.
    Hit,
    /// Compiled (and stored, if the directory is writable).
    Miss,
    /// No cache directory configured.
    Disabled,
}

impl CacheStatus {
    /// `hit`, `miss` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Disabled => "disabled",
        }
    }
}

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        // `precompile_compatibility_hash` covers the wasmtime version and every engine
        // setting that changes generated code; the crate version is added for clarity.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = format!("wasmtime{}-{:016x}", env!("CARGO_PKG_VERSION"), h.finish());
        Self { dir, engine_key }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact for a component with this sha256 lives.
    pub fn path_for(&self, sha256_hex: &str) -> PathBuf {
        self.dir.join(format!("{sha256_hex}-{}.cwasm", self.engine_key))
    }

    /// Loads the component from the cache, or compiles it and stores the artifact.
    ///
    /// Cache trouble (unwritable directory, unreadable artifact) is logged and never an
    /// error: the component is compiled instead.
    ///
    /// # Errors
    /// When the component does not compile.
    pub fn load(&self, engine: &Engine, bytes: &[u8], sha256_hex: &str) -> wasmtime::Result<(Component, CacheStatus)> {
        let path = self.path_for(sha256_hex);
        // The artifact is read into memory rather than mapped: a mapped file that someone
        // truncates under a running daemon would kill it with SIGBUS.
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: the artifact was written by `precompile_component` of an engine with
            // the same compatibility hash (it is in the file name), into a directory the
            // operator controls; wasmtime also checks its header and version.
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(c) => return Ok((c, CacheStatus::Hit)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable compile-cache entry; recompiling"),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        if let Err(e) = self.store(&path, &artifact) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the plugin compile cache; plugins will be compiled at every start");
        }
        // SAFETY: produced just now by `precompile_component` of this very engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        Ok((component, CacheStatus::Miss))
    }

    fn store(&self, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Write then rename, so a concurrent reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, artifact)?;
        std::fs::rename(&tmp, path)
    }
}
