//! Counters of a pipeline, its stages and sinks: read by `sluice dev`'s live view, the
//! status endpoint and the metrics. Relaxed atomics; nothing here is on a lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::plugin::FailureClass;

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A latency histogram on relaxed atomics (one `observe` is a few atomic adds).
#[derive(Debug, Default)]
pub struct Latency {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Latency {
    /// Records one duration.
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// (sum in seconds, count, cumulative buckets `(le, count)`), the Prometheus shape.
    pub fn read(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut acc = 0;
        let buckets = LATENCY_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(le, n)| {
                acc += n.load(Ordering::Relaxed);
                (*le, acc)
            })
            .collect();
        let count = self.count.load(Ordering::Relaxed);
        (self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9, count, buckets)
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// How many recent errors a stage, sink or pipeline keeps for `/status`.
pub const RECENT_ERRORS: usize = 16;

/// One recent error, as `/status` and the status page show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorEvent {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Where: `stage NAME`, `sink NAME`, `dead-letter` or `pipeline`.
    pub component: String,
    /// The failure class (`trap`, `plugin-reject`, …) or `sink` / `routing` / `stop`.
    pub class: String,
    /// The error, cut to 500 bytes.
    pub message: String,
}

/// The last [`RECENT_ERRORS`] errors of a component. Written only when something fails,
/// so the lock is never on the path of a message that succeeds.
#[derive(Debug, Default)]
pub struct ErrorLog(Mutex<VecDeque<ErrorEvent>>);

impl ErrorLog {
    /// Remembers an error, forgetting the oldest beyond [`RECENT_ERRORS`].
    pub fn record(&self, component: impl Into<String>, class: impl Into<String>, message: &str) {
        let event = ErrorEvent { at_ms: unix_ms(), component: component.into(), class: class.into(), message: cut(message, 500).to_owned() };
        let mut q = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() == RECENT_ERRORS {
            q.pop_front();
        }
        q.push_back(event);
    }

    /// The errors kept, oldest first.
    pub fn read(&self) -> Vec<ErrorEvent> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect()
    }
}

/// Counters of one stage (kept across reloads while the stage keeps its name).
#[derive(Debug, Default)]
pub struct StageStats {
    /// Messages handed to the stage.
    pub messages_in: AtomicU64,
    /// Messages that came out (kept or produced).
    pub messages_out: AtomicU64,
    /// Messages filtered out.
    pub dropped: AtomicU64,
    /// Messages replaced by outputs.
    pub replaced: AtomicU64,
    /// Failed calls or messages (every try counts).
    pub failures: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    /// Messages skipped by the `skip` policy.
    pub skipped: AtomicU64,
    /// Times the circuit breaker opened.
    pub breaker_opened: AtomicU64,
    /// Duration of each plugin call (batch or single message).
    pub call_latency: Latency,
    /// Recent failures.
    pub errors: ErrorLog,
    by_class: [AtomicU64; 7],
}

const CLASSES: [FailureClass; 7] = [
    FailureClass::Trap,
    FailureClass::Deadline,
    FailureClass::Memory,
    FailureClass::PluginRetry,
    FailureClass::PluginReject,
    FailureClass::InitRefused,
    FailureClass::InvalidOutput,
];

impl StageStats {
    pub(crate) fn record_class(&self, class: FailureClass) {
        if let Some(i) = CLASSES.iter().position(|c| *c == class) {
            self.by_class[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Failures of every class, by class name (zeros included).
    pub fn failures_all_classes(&self) -> Vec<(&'static str, u64)> {
        CLASSES.iter().zip(&self.by_class).map(|(c, n)| (c.as_str(), n.load(Ordering::Relaxed))).collect()
    }

    /// Failures by class name (only classes seen).
    pub fn failures_by_class(&self) -> BTreeMap<&'static str, u64> {
        CLASSES
            .iter()
            .zip(&self.by_class)
            .map(|(c, n)| (c.as_str(), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Messages acknowledged.
    pub sent: AtomicU64,
    /// Failed sends (each retry counts).
    pub errors: AtomicU64,
    /// Recent send errors.
    pub recent: ErrorLog,
}

/// Counters of one pipeline.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Messages received from the source.
    pub consumed: AtomicU64,
    /// Batches handled to the end (their offsets may be committed).
    pub batches_done: AtomicU64,
    /// Batches given up on at shutdown or stop (not committed).
    pub batches_interrupted: AtomicU64,
    /// Messages that reached no sink because every stage path filtered them.
    pub filtered: AtomicU64,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Messages being handled right now.
    pub in_flight: AtomicU64,
    /// Duration of each batch, from the source to the last sink's acknowledgement.
    pub batch_latency: Latency,
    /// Recent errors of the pipeline itself (routing, dead-letter sends, stop).
    pub errors: ErrorLog,
}

/// A point-in-time copy of a pipeline's counters, for display and the status endpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Pipeline name.
    pub pipeline: String,
    /// `running`, `stopped: …` or `draining`.
    pub state: String,
    /// Messages consumed.
    pub consumed: u64,
    /// Batches done.
    pub batches_done: u64,
    /// Messages filtered out.
    pub filtered: u64,
    /// Messages dead-lettered.
    pub dead_lettered: u64,
    /// In flight.
    pub in_flight: u64,
    /// Per stage.
    pub stages: Vec<StageSnapshot>,
    /// Per sink: (name, sent, errors).
    pub sinks: Vec<SinkSnapshot>,
    /// The source's queues held by this process.
    pub queues: Vec<QueueStatus>,
    /// The most recent errors of the pipeline, its stages and sinks, newest first.
    pub last_errors: Vec<ErrorEvent>,
}

/// A queue of the source held by this process: how far it is committed and how far
/// behind the broker it is. Refreshed by the source every few seconds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueStatus {
    /// Topic.
    pub topic: String,
    /// Broker name.
    pub broker: String,
    /// Queue id.
    pub queue_id: i32,
    /// The next offset to consume, as committed by Sluice (the broker learns it within
    /// seconds, and at shutdown).
    pub committed_offset: i64,
    /// The broker's next offset for the queue (its message count, for a queue never
    /// truncated).
    pub max_offset: i64,
    /// `max_offset - committed_offset`: messages not yet handled to the end.
    pub lag: i64,
    /// Messages fetched and waiting in Sluice's buffer.
    pub buffered: u32,
    /// Whether the broker lock of an ordered queue is held.
    pub locked: bool,
}

/// A stage's counters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StageSnapshot {
    /// Stage name.
    pub name: String,
    /// In.
    pub messages_in: u64,
    /// Out.
    pub messages_out: u64,
    /// Dropped.
    pub dropped: u64,
    /// Failures by class.
    pub failures: BTreeMap<&'static str, u64>,
    /// Retries.
    pub retries: u64,
    /// Skipped.
    pub skipped: u64,
    /// Breaker openings.
    pub breaker_opened: u64,
    /// Whether the breaker is open now.
    pub breaker_open: bool,
}

/// A sink's counters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SinkSnapshot {
    /// Sink name.
    pub name: String,
    /// Sent.
    pub sent: u64,
    /// Errors.
    pub errors: u64,
}

pub(crate) fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}
