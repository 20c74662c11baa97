//! One live plugin instance: its sandboxed [`Store`], the loaded contract export, and the
//! call path for both contract shapes (typed records and frames).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sluice_frames::{BatchEncoder, OutcomeReader, OutcomeView, merge_output};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::exports::sluice::plugin::{
    frames_filter as filter_frames, frames_transform as transform_frames, typed_filter as filter,
    typed_transform as transform,
};
use super::bindings::sluice::plugin::{host, types};
use super::error::CallError;
use super::pool::PluginInner;
use super::stderr::StderrTail;
use crate::message::{Batch, Message, Outcome, PluginFailure};

/// Most distinct counter names one plugin may create.
pub const MAX_GUEST_COUNTERS: usize = 64;

/// Who a plugin is, for its log lines and counters; shared by all its instances.
#[derive(Debug)]
pub struct PluginIdentity {
    /// Plugin (stage) name.
    pub name: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Stage name.
    pub stage: String,
    /// Counters the plugin bumped through `counter-add`.
    pub counters: Mutex<HashMap<String, u64>>,
    /// Budget of log lines per second, shared by all instances.
    pub log_budget: Mutex<LogBudget>,
    /// What the stage grants beyond the sandbox.
    pub grants: super::grants::Resolved,
}

/// Most log lines a plugin may write per second (all levels); the rest are counted and
/// reported in one warning, so that a plugin logging per message cannot flood the log.
pub const MAX_GUEST_LOG_LINES_PER_SEC: u32 = 100;

/// A one-second window of a plugin's log lines.
#[derive(Debug)]
pub struct LogBudget {
    window: std::time::Instant,
    lines: u32,
    suppressed: u64,
}

impl Default for LogBudget {
    fn default() -> Self {
        Self { window: std::time::Instant::now(), lines: 0, suppressed: 0 }
    }
}

impl LogBudget {
    /// Whether one more line may be written now; the second value is the number of lines
    /// suppressed in the window that just ended, to be reported once.
    fn take(&mut self) -> (bool, u64) {
        let now = std::time::Instant::now();
        let mut ended = 0;
        if now.duration_since(self.window).as_secs() >= 1 {
            ended = std::mem::take(&mut self.suppressed);
            self.window = now;
            self.lines = 0;
        }
        if self.lines < MAX_GUEST_LOG_LINES_PER_SEC {
            self.lines += 1;
            (true, ended)
        } else {
            self.suppressed += 1;
            (false, ended)
        }
    }
}

/// Memory and table bounds of one store; remembers a breach so that the resulting
/// failure is classified as `memory` whatever the guest made of the refused growth.
pub(crate) struct Limiter {
    memory_limit: usize,
    pub(crate) memory_breached: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_breached = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The host state of one store.
pub struct StoreState {
    wasi: WasiCtx,
    stderr: StderrTail,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    id: Arc<PluginIdentity>,
}

impl StoreState {
    fn new(id: Arc<PluginIdentity>, memory_limit: usize) -> Result<Self, String> {
        // No ambient capabilities: no preopened directories, no environment variables, no
        // arguments, stdin empty, stdout/stderr discarded, every socket use refused —
        // except what the stage grants (`grants`). Clocks and random come from the host:
        // language runtimes need them. Stderr is kept as a bounded tail for trap reports
        // (see `stderr`).
        let stderr = StderrTail::default();
        let mut b = WasiCtxBuilder::new();
        b.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).stderr(stderr.clone());
        id.grants.apply(&mut b)?;
        let wasi = b.build();
        Ok(Self { wasi, stderr, table: ResourceTable::new(), limiter: Limiter { memory_limit, memory_breached: false }, id })
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for StoreState {}

impl host::Host for StoreState {
    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<(String, String)>) {
        use host::LogLevel as L;
        let id = &self.id;
        let (allowed, suppressed) = id.log_budget.lock().map(|mut b| b.take()).unwrap_or((true, 0));
        if suppressed > 0 {
            tracing::warn!(plugin = %id.name, suppressed, "plugin wrote more than {MAX_GUEST_LOG_LINES_PER_SEC} log lines per second; lines were dropped");
        }
        if !allowed {
            return;
        }
        let fields = fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        macro_rules! ev {
            ($lvl:expr) => {
                tracing::event!(target: "sluice::plugin::guest", $lvl, plugin = %id.name, pipeline = %id.pipeline, stage = %id.stage, fields = %fields, "{message}")
            };
        }
        match level {
            L::Trace => ev!(tracing::Level::TRACE),
            L::Debug => ev!(tracing::Level::DEBUG),
            L::Info => ev!(tracing::Level::INFO),
            L::Warn => ev!(tracing::Level::WARN),
            L::Error => ev!(tracing::Level::ERROR),
        }
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        let Ok(mut counters) = self.id.counters.lock() else { return };
        let len = counters.len();
        match counters.get_mut(&name) {
            Some(v) => *v = v.saturating_add(delta),
            None if len < MAX_GUEST_COUNTERS => {
                counters.insert(name, delta);
            }
            None => {
                if len == MAX_GUEST_COUNTERS {
                    tracing::warn!(plugin = %self.id.name, counter = %name, "plugin uses more than {MAX_GUEST_COUNTERS} counter names; dropping the rest");
                    // A sentinel so that the warning is given once.
                    counters.insert(String::from("sluice.dropped-counter-names"), 1);
                }
            }
        }
    }
}

/// The contract export of one instance.
pub(crate) enum Guest {
    Filter(filter::Guest),
    Transform(transform::Guest),
    FilterFrames(filter_frames::Guest),
    TransformFrames(transform_frames::Guest),
}

/// Export indices resolved once per plugin from its `InstancePre`.
#[derive(Clone)]
pub(crate) enum GuestIndices {
    Filter(filter::GuestIndices),
    Transform(transform::GuestIndices),
    FilterFrames(filter_frames::GuestIndices),
    TransformFrames(transform_frames::GuestIndices),
}

/// A live instance, owned by the pool between calls.
pub(crate) struct LiveInstance {
    store: Store<StoreState>,
    guest: Guest,
    /// The frame buffer of the previous batch, reused.
    scratch: Vec<u8>,
}

impl LiveInstance {
    /// Instantiates the plugin and runs `init`.
    pub(crate) fn start(p: &PluginInner) -> Result<Self, CallError> {
        let memory_limit = usize::try_from(p.limits.memory.as_u64()).unwrap_or(usize::MAX);
        let state = StoreState::new(p.id.clone(), memory_limit)
            .map_err(|message| CallError::InitRefused { plugin: p.id.name.clone(), key: None, message })?;
        let mut store = Store::new(p.engine.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(p.ticks);
        let instance = p.pre.instantiate(&mut store).map_err(|e| classify(p, &store, e))?;
        let loaded = match &p.indices {
            GuestIndices::Filter(i) => i.load(&mut store, &instance).map(Guest::Filter),
            GuestIndices::Transform(i) => i.load(&mut store, &instance).map(Guest::Transform),
            GuestIndices::FilterFrames(i) => i.load(&mut store, &instance).map(Guest::FilterFrames),
            GuestIndices::TransformFrames(i) => i.load(&mut store, &instance).map(Guest::TransformFrames),
        };
        let guest = loaded.map_err(|e| classify(p, &store, e))?;
        store.set_epoch_deadline(p.ticks);
        let cfg = &p.config;
        let r = match &guest {
            Guest::Filter(g) => g.call_init(&mut store, cfg),
            Guest::Transform(g) => g.call_init(&mut store, cfg),
            Guest::FilterFrames(g) => g.call_init(&mut store, cfg),
            Guest::TransformFrames(g) => g.call_init(&mut store, cfg),
        };
        match r {
            Err(e) => Err(classify(p, &store, e)),
            Ok(Err(refused)) => {
                Err(CallError::InitRefused { plugin: p.id.name.clone(), key: refused.key, message: refused.message })
            }
            Ok(Ok(())) => Ok(Self { store, guest, scratch: Vec::new() }),
        }
    }

    /// Runs one batch through the instance.
    pub(crate) fn call(&mut self, p: &PluginInner, batch: &Batch<'_>) -> Result<Vec<Outcome>, CallError> {
        self.store.set_epoch_deadline(p.ticks);
        // What happened in earlier calls must not colour this one's failure report: a
        // refused growth the guest survived, or stderr lines it wrote along the way.
        let state = self.store.data_mut();
        state.limiter.memory_breached = false;
        state.stderr.clear();
        let n = batch.messages.len();
        let invalid = |detail: String| CallError::InvalidOutput { plugin: p.id.name.clone(), detail };
        match &self.guest {
            Guest::FilterFrames(g) => {
                let ctx = context(p, batch);
                let r = g.call_filter(&mut self.store, &ctx, gather_frames(&mut self.scratch, batch.messages));
                let answer = self.answer(p, r)?;
                decode_frames(&answer, batch.messages, true, p.limits.max_outputs_per_message).map_err(invalid)
            }
            Guest::TransformFrames(g) => {
                let ctx = context(p, batch);
                let r = g.call_transform(&mut self.store, &ctx, gather_frames(&mut self.scratch, batch.messages));
                let answer = self.answer(p, r)?;
                decode_frames(&answer, batch.messages, false, p.limits.max_outputs_per_message).map_err(invalid)
            }
            Guest::Filter(g) => {
                let (ctx, msgs) = typed_batch(p, batch);
                let r = g.call_filter(&mut self.store, &ctx, &msgs);
                let verdicts = self.answer(p, r)?;
                if verdicts.len() != n {
                    return Err(invalid(format!("{} verdicts for a batch of {n} messages", verdicts.len())));
                }
                Ok(verdicts
                    .into_iter()
                    .map(|v| match v {
                        filter::Verdict::Keep => Outcome::Keep,
                        filter::Verdict::Drop => Outcome::Drop,
                        filter::Verdict::Failed(e) => Outcome::Failed(failure(e)),
                    })
                    .collect())
            }
            Guest::Transform(g) => {
                let (ctx, msgs) = typed_batch(p, batch);
                let r = g.call_transform(&mut self.store, &ctx, &msgs);
                let outcomes = self.answer(p, r)?;
                if outcomes.len() != n {
                    return Err(invalid(format!("{} outcomes for a batch of {n} messages", outcomes.len())));
                }
                let max = p.limits.max_outputs_per_message as usize;
                outcomes
                    .into_iter()
                    .enumerate()
                    .map(|(i, o)| {
                        Ok(match o {
                            transform::Outcome::Unchanged => Outcome::Keep,
                            transform::Outcome::Drop => Outcome::Drop,
                            transform::Outcome::Failed(e) => Outcome::Failed(failure(e)),
                            transform::Outcome::Replaced(outs) if outs.len() > max => {
                                return Err(invalid(too_many(i, outs.len(), max)));
                            }
                            transform::Outcome::Replaced(outs) => {
                                let input = &batch.messages[i];
                                Outcome::Replace(outs.into_iter().map(|o| typed_output(input, o)).collect())
                            }
                        })
                    })
                    .collect()
            }
        }
    }

    /// Turns the raw result of a call into the plugin's answer or a classified error.
    fn answer<T>(&self, p: &PluginInner, r: wasmtime::Result<Result<T, types::PluginError>>) -> Result<T, CallError> {
        match r {
            Err(e) => Err(classify(p, &self.store, e)),
            Ok(Err(e)) => Err(CallError::Plugin { plugin: p.id.name.clone(), failure: failure(e) }),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

/// The frames of a batch as one run of bytes: as they lie when a source built the batch
/// in one buffer (no copy on the host), else gathered into the reused `scratch` buffer.
fn gather_frames<'a>(scratch: &'a mut Vec<u8>, messages: &'a [Message]) -> &'a [u8] {
    if let Some(run) = Message::contiguous_frames(messages) {
        return run;
    }
    let mut enc = BatchEncoder::new(std::mem::take(scratch));
    for m in messages {
        enc.push_frame(m.frame());
    }
    *scratch = enc.finish();
    scratch
}

fn too_many(i: usize, got: usize, max: usize) -> String {
    format!("message {i} became {got} outputs, more than the stage's limit of {max} (limits.max_outputs_per_message)")
}

fn failure(e: types::PluginError) -> PluginFailure {
    match e {
        types::PluginError::Retry(r) => PluginFailure::Retry(r),
        types::PluginError::Reject(r) => PluginFailure::Reject(r),
    }
}

fn context(p: &PluginInner, batch: &Batch<'_>) -> types::BatchContext {
    types::BatchContext {
        topic: batch.topic.to_owned(),
        queue_id: batch.queue_id,
        pipeline: p.id.pipeline.clone(),
        stage: p.id.stage.clone(),
    }
}

fn typed_batch(p: &PluginInner, batch: &Batch<'_>) -> (types::BatchContext, Vec<types::Message>) {
    let ctx = context(p, batch);
    let msgs = batch
        .messages
        .iter()
        .map(|m| {
            let p = m.to_parts();
            types::Message {
                queue_offset: p.queue_offset,
                message_id: p.message_id,
                keys: p.keys,
                tags: p.tags,
                properties: p.properties.into_iter().map(|(key, value)| types::Property { key, value }).collect(),
                body: p.body.to_vec(),
                born_timestamp_ms: p.born_timestamp_ms,
                reconsume_count: p.reconsume_count,
            }
        })
        .collect();
    (ctx, msgs)
}

/// The message a typed output stands for, given its input.
fn typed_output(input: &Message, o: types::Output) -> Message {
    let mut p = input.to_parts();
    if let Some(keys) = o.keys {
        p.keys = keys;
    }
    match o.tags {
        Some(t) if t.is_empty() => p.tags = None,
        Some(t) => p.tags = Some(t),
        None => {}
    }
    if let Some(props) = o.properties {
        p.properties = props.into_iter().map(|p| (p.key, p.value)).collect();
    }
    if let Some(body) = o.body {
        p.body = Bytes::from(body);
    }
    if o.destination.is_some() {
        p.destination = o.destination;
    }
    p.build()
}

/// Reads and checks an outcome buffer. Replaced messages are assembled from output and
/// input by copying byte ranges into one buffer per batch, which the new messages share.
pub(crate) fn decode_frames(buf: &[u8], inputs: &[Message], is_filter: bool, max_outputs: u32) -> Result<Vec<Outcome>, String> {
    let n = inputs.len();
    // Fast path, the common answer of a filter or a transform that changed nothing: one
    // keep/drop byte per message after the header.
    if buf.len() == 8 + n && buf[..4] == sluice_frames::OUTCOME_MAGIC && buf[4..8] == (n as u32).to_le_bytes() {
        let tags = &buf[8..];
        if tags.iter().all(|t| *t <= sluice_frames::TAG_DROP) {
            return Ok(tags.iter().map(|t| if *t == sluice_frames::TAG_UNCHANGED { Outcome::Keep } else { Outcome::Drop }).collect());
        }
    }
    let mut r = OutcomeReader::new(buf, n).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(n);
    // Replaced messages: (outcome index, frame range in `merged`, destination).
    let mut merged: Vec<u8> = Vec::with_capacity(if is_filter { 0 } else { buf.len() + inputs.iter().map(|m| m.frame().len()).sum::<usize>() });
    let mut replaced: Vec<(usize, std::ops::Range<usize>, Option<String>)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let o = match r.next_outcome_lazy().map_err(|e| e.to_string())? {
            OutcomeView::Unchanged => Outcome::Keep,
            OutcomeView::Drop => Outcome::Drop,
            OutcomeView::Retry(s) => Outcome::Failed(PluginFailure::Retry(s.to_owned())),
            OutcomeView::Reject(s) => Outcome::Failed(PluginFailure::Reject(s.to_owned())),
            OutcomeView::Replaced(_) if is_filter => {
                return Err(format!("a filter answered `replaced` for message {i}; filters may only keep, drop, retry or reject"));
            }
            OutcomeView::Replaced(outs) if outs.count_hint() > max_outputs as usize => {
                return Err(too_many(i, outs.count_hint(), max_outputs as usize));
            }
            OutcomeView::Replaced(mut outs) => {
                let view = input.view();
                for o in &mut outs {
                    let o = o.map_err(|e| e.to_string())?;
                    let start = merged.len();
                    merge_output(&mut merged, &view, &o);
                    let destination = o.destination.map(str::to_owned).or_else(|| input.destination().map(str::to_owned));
                    replaced.push((i, start..merged.len(), destination));
                }
                r.continue_after(&outs).map_err(|e| e.to_string())?;
                Outcome::Replace(Vec::new())
            }
        };
        out.push(o);
    }
    r.finish().map_err(|e| e.to_string())?;
    if !replaced.is_empty() {
        // All outputs of the call share one buffer, back to back: the next stage can take
        // them without a copy.
        let merged = Bytes::from(merged);
        for (i, range, dest) in replaced {
            if let Outcome::Replace(msgs) = &mut out[i] {
                msgs.push(Message::from_trusted_frame(merged.clone(), range, dest));
            }
        }
    }
    Ok(out)
}

/// Classifies a failure that wasmtime reported (trap, interrupt, memory, link trouble).
pub(crate) fn classify(p: &PluginInner, store: &Store<StoreState>, e: wasmtime::Error) -> CallError {
    let plugin = p.id.name.clone();
    if store.data().limiter.memory_breached {
        return CallError::Memory { plugin, limit: p.limits.memory.as_u64() };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Deadline { plugin, deadline: p.limits.deadline },
        trap => {
            // The trap itself, what the guest last wrote to stderr (a panic message, a
            // traceback), and the wasm backtrace; never the host's own backtrace.
            let mut message = match trap {
                Some(t) => t.to_string(),
                None => format!("{e:#}"),
            };
            let stderr = store.data().stderr.take();
            if !stderr.is_empty() {
                message.push_str("; guest stderr: ");
                message.push_str(&stderr);
            }
            if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
                tracing::debug!(plugin = %plugin, "wasm backtrace of the trap:\n{bt}");
            }
            CallError::Trap { plugin, message }
        }
    }
}

