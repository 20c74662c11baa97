//! The admin HTTP listener (loopback by default, `[admin] listen`): Prometheus
//! `/metrics`, `/healthz` (the process serves), `/readyz` (the broker was reached and every
//! pipeline's plugins and sinks came up; not ready again once shutdown starts), a JSON
//! `/status`, the live status page at `/` and the chart data it draws, `/api/history`.
//! Served with axum on the daemon's runtime; nothing in it touches the message path: it
//! reads the pipelines' counters.

pub mod history;
pub mod metrics;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;

use crate::config::PipelineConfig;
use crate::pipeline::Pipeline;
use crate::pipeline::stats::Snapshot;

/// What the admin endpoints read.
#[derive(Debug, Default)]
pub struct AdminState {
    pipelines: RwLock<Vec<(PipelineConfig, Arc<Pipeline>)>>,
    ready: AtomicBool,
    name_server: RwLock<String>,
    started: std::sync::OnceLock<Instant>,
    history: history::History,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("name", &self.name()).finish_non_exhaustive()
    }
}

impl AdminState {
    /// A new state: not ready, no pipeline.
    pub fn new() -> Arc<Self> {
        let s = Arc::new(Self::default());
        let _ = s.started.set(Instant::now());
        s
    }

    /// Publishes the running pipelines (after start and after each reload).
    pub fn set_pipelines(&self, p: Vec<(PipelineConfig, Arc<Pipeline>)>, name_server: &str) {
        *self.pipelines.write().unwrap_or_else(std::sync::PoisonError::into_inner) = p;
        *self.name_server.write().unwrap_or_else(std::sync::PoisonError::into_inner) = name_server.to_owned();
    }

    /// Marks the daemon ready or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The running pipelines.
    pub fn pipelines(&self) -> Vec<Arc<Pipeline>> {
        self.pipelines.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter().map(|(_, p)| p.clone()).collect()
    }

    /// The `/status` document.
    pub fn status(&self) -> Status {
        let pipelines = self.pipelines.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Status {
            version: env!("CARGO_PKG_VERSION"),
            ready: self.is_ready(),
            uptime_seconds: self.started.get().map_or(0, |t| t.elapsed().as_secs()),
            name_server: self.name_server.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            pipelines: pipelines
                .iter()
                .map(|(cfg, p)| {
                    let rt = p.runtime();
                    let counters = p.snapshot();
                    PipelineStatus {
                        topic: cfg.source.topic.clone(),
                        group: cfg.source.group.clone(),
                        mode: format!("{:?}", cfg.source.mode).to_lowercase(),
                        plugins: rt
                            .stages
                            .iter()
                            .filter_map(|s| {
                                s.plugin.as_ref().map(|pl| {
                                    let i = pl.info();
                                    PluginStatus {
                                        stage: s.name.clone(),
                                        name: i.name.clone(),
                                        path: i.path.display().to_string(),
                                        sha256: i.sha256.clone(),
                                        size: i.size,
                                        export: i.contract.export.clone(),
                                        instances_created: pl.stats().instances_created,
                                    }
                                })
                            })
                            .collect(),
                        rates: self.history.rates(p.name()),
                        lag: counters.queues.iter().map(|q| q.lag).sum(),
                        counters,
                    }
                })
                .collect(),
        }
    }
}

/// `/status`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Sluice's version.
    pub version: &'static str,
    /// Whether `/readyz` answers 200.
    pub ready: bool,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Name servers in use.
    pub name_server: String,
    /// Pipelines.
    pub pipelines: Vec<PipelineStatus>,
}

/// One pipeline in `/status`.
#[derive(Debug, Serialize)]
pub struct PipelineStatus {
    /// Source topic.
    pub topic: String,
    /// Consumer group.
    pub group: String,
    /// `ordered` or `concurrent`.
    pub mode: String,
    /// The stages' plugins.
    pub plugins: Vec<PluginStatus>,
    /// Rates over the last ten seconds.
    pub rates: history::Rates,
    /// Lag summed over the queues this process holds.
    pub lag: i64,
    /// Counters, queues and last errors.
    #[serde(flatten)]
    pub counters: Snapshot,
}

/// One plugin in `/status`.
#[derive(Debug, Serialize)]
pub struct PluginStatus {
    /// Stage name.
    pub stage: String,
    /// Plugin name.
    pub name: String,
    /// File.
    pub path: String,
    /// sha256 of the file.
    pub sha256: String,
    /// File size.
    pub size: u64,
    /// The contract export it implements.
    pub export: String,
    /// Instances created so far.
    pub instances_created: u64,
}

/// The status page: one HTML file with its script and styles inline (no external
/// resource, so it works where the admin port is reachable and nothing else is).
pub const STATUS_PAGE: &str = include_str!("status.html");

/// `/api/history`: each pipeline's samples, oldest first.
#[derive(Debug, Serialize)]
pub struct HistoryDocument {
    /// Milliseconds between samples.
    pub interval_ms: u64,
    /// Samples by pipeline name.
    pub pipelines: std::collections::BTreeMap<String, Vec<history::Sample>>,
}

/// The admin routes over `state`.
pub fn router(state: Arc<AdminState>) -> Router {
    let m = state.clone();
    let r = state.clone();
    let h = state.clone();
    let s = state;
    Router::new()
        .route("/", get(|| async { axum::response::Html(STATUS_PAGE) }))
        .route(
            "/api/history",
            get(move || {
                let h = h.clone();
                async move {
                    axum::Json(HistoryDocument {
                        interval_ms: u64::try_from(history::INTERVAL.as_millis()).unwrap_or(1000),
                        pipelines: h.history.all(),
                    })
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move { ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics::render(&m)) }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let r = r.clone();
                async move {
                    if r.is_ready() { (StatusCode::OK, "ready\n").into_response() } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response() }
                }
            }),
        )
        .route(
            "/status",
            get(move || {
                let s = s.clone();
                async move { axum::Json(s.status()) }
            }),
        )
}

/// Binds `addr` and serves the admin routes until the runtime ends.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(addr: &str, state: Arc<AdminState>) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for the admin endpoint ([admin] listen): {e}"))?;
    let local = listener.local_addr()?;
    let sampled = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(history::INTERVAL);
        loop {
            tick.tick().await;
            sampled.history.sample(&sampled.pipelines());
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(state)).await {
            tracing::error!("admin endpoint stopped: {e}");
        }
    });
    tracing::info!(%local, "admin endpoint: status page at http://{local}/, /metrics /healthz /readyz /status");
    Ok(local)
}
