//! The daemon: everything `sluice run` (and `sluice dev`) keeps running — the embedded
//! broker if configured, the RocketMQ connection, and the pipelines with their sources —
//! plus reload and graceful shutdown.
//!
//! Start-up order: the engine, the embedded broker (if `name_server = "embedded"`), a
//! reachable name server (waited for with backoff, said in the log), then **every**
//! pipeline's plugins loaded and initialised and its sinks started, and only then the
//! sources: nothing is consumed unless the whole configuration came up.
//!
//! A reload ([`Daemon::reload`]) builds every new pipeline runtime first and applies
//! nothing if any of it fails. Pipelines whose source is unchanged get the new stages
//! and sinks swapped in between two batches of each queue (nothing lost or reordered);
//! pipelines whose source changed are stopped (drained, offsets committed) and started
//! afresh; removed ones are stopped; new ones started.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};

use crate::broker::{EmbeddedTls, EmbeddedBroker, EmbeddedBrokerConfig};
use crate::config::{Config, PipelineConfig};
use crate::connection::Connection;
use crate::pipeline::stats::Snapshot;
use crate::pipeline::{Pipeline, build};
use crate::plugin::PluginEngine;
use crate::sink::rocketmq::RocketMqSink;
use crate::sink::{Sink, SinkContext};
use crate::source::RocketMqSource;

/// Queues of a topic the embedded broker creates when the config does not say.
pub const DEFAULT_EMBEDDED_QUEUES: u32 = 8;

struct Running {
    cfg: PipelineConfig,
    pipeline: Arc<Pipeline>,
    source: Option<RocketMqSource>,
    dead_letter: Arc<dyn Sink>,
}

/// A running daemon.
pub struct Daemon {
    cfg: Config,
    engine: PluginEngine,
    broker: Option<EmbeddedBroker>,
    conn: Connection,
    sink_ctx: SinkContext,
    running: BTreeMap<String, Running>,
}

impl Daemon {
    /// Starts everything `cfg` describes; see the module docs for the order. Returns
    /// `Ok(None)` when `stop` fired while waiting for the name server.
    ///
    /// # Errors
    /// The first thing that did not come up, with context.
    pub async fn start(cfg: Config, stop: &tokio::sync::watch::Receiver<bool>) -> anyhow::Result<Option<Self>> {
        let engine = PluginEngine::new(&cfg.engine)?;
        let mut broker = None;
        let name_server = if cfg.rocketmq.is_embedded() {
            let e = &cfg.rocketmq.embedded;
            let b = EmbeddedBroker::start(&EmbeddedBrokerConfig {
                data_dir: cfg.resolve(&e.data_dir),
                namesrv_port: e.namesrv_port,
                broker_port: e.broker_port,
                // With ACL keys configured, the embedded broker requires them.
                auth: match (&cfg.rocketmq.access_key_env, &cfg.rocketmq.secret_key_env) {
                    (Some(ak), Some(sk)) => Some((std::env::var(ak).unwrap_or_default(), std::env::var(sk).unwrap_or_default())),
                    _ => None,
                },
                tls: match (&e.tls_cert, &e.tls_key, &cfg.rocketmq.tls_trust_cert) {
                    (Some(cert), Some(key), Some(ca)) if cfg.rocketmq.tls => {
                        Some(EmbeddedTls { cert: cfg.resolve(cert), key: cfg.resolve(key), ca: cfg.resolve(ca) })
                    }
                    _ => None,
                },
            })
            .await?;
            let addr = b.namesrv_addr().to_owned();
            tracing::info!(name_server = %addr, broker = %b.broker_addr(), data_dir = %b.data_dir().display(), "embedded RocketMQ started");
            broker = Some(b);
            addr
        } else {
            cfg.rocketmq.name_server.clone()
        };
        let mut daemon = Self {
            conn: Connection::new(&cfg.rocketmq, &name_server, &cfg)?,
            sink_ctx: SinkContext { connection: None, base_dir: cfg.base_dir.clone() },
            cfg,
            engine,
            broker,
            running: BTreeMap::new(),
        };
        daemon.sink_ctx.connection = Some(daemon.conn.clone());
        daemon.create_embedded_topics(&daemon.cfg.clone()).await?;
        if !daemon.conn.wait_reachable(stop).await {
            daemon.shutdown().await;
            return Ok(None);
        }
        let cfg = daemon.cfg.clone();
        daemon.check_topics(&cfg).await?;
        let mut built = Vec::new();
        for p in &cfg.pipelines {
            built.push(daemon.build_pipeline(p, &cfg).await?);
        }
        for r in built {
            daemon.running.insert(r.cfg.name.clone(), r);
        }
        let names: Vec<String> = daemon.running.keys().cloned().collect();
        for name in names {
            daemon.start_source(&name).await?;
        }
        Ok(Some(daemon))
    }

    async fn create_embedded_topics(&mut self, cfg: &Config) -> anyhow::Result<()> {
        let Some(broker) = &mut self.broker else { return Ok(()) };
        let mut topics = cfg.rocketmq.embedded.topics.clone();
        for t in cfg.topics() {
            topics.entry(t).or_insert(DEFAULT_EMBEDDED_QUEUES);
        }
        for (topic, queues) in topics {
            broker.create_topic(&topic, queues).await.with_context(|| format!("creating topic {topic}"))?;
        }
        Ok(())
    }

    /// Refuses to start when a topic the configuration reads or writes has no route: the
    /// client would otherwise wait for it quietly.
    async fn check_topics(&self, cfg: &Config) -> anyhow::Result<()> {
        let topics = cfg.topics();
        let probe = crate::sink::rocketmq::Producer::start("probe", &self.conn).await?;
        let mut missing = Vec::new();
        for t in &topics {
            if let Err(e) = probe.queue_count(t).await {
                missing.push(format!("  - {t}: {e}"));
            }
        }
        // The routes come from the name server; the first broker request tells whether
        // the broker accepts us (credentials, with ACL on).
        let access = match topics.iter().next() {
            Some(t) if missing.is_empty() => probe.check_access(t).await.err(),
            _ => None,
        };
        probe.shutdown().await;
        if let Some(e) = access {
            bail!("the broker at {} refuses Sluice: {e}", self.conn.name_server());
        }
        if !missing.is_empty() {
            bail!(
                "{} topic(s) of the configuration cannot be found on {}; create them (e.g. `mqadmin updateTopic -t NAME -c CLUSTER -r 8 -w 8`) or fix the names:\n{}",
                missing.len(),
                self.conn.name_server(),
                missing.join("\n")
            );
        }
        Ok(())
    }

    async fn build_pipeline(&self, p: &PipelineConfig, cfg: &Config) -> anyhow::Result<Running> {
        let dlq_topic = p.dead_letter_topic(cfg);
        let dead_letter: Arc<dyn Sink> = Arc::new(
            RocketMqSink::start(&format!("{}-dead-letter", p.name), dlq_topic, 64, &self.conn)
                .await
                .with_context(|| format!("pipeline `{}`: dead-letter producer for topic {dlq_topic}", p.name))?,
        );
        let rt = build::build_runtime(p, cfg, &self.engine, &self.sink_ctx, dead_letter.clone(), None).await?;
        let pipeline = Arc::new(Pipeline::new(&p.name, rt, tokio::runtime::Handle::current()));
        Ok(Running { cfg: p.clone(), pipeline, source: None, dead_letter })
    }

    async fn start_source(&mut self, name: &str) -> anyhow::Result<()> {
        let drain = self.cfg.shutdown.drain_timeout;
        let Some(r) = self.running.get_mut(name) else { return Ok(()) };
        let source = RocketMqSource::start(&r.cfg.source, &self.conn, r.pipeline.clone(), drain).await?;
        r.source = Some(source);
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The name server address in use (the embedded one's when embedded).
    pub fn name_server(&self) -> &str {
        self.conn.name_server()
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The embedded broker, if any.
    pub fn embedded_broker(&mut self) -> Option<&mut EmbeddedBroker> {
        self.broker.as_mut()
    }

    /// A pipeline by name.
    pub fn pipeline(&self, name: &str) -> Option<Arc<Pipeline>> {
        self.running.get(name).map(|r| r.pipeline.clone())
    }

    /// Every running pipeline with its configuration.
    pub fn pipelines(&self) -> Vec<(PipelineConfig, Arc<Pipeline>)> {
        self.running.values().map(|r| (r.cfg.clone(), r.pipeline.clone())).collect()
    }

    /// Counters of every pipeline.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.running.values().map(|r| r.pipeline.snapshot()).collect()
    }

    /// Every plugin file of the configuration, with its modification time (for the
    /// change watcher).
    pub fn plugin_files(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let mut files: Vec<PathBuf> =
            self.cfg.pipelines.iter().flat_map(|p| p.stages.iter().map(|s| self.cfg.resolve(&s.plugin))).collect();
        files.sort();
        files.dedup();
        files.into_iter().map(|f| {
            let t = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, t)
        }).collect()
    }

    /// Stops the sources of pipelines that stopped themselves (`stop` policy). Returns
    /// their names.
    pub async fn reap_stopped(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, r) in &mut self.running {
            if r.pipeline.stopped_reason().is_some()
                && let Some(source) = r.source.take()
            {
                source.shutdown().await;
                tracing::error!(pipeline = %name, "pipeline stopped; fix the cause and reload (SIGHUP) or restart to resume");
                out.push(name.clone());
            }
        }
        out
    }

    /// Applies a new configuration; see the module docs.
    ///
    /// # Errors
    /// When something of the new configuration does not come up, or a change needs a
    /// restart; the running configuration is then left as it was.
    pub async fn reload(&mut self, new: Config) -> anyhow::Result<()> {
        if new.rocketmq != self.cfg.rocketmq {
            bail!("the [rocketmq] section changed: that needs a restart (nothing was reloaded)");
        }
        if new.engine != self.cfg.engine {
            bail!("the [engine] section changed: that needs a restart (nothing was reloaded)");
        }
        // Build everything first (topics of new pipelines exist before they are built).
        self.create_embedded_topics(&new).await?;
        let mut swaps = Vec::new();
        let mut fresh = Vec::new();
        for p in &new.pipelines {
            match self.running.get(&p.name) {
                Some(r)
                    if r.cfg.source == p.source
                        && p.dead_letter_topic(&new) == r.cfg.dead_letter_topic(&self.cfg)
                        && r.pipeline.stopped_reason().is_none() =>
                {
                    let old = r.pipeline.runtime();
                    let rt = build::build_runtime(p, &new, &self.engine, &self.sink_ctx, r.dead_letter.clone(), Some(&old)).await?;
                    swaps.push((p.clone(), rt));
                }
                _ => fresh.push(self.build_pipeline(p, &new).await?),
            }
        }
        // Apply.
        for (p, rt) in swaps {
            if let Some(r) = self.running.get_mut(&p.name) {
                let old = r.pipeline.swap_runtime(rt);
                tokio::spawn(build::retire(old, r.pipeline.runtime()));
                r.cfg = p;
            }
        }
        let keep: Vec<&str> = new.pipelines.iter().map(|p| p.name.as_str()).collect();
        let fresh_names: Vec<String> = fresh.iter().map(|r| r.cfg.name.clone()).collect();
        let gone: Vec<String> =
            self.running.keys().filter(|n| !keep.contains(&n.as_str()) || fresh_names.contains(n)).cloned().collect();
        let drain = self.cfg.shutdown.drain_timeout;
        for name in gone {
            if let Some(r) = self.running.remove(&name) {
                stop_running(r, drain).await;
            }
        }
        self.cfg = new;
        for r in fresh {
            let name = r.cfg.name.clone();
            self.running.insert(name.clone(), r);
            self.start_source(&name).await?;
        }
        tracing::info!(pipelines = self.running.len(), "configuration reloaded");
        Ok(())
    }

    /// Drains every pipeline (bounded by `[shutdown] drain_timeout`), commits offsets,
    /// closes sinks and stops the embedded broker.
    pub async fn shutdown(mut self) {
        let drain = self.cfg.shutdown.drain_timeout;
        let stops: Vec<_> =
            std::mem::take(&mut self.running).into_values().map(|r| tokio::spawn(stop_running(r, drain))).collect();
        for s in stops {
            let _ = s.await;
        }
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.conn.runtime().shutdown()).await;
    }
}

async fn stop_running(r: Running, drain: Duration) {
    let pipeline = r.pipeline.clone();
    let timer = tokio::spawn(async move {
        tokio::time::sleep(drain).await;
        tracing::warn!(pipeline = pipeline.name(), "drain timeout passed; batches still in flight are not committed and will be consumed again");
        pipeline.control.abort();
    });
    if let Some(s) = r.source {
        s.shutdown().await;
    } else {
        r.pipeline.control.close();
    }
    timer.abort();
    let rt = r.pipeline.runtime();
    for s in rt.sinks.values() {
        s.close().await;
    }
    r.dead_letter.close().await;
    tracing::info!(pipeline = r.pipeline.name(), "pipeline stopped");
}
