//! Reading, checking, compiling and identifying plugin files.
//!
//! A plugin file must be a WebAssembly *component* that exports one interface of the
//! `sluice:plugin` contract at a version this host speaks. Everything else (not wasm, a
//! truncated file, a core module, another world or version) is refused here with an error
//! that names the file, what was found and what is expected.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::bindings::{CONTRACT_PACKAGE, CONTRACT_VERSION};
use super::cache::CacheStatus;
use super::engine::PluginEngine;
use super::error::LoadError;

/// What a plugin does with each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// Keeps or drops messages.
    Filter,
    /// Turns each message into zero, one or many.
    Transform,
}

/// Which shape of the contract a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// Typed records (`typed-filter`, `typed-transform` interfaces).
    Typed,
    /// One byte buffer per batch (`frames-filter`, `frames-transform` interfaces).
    Frames,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Filter => "filter",
            Self::Transform => "transform",
        })
    }
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Typed => "typed",
            Self::Frames => "frames",
        })
    }
}

/// The interfaces a plugin may export, in order of preference.
const KNOWN: [(&str, PluginKind, Abi); 4] = [
    ("frames-filter", PluginKind::Filter, Abi::Frames),
    ("frames-transform", PluginKind::Transform, Abi::Frames),
    ("typed-filter", PluginKind::Filter, Abi::Typed),
    ("typed-transform", PluginKind::Transform, Abi::Typed),
];

/// The contract interface a component implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractExport {
    /// Filter or transform.
    pub kind: PluginKind,
    /// Typed or frames.
    pub abi: Abi,
    /// The full export name, e.g. `sluice:plugin/frames-filter@0.1.0`.
    pub export: String,
    /// The contract version in the export name.
    pub version: String,
}

/// A plugin file read into memory, with its digest.
#[derive(Debug, Clone)]
pub struct PluginFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
}

impl PluginFile {
    /// Reads a plugin file and checks that it is a component at all.
    ///
    /// # Errors
    /// [`LoadError::Read`], [`LoadError::NotWasm`], [`LoadError::CoreModule`].
    pub fn read(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
        check_header(path, &bytes)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Self { path: path.to_owned(), bytes, sha256 })
    }
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        let found = if bytes.is_empty() {
            "nothing: the file is empty".to_owned()
        } else {
            format!("{:02x?}", &bytes[..bytes.len().min(8)])
        };
        return Err(LoadError::NotWasm { path: path.to_owned(), found });
    }
    // Bytes 4..8: version (u16) and layer (u16); layer 0 is a core module, 1 a component.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule { path: path.to_owned() });
    }
    Ok(())
}

/// Compiles (or loads from the cache) a checked plugin file.
pub(crate) fn compile(engine: &PluginEngine, file: &PluginFile) -> Result<(Component, CacheStatus), LoadError> {
    let invalid = |e: wasmtime::Error| LoadError::Invalid { path: file.path.clone(), reason: format!("{e:#}") };
    match engine.cache() {
        Some(cache) => cache.load(engine.engine(), &file.bytes, &file.sha256).map_err(invalid),
        None => Component::new(engine.engine(), &file.bytes).map(|c| (c, CacheStatus::Disabled)).map_err(invalid),
    }
}

/// Splits `ns:pkg/iface@version` into its parts.
fn split_export(name: &str) -> Option<(&str, &str, &str)> {
    let (path, version) = name.split_once('@')?;
    let (package, iface) = path.split_once('/')?;
    Some((package, iface, version))
}

/// Whether `version` is semver-compatible with the host's contract version (same major,
/// and for 0.x the same minor).
fn compatible(version: &str) -> bool {
    let parts = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parts(version), parts(CONTRACT_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

/// Finds the contract interface a component exports.
///
/// # Errors
/// [`LoadError::UnknownWorld`] or [`LoadError::WrongVersion`].
pub(crate) fn identify(path: &Path, exports: &[String]) -> Result<ContractExport, LoadError> {
    let mut wrong_version = None;
    for (iface_name, kind, abi) in KNOWN {
        for name in exports {
            let Some((package, iface, version)) = split_export(name) else { continue };
            if package != CONTRACT_PACKAGE || iface != iface_name {
                continue;
            }
            if compatible(version) {
                return Ok(ContractExport { kind, abi, export: name.clone(), version: version.to_owned() });
            }
            wrong_version.get_or_insert_with(|| (name.clone(), version.to_owned()));
        }
    }
    if let Some((export, found)) = wrong_version {
        return Err(LoadError::WrongVersion {
            path: path.to_owned(),
            export,
            found,
            supported: CONTRACT_VERSION.to_owned(),
        });
    }
    Err(LoadError::UnknownWorld {
        path: path.to_owned(),
        found: if exports.is_empty() { "nothing".into() } else { exports.join(", ") },
        expected: KNOWN
            .iter()
            .map(|(i, ..)| format!("{CONTRACT_PACKAGE}/{i}@{CONTRACT_VERSION}"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The names a component imports and exports.
pub(crate) fn interface_names(engine: &PluginEngine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty.imports(engine.engine()).map(|(n, _)| n.to_owned()).collect();
    let exports = ty.exports(engine.engine()).map(|(n, _)| n.to_owned()).collect();
    (imports, exports)
}

/// What `sluice plugin inspect` reports about a plugin file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// The file.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex sha256.
    pub sha256: String,
    /// `filter` or `transform`.
    pub kind: String,
    /// `typed` or `frames`.
    pub abi: String,
    /// The contract version it implements.
    pub contract_version: String,
    /// The contract export.
    pub export: String,
    /// Everything it imports.
    pub imports: Vec<String>,
    /// Everything it exports.
    pub exports: Vec<String>,
    /// Whether compiling it was served from the cache.
    pub compile_cache: String,
}

impl PluginEngine {
    /// Reads, compiles and identifies a plugin file without instantiating it.
    ///
    /// # Errors
    /// Any [`LoadError`] but `Start` and `ShaMismatch`.
    pub fn inspect(&self, path: &Path) -> Result<Inspection, LoadError> {
        let file = PluginFile::read(path)?;
        let (component, cache) = compile(self, &file)?;
        let (imports, exports) = interface_names(self, &component);
        let contract = identify(path, &exports)?;
        Ok(Inspection {
            path: path.to_owned(),
            size: file.bytes.len() as u64,
            sha256: file.sha256,
            kind: contract.kind.to_string(),
            abi: contract.abi.to_string(),
            contract_version: contract.version,
            export: contract.export,
            imports,
            exports,
            compile_cache: cache.as_str().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_classified() {
        let p = Path::new("x.wasm");
        assert!(matches!(check_header(p, b""), Err(LoadError::NotWasm { .. })));
        assert!(matches!(check_header(p, b"#!/bin/sh\necho"), Err(LoadError::NotWasm { .. })));
        assert!(matches!(check_header(p, b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule { .. })));
        assert!(check_header(p, b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn exports_are_identified_by_interface_and_version() {
        let p = Path::new("x.wasm");
        let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = identify(p, &e(&["sluice:plugin/typed-transform@0.1.0", "sluice:plugin/frames-filter@0.1.0"])).unwrap();
        assert_eq!((c.kind, c.abi), (PluginKind::Filter, Abi::Frames));
        assert!(identify(p, &e(&["sluice:plugin/typed-filter@0.1.3"])).is_ok());
        let err = identify(p, &e(&["sluice:plugin/typed-filter@0.2.0"])).unwrap_err().to_string();
        assert!(err.contains("contract version 0.2.0") && err.contains("supports 0.1.0"), "{err}");
        let err = identify(p, &e(&["wasi:http/incoming-handler@0.2.0"])).unwrap_err().to_string();
        assert!(err.contains("wasi:http/incoming-handler") && err.contains("sluice:plugin/typed-filter@0.1.0"), "{err}");
    }
}
