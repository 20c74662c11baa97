//! Builds a pipeline's [`Runtime`] from its configuration: loads and initialises every
//! plugin, starts the sinks (reusing those of a previous runtime whose configuration did
//! not change), and carries counters over a reload.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;

use super::Runtime;
use super::stage::Stage;
use crate::config::{Config, PipelineConfig};
use crate::plugin::PluginEngine;
use crate::sink::{self, Sink, SinkContext};

/// Builds the runtime of pipeline `p`.
///
/// # Errors
/// A plugin that does not load or refuses its configuration, or a sink that cannot
/// start; each error names the pipeline, stage or sink.
pub async fn build_runtime(
    p: &PipelineConfig,
    cfg: &Config,
    engine: &PluginEngine,
    sinks_ctx: &SinkContext,
    dead_letter: Arc<dyn Sink>,
    previous: Option<&Runtime>,
) -> anyhow::Result<Runtime> {
    let mut stages = Vec::with_capacity(p.stages.len());
    for (i, st) in p.stages.iter().enumerate() {
        let stage_name = st.name();
        let spec = st.plugin_spec(&p.name, cfg);
        let plugin_name = spec.name.clone();
        let engine = engine.clone();
        let plugin = tokio::task::spawn_blocking(move || engine.load(&spec))
            .await
            .context("plugin loading panicked")?
            .with_context(|| format!("pipeline `{}`, stage[{i}] `{stage_name}`", p.name))?;
        let mut stage = Stage::new(
            stage_name.clone(),
            plugin_name,
            Arc::new(plugin.clone()),
            st.on_failure,
            st.retry.clone(),
            st.circuit_breaker.clone(),
        );
        stage.plugin = Some(plugin);
        if let Some(old) = previous.and_then(|r| r.stages.iter().find(|s| s.name == stage_name)) {
            stage.stats = old.stats.clone();
        }
        stages.push(stage);
    }
    let mut sinks: BTreeMap<String, Arc<dyn Sink>> = BTreeMap::new();
    let mut sink_stats = BTreeMap::new();
    for (name, sc) in &p.sinks {
        let reuse = previous.filter(|r| r.sink_configs.get(name) == Some(sc)).and_then(|r| r.sinks.get(name).cloned());
        let s = match reuse {
            Some(s) => s,
            None => sink::build(name, sc, sinks_ctx).await.with_context(|| format!("pipeline `{}`, sink `{name}`", p.name))?,
        };
        sinks.insert(name.clone(), s);
        let stats = previous.and_then(|r| r.sink_stats.get(name).cloned()).unwrap_or_default();
        sink_stats.insert(name.clone(), stats);
    }
    Ok(Runtime {
        stages,
        sinks,
        sink_stats,
        default_sinks: p.default_sinks.clone().unwrap_or_else(|| p.sinks.keys().cloned().collect()),
        routes: p.routes.clone(),
        dead_letter,
        sink_configs: p.sinks.clone(),
    })
}

/// Closes the sinks of `old` that `new` does not use, once no batch holds `old` any
/// more (or after 60 s).
pub async fn retire(old: Arc<Runtime>, new: Arc<Runtime>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while Arc::strong_count(&old) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (name, s) in &old.sinks {
        let kept = new.sinks.get(name).is_some_and(|n| Arc::ptr_eq(n, s));
        if !kept {
            s.close().await;
        }
    }
}
