//! A pipeline between a source and its sinks: the stage chain, routing, dead letters,
//! and the rules that make delivery at-least-once and ordered.
//!
//! A source hands [`Pipeline::handle_batch`] the messages of one queue, in queue order,
//! on a thread of its own (one per queue being handled; different queues run in
//! parallel). The call returns `Ok` only when every message of the batch has been fully
//! handled: acknowledged by all the sinks its outputs were routed to, filtered out, or
//! dead-lettered. Only then may the source commit the batch's offsets. A plugin failure
//! is retried with backoff within the stage (holding this queue only); a sink failure is
//! retried with backoff until the sink takes the batch, so a sink that is down slows
//! consumption (backpressure) and loses nothing. Shutdown and the `stop` policy interrupt
//! a batch ([`Interrupted`]): it is then not committed and comes back.
//!
//! The stage chain and sinks are held in a [`Runtime`] that a reload swaps between two
//! batches of a queue: a batch runs entirely on the runtime it started with, so nothing
//! is lost or reordered by a reload.

pub mod build;
pub mod stage;
pub mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

pub use build::build_runtime;
use stage::{Failure, Item, Stage};
use stats::{ErrorEvent, PipelineStats, QueueStatus, SinkSnapshot, SinkStats, Snapshot, StageSnapshot, load};

use crate::message::{Batch, Message};
use crate::sink::Sink;

/// Properties added to a dead letter (beside the original message's own).
pub mod dead_letter_props {
    /// Pipeline name.
    pub const PIPELINE: &str = "SLUICE_DLQ_PIPELINE";
    /// Stage name.
    pub const STAGE: &str = "SLUICE_DLQ_STAGE";
    /// Plugin name.
    pub const PLUGIN: &str = "SLUICE_DLQ_PLUGIN";
    /// The last error.
    pub const ERROR: &str = "SLUICE_DLQ_ERROR";
    /// The failure class (`trap`, `plugin-reject`, …).
    pub const CLASS: &str = "SLUICE_DLQ_CLASS";
    /// Tries made.
    pub const ATTEMPTS: &str = "SLUICE_DLQ_ATTEMPTS";
    /// Source topic.
    pub const TOPIC: &str = "SLUICE_DLQ_ORIGIN_TOPIC";
    /// Source queue id.
    pub const QUEUE: &str = "SLUICE_DLQ_ORIGIN_QUEUE";
    /// Source queue offset.
    pub const OFFSET: &str = "SLUICE_DLQ_ORIGIN_OFFSET";
    /// Source message id.
    pub const MESSAGE_ID: &str = "SLUICE_DLQ_ORIGIN_MSG_ID";
}

/// Why a batch was not finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Interrupted {
    /// The pipeline is shutting down (drain timeout passed).
    #[error("interrupted by shutdown")]
    Shutdown,
    /// A stage's `stop` policy fired.
    #[error("pipeline stopped: {0}")]
    Stop(String),
}

/// Shutdown signalling shared by a pipeline's threads.
#[derive(Default)]
pub struct Control {
    abort: AtomicBool,
    closed: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Control {
    /// Sleeps for `d`, or less if the pipeline is aborted meanwhile.
    ///
    /// # Errors
    /// [`Interrupted::Shutdown`] once aborted.
    pub fn sleep(&self, d: Duration) -> Result<(), Interrupted> {
        let guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.aborted() {
            return Err(Interrupted::Shutdown);
        }
        let _unused = self.wake.wait_timeout_while(guard, d, |_| !self.aborted());
        if self.aborted() { Err(Interrupted::Shutdown) } else { Ok(()) }
    }

    /// Whether in-flight work should give up.
    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }

    /// Makes in-flight work give up (retries and sink waits end at once).
    pub fn abort(&self) {
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.abort.store(true, Ordering::Release);
        self.wake.notify_all();
    }

    /// Marks the source as closed: its consumer has stopped and persisted its offsets.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.abort();
    }

    /// Whether the source is closed.
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The swappable part of a pipeline: stages, sinks and routes.
pub struct Runtime {
    /// The stage chain.
    pub stages: Vec<Stage>,
    /// Sinks by name.
    pub sinks: BTreeMap<String, Arc<dyn Sink>>,
    /// Counters per sink (carried over reloads).
    pub sink_stats: BTreeMap<String, Arc<SinkStats>>,
    /// Sinks of messages without a destination.
    pub default_sinks: Vec<String>,
    /// Destination name → sinks.
    pub routes: BTreeMap<String, Vec<String>>,
    /// Where dead letters go.
    pub dead_letter: Arc<dyn Sink>,
    /// Configuration the sinks were built from (to reuse them across reloads).
    pub sink_configs: BTreeMap<String, crate::config::SinkConfig>,
}

/// A pipeline: name, current runtime, counters, shutdown control.
pub struct Pipeline {
    name: String,
    runtime: RwLock<Arc<Runtime>>,
    /// Counters.
    pub stats: PipelineStats,
    /// Shutdown control.
    pub control: Control,
    stopped: Mutex<Option<String>>,
    stop_tx: tokio::sync::watch::Sender<bool>,
    handle: tokio::runtime::Handle,
    queues: RwLock<Vec<QueueStatus>>,
}

impl Pipeline {
    /// A pipeline running `runtime`; sinks run on `handle`.
    pub fn new(name: &str, runtime: Runtime, handle: tokio::runtime::Handle) -> Self {
        Self {
            name: name.to_owned(),
            runtime: RwLock::new(Arc::new(runtime)),
            stats: PipelineStats::default(),
            control: Control::default(),
            stopped: Mutex::new(None),
            stop_tx: tokio::sync::watch::channel(false).0,
            handle,
            queues: RwLock::new(Vec::new()),
        }
    }

    /// Publishes the source's queues as last seen (see [`QueueStatus`]).
    pub fn set_queues(&self, queues: Vec<QueueStatus>) {
        *self.queues.write().unwrap_or_else(std::sync::PoisonError::into_inner) = queues;
    }

    /// The source's queues as last seen.
    pub fn queues(&self) -> Vec<QueueStatus> {
        self.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The runtime batches start on now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Swaps in a new runtime; batches already running finish on the old one. Returns the
    /// old runtime.
    pub fn swap_runtime(&self, new: Runtime) -> Arc<Runtime> {
        std::mem::replace(&mut *self.runtime.write().unwrap_or_else(std::sync::PoisonError::into_inner), Arc::new(new))
    }

    /// Why the pipeline stopped by itself (`stop` policy), if it did.
    pub fn stopped_reason(&self) -> Option<String> {
        self.stopped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Counts messages a source filtered out before the stage chain (already handled:
    /// their offsets may be committed).
    pub fn note_filtered_at_source(&self, n: u64) {
        self.stats.consumed.fetch_add(n, Ordering::Relaxed);
        self.stats.filtered.fetch_add(n, Ordering::Relaxed);
    }

    /// Fires when the pipeline stops by itself.
    pub fn stop_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop_tx.subscribe()
    }

    /// Handles the messages of one queue, in queue order; see the module docs. Blocks
    /// (call it from a blocking thread, as the source does).
    ///
    /// # Errors
    /// [`Interrupted`]: the batch is not finished and must not be committed.
    pub fn handle_batch(&self, topic: &str, queue_id: u32, messages: &[Message]) -> Result<(), Interrupted> {
        // One span per batch, at DEBUG: free unless asked for.
        let _span = tracing::debug_span!("batch", pipeline = %self.name, topic, queue_id, messages = messages.len()).entered();
        let n = messages.len() as u64;
        self.stats.in_flight.fetch_add(n, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let r = self.handle_inner(topic, queue_id, messages);
        self.stats.in_flight.fetch_sub(n, Ordering::Relaxed);
        if r.is_ok() {
            self.stats.batch_latency.observe(started.elapsed());
        }
        match &r {
            Ok(()) => {
                self.stats.batches_done.fetch_add(1, Ordering::Relaxed);
            }
            Err(Interrupted::Stop(reason)) => {
                self.stats.batches_interrupted.fetch_add(1, Ordering::Relaxed);
                let mut stopped = self.stopped.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if stopped.is_none() {
                    tracing::error!(pipeline = %self.name, "pipeline stopped: {reason}");
                    self.stats.errors.record("pipeline", "stop", reason);
                    *stopped = Some(reason.clone());
                    self.control.abort();
                    let _ = self.stop_tx.send(true);
                }
            }
            Err(Interrupted::Shutdown) => {
                self.stats.batches_interrupted.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    fn handle_inner(&self, topic: &str, queue_id: u32, messages: &[Message]) -> Result<(), Interrupted> {
        if self.control.aborted() {
            return Err(self.stopped_reason().map_or(Interrupted::Shutdown, Interrupted::Stop));
        }
        self.stats.consumed.fetch_add(messages.len() as u64, Ordering::Relaxed);
        let rt = self.runtime();
        let mut items: Vec<Item> = messages.iter().enumerate().map(|(origin, m)| Item { origin, message: m.clone() }).collect();
        let mut dead: Vec<(Failure, &str, &str)> = Vec::new();
        for stage in &rt.stages {
            let out = stage.run(topic, queue_id, items, &self.control)?;
            items = out.items;
            dead.extend(out.dead.into_iter().map(|f| (f, stage.name.as_str(), stage.plugin_name.as_str())));
        }

        // Route.
        let mut per_sink: BTreeMap<&str, Vec<Message>> = BTreeMap::new();
        let mut reached = vec![false; messages.len()];
        for item in items {
            let targets: &[String] = match item.message.destination() {
                None => &rt.default_sinks,
                Some(d) => {
                    if let Some((name, _)) = rt.sinks.get_key_value(d) {
                        std::slice::from_ref(name)
                    } else if let Some(t) = rt.routes.get(d) {
                        t
                    } else {
                        let error = format!("output routed to `{d}`, which is neither a sink nor a route of pipeline `{}`", self.name);
                        self.stats.errors.record("routing", "invalid-output", &error);
                        dead.push((
                            Failure {
                                origin: item.origin,
                                error,
                                class: crate::plugin::FailureClass::InvalidOutput,
                                attempts: 1,
                            },
                            "routing",
                            "-",
                        ));
                        continue;
                    }
                }
            };
            for t in targets {
                let refusal = rt.sinks.get(t.as_str()).and_then(|s| s.refuses(&item.message));
                if let Some(why) = refusal {
                    let error = format!("sink `{t}` cannot take this message: {why}");
                    self.stats.errors.record(format!("sink {t}"), "invalid-output", &error);
                    dead.push((Failure { origin: item.origin, error, class: crate::plugin::FailureClass::InvalidOutput, attempts: 1 }, "sink", t));
                    continue;
                }
                reached[item.origin] = true;
                per_sink.entry(t.as_str()).or_default().push(item.message.clone());
            }
        }
        for (name, batch) in per_sink {
            let Some(sink) = rt.sinks.get(name) else { continue };
            self.deliver(name, sink.as_ref(), rt.sink_stats.get(name), &Batch { topic, queue_id, messages: &batch })?;
        }

        // Dead letters: the original message, once per source message.
        let mut lettered = BTreeSet::new();
        let letters: Vec<Message> = dead
            .iter()
            .filter(|(f, _, _)| lettered.insert(f.origin))
            .map(|(f, stage, plugin)| self.dead_letter(topic, queue_id, &messages[f.origin], f, stage, plugin))
            .collect();
        if !letters.is_empty() {
            self.deliver("dead-letter", rt.dead_letter.as_ref(), None, &Batch { topic, queue_id, messages: &letters })?;
            self.stats.dead_lettered.fetch_add(letters.len() as u64, Ordering::Relaxed);
        }
        let filtered = (0..messages.len()).filter(|i| !reached[*i] && !lettered.contains(i)).count();
        self.stats.filtered.fetch_add(filtered as u64, Ordering::Relaxed);
        Ok(())
    }

    fn dead_letter(&self, topic: &str, queue_id: u32, original: &Message, f: &Failure, stage: &str, plugin: &str) -> Message {
        use dead_letter_props as p;
        let mut parts = original.to_parts();
        parts.destination = None;
        parts.properties.retain(|(k, _)| !k.starts_with("SLUICE_DLQ_"));
        let error = stats::cut(&f.error, 4000).to_owned();
        parts.properties.extend([
            (p::PIPELINE.to_owned(), self.name.clone()),
            (p::STAGE.to_owned(), stage.to_owned()),
            (p::PLUGIN.to_owned(), plugin.to_owned()),
            (p::ERROR.to_owned(), error),
            (p::CLASS.to_owned(), f.class.as_str().to_owned()),
            (p::ATTEMPTS.to_owned(), f.attempts.to_string()),
            (p::TOPIC.to_owned(), topic.to_owned()),
            (p::QUEUE.to_owned(), queue_id.to_string()),
            (p::OFFSET.to_owned(), original.queue_offset().to_string()),
            (p::MESSAGE_ID.to_owned(), original.message_id().to_owned()),
        ]);
        parts.build()
    }

    /// Sends a batch to a sink until it takes it, backing off from 100 ms to 10 s.
    fn deliver(&self, name: &str, sink: &dyn Sink, stats: Option<&Arc<SinkStats>>, batch: &Batch<'_>) -> Result<(), Interrupted> {
        let _span = tracing::debug_span!("sink", sink = name, messages = batch.messages.len()).entered();
        let mut wait = Duration::from_millis(100);
        let mut failures = 0u32;
        loop {
            match self.handle.block_on(sink.send(batch)) {
                Ok(()) => {
                    if let Some(s) = stats {
                        s.sent.fetch_add(batch.messages.len() as u64, Ordering::Relaxed);
                    }
                    if failures > 0 {
                        tracing::info!(pipeline = %self.name, sink = name, "sink took the batch after {failures} failed tries");
                    }
                    return Ok(());
                }
                Err(e) => {
                    failures += 1;
                    match stats {
                        Some(s) => {
                            s.errors.fetch_add(1, Ordering::Relaxed);
                            s.recent.record(format!("sink {name}"), "sink", &e.to_string());
                        }
                        None => self.stats.errors.record(name, "sink", &e.to_string()),
                    }
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(
                            pipeline = %self.name, sink = name, queue_id = batch.queue_id, failures,
                            "{e}; the queue waits and the batch is sent again in {}",
                            humantime::format_duration(wait)
                        );
                    }
                    self.control.sleep(wait)?;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Snapshot {
        let rt = self.runtime();
        let state = match self.stopped_reason() {
            Some(r) => format!("stopped: {r}"),
            None if self.control.closed() => "closed".into(),
            None if self.control.aborted() => "draining".into(),
            None => "running".into(),
        };
        Snapshot {
            pipeline: self.name.clone(),
            state,
            consumed: load(&self.stats.consumed),
            batches_done: load(&self.stats.batches_done),
            filtered: load(&self.stats.filtered),
            dead_lettered: load(&self.stats.dead_lettered),
            in_flight: load(&self.stats.in_flight),
            stages: rt
                .stages
                .iter()
                .map(|s| StageSnapshot {
                    name: s.name.clone(),
                    messages_in: load(&s.stats.messages_in),
                    messages_out: load(&s.stats.messages_out),
                    dropped: load(&s.stats.dropped),
                    failures: s.stats.failures_by_class(),
                    retries: load(&s.stats.retries),
                    skipped: load(&s.stats.skipped),
                    breaker_opened: load(&s.stats.breaker_opened),
                    breaker_open: s.breaker_open(),
                })
                .collect(),
            sinks: rt
                .sink_stats
                .iter()
                .map(|(name, s)| SinkSnapshot { name: name.clone(), sent: load(&s.sent), errors: load(&s.errors) })
                .collect(),
            queues: self.queues(),
            last_errors: {
                let mut all: Vec<ErrorEvent> = self.stats.errors.read();
                all.extend(rt.stages.iter().flat_map(|s| s.stats.errors.read()));
                all.extend(rt.sink_stats.values().flat_map(|s| s.recent.read()));
                all.sort_by(|a, b| b.at_ms.cmp(&a.at_ms));
                all.truncate(stats::RECENT_ERRORS);
                all
            },
        }
    }
}
