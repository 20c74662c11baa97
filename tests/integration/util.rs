//! The test harness: paths to the built plugins, the `sluice` binary, an engine with a
//! compile cache shared by the whole test run, and message builders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use sluice::message::{Batch, Message, MessageParts, Outcome};
use sluice::plugin::{EngineConfig, Plugin, PluginEngine, PluginSpec};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file under `tests/golden/`.
pub fn golden(name: &str) -> PathBuf {
    root().join("tests/golden").join(name)
}

/// A compile-cache directory shared by this test process (compiles each plugin once).
pub fn shared_cache() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path().to_owned()
}

/// The engine every runtime test shares.
pub fn engine() -> PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| PluginEngine::new(&EngineConfig { cache_dir: Some(shared_cache()), ..EngineConfig::default() }).expect("engine"))
        .clone()
}

/// Loads a plugin with config pairs and default limits.
pub fn load(path: &str, config: &[(&str, &str)]) -> Plugin {
    let mut spec = PluginSpec::new(path);
    spec.config = config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    engine().load(&spec).unwrap_or_else(|e| panic!("loading {path}: {e}"))
}

/// A message with this body and an offset.
pub fn msg(offset: i64, body: impl Into<bytes::Bytes>) -> Message {
    parts(offset, body).build()
}

/// The parts of a message with this body and an offset, to add fields to.
pub fn parts(offset: i64, body: impl Into<bytes::Bytes>) -> MessageParts {
    MessageParts { queue_offset: offset, message_id: format!("m{offset}"), body: body.into(), ..Default::default() }
}

/// Runs one batch of bodies through a plugin.
pub fn run(plugin: &Plugin, bodies: &[&str]) -> Result<Vec<Outcome>, sluice::plugin::CallError> {
    let messages: Vec<Message> = bodies.iter().enumerate().map(|(i, b)| msg(i as i64, b.to_string())).collect();
    plugin.process(&Batch { topic: "t", queue_id: 0, messages: &messages })
}

/// The `sluice` binary, with a private compile cache and quiet logs.
pub fn sluice() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.env("SLUICE_CACHE_DIR", shared_cache()).env("SLUICE_LOG", "error").env_remove("RUST_LOG");
    c
}

/// Runs a command and returns (exit code, stdout, stderr).
pub fn output(mut c: Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = c.output().expect("run sluice");
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}
