//! One stage of a chain: a plugin with its failure policy, retries and circuit breaker.
//!
//! [`Stage::run`] takes the messages of one queue (in order) and returns what survives,
//! in order. The fast path is one plugin call for the whole batch. A message that fails
//! (the plugin's `retry`/`reject`, or a crash of the call it was in) goes to the slow
//! path: it is called alone, retried with exponential backoff while retrying can help
//! and attempts remain, and then handled by the stage's policy (dead letter, skip, stop).
//! Later messages of the queue wait meanwhile: that is what keeps order, and it holds only
//! this queue, for at most the bounded retries.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::stats::StageStats;
use super::{Control, Interrupted};
use crate::config::{BreakerConfig, FailurePolicy, RetryConfig};
use crate::message::{Batch, Message, Outcome};
use crate::plugin::{BatchProcessor, FailureClass};

/// A message inside the chain, with the index of the source message it came from.
#[derive(Debug, Clone)]
pub struct Item {
    /// Index of the source message in its batch.
    pub origin: usize,
    /// The message as the previous stage left it.
    pub message: Message,
}

/// A message a stage gave up on.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Index of the source message in its batch.
    pub origin: usize,
    /// What went wrong, last time.
    pub error: String,
    /// The failure class.
    pub class: FailureClass,
    /// Tries made.
    pub attempts: u32,
}

/// What a stage made of a batch.
#[derive(Debug, Default)]
pub struct StageOutput {
    /// Surviving messages, in order.
    pub items: Vec<Item>,
    /// Messages to dead-letter.
    pub dead: Vec<Failure>,
}

/// A running stage.
pub struct Stage {
    /// Stage name.
    pub name: String,
    /// Plugin name.
    pub plugin_name: String,
    processor: Arc<dyn BatchProcessor>,
    policy: FailurePolicy,
    retry: RetryConfig,
    breaker: Breaker,
    /// Counters.
    pub stats: Arc<StageStats>,
    /// The plugin, when the processor is one (for its file facts and instance counters).
    pub plugin: Option<crate::plugin::Plugin>,
}

struct Breaker {
    cfg: BreakerConfig,
    state: Mutex<(u32, Option<Instant>)>,
}

impl Breaker {
    /// Waits while the breaker is open. Returns whether it had to wait.
    fn wait_closed(&self, control: &Control, stage: &Stage) -> Result<(), Interrupted> {
        loop {
            let until = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1;
            match until {
                Some(t) if Instant::now() < t => control.sleep(t - Instant::now().min(t))?,
                Some(_) => {
                    let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if s.1.is_some() {
                        s.1 = None;
                        tracing::info!(stage = %stage.name, plugin = %stage.plugin_name, "circuit breaker half-open: trying the plugin again");
                    }
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
    }

    fn record(&self, class: Option<FailureClass>, stage: &Stage) {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match class {
            Some(c) if matches!(c, FailureClass::Trap | FailureClass::Deadline | FailureClass::Memory) => {
                s.0 += 1;
                if self.cfg.consecutive_failures > 0 && s.0 >= self.cfg.consecutive_failures && s.1.is_none() {
                    s.1 = Some(Instant::now() + self.cfg.cooldown);
                    s.0 = 0;
                    stage.stats.breaker_opened.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        stage = %stage.name,
                        plugin = %stage.plugin_name,
                        "circuit breaker open: the plugin crashed {} times in a row (last: {c}); \
                         its queues wait {} before it is tried again, nothing is dead-lettered meanwhile",
                        self.cfg.consecutive_failures,
                        humantime::format_duration(self.cfg.cooldown)
                    );
                }
            }
            Some(_) => {}
            None => s.0 = 0,
        }
    }

    fn is_open(&self) -> bool {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.is_some()
    }
}

/// What the stage made of one message.
enum Handled {
    Keep,
    Drop,
    Replace(Vec<Message>),
    GaveUp(Failure),
}

/// Whether retrying a failure of this class can help.
fn retryable(class: FailureClass) -> bool {
    matches!(class, FailureClass::Trap | FailureClass::Deadline | FailureClass::Memory | FailureClass::PluginRetry)
}

impl Stage {
    /// A stage around `processor`.
    pub fn new(
        name: String,
        plugin_name: String,
        processor: Arc<dyn BatchProcessor>,
        policy: FailurePolicy,
        retry: RetryConfig,
        breaker: BreakerConfig,
    ) -> Self {
        Self {
            name,
            plugin_name,
            processor,
            policy,
            retry,
            breaker: Breaker { cfg: breaker, state: Mutex::new((0, None)) },
            stats: Arc::new(StageStats::default()),
            plugin: None,
        }
    }

    /// One plugin call, timed.
    fn call(&self, batch: &Batch<'_>) -> Result<Vec<Outcome>, crate::plugin::CallError> {
        let t = Instant::now();
        let r = self.processor.process(batch);
        self.stats.call_latency.observe(t.elapsed());
        r
    }

    /// Whether the stage's circuit breaker is open now.
    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Runs the stage over `items` (all from one queue, in order).
    ///
    /// # Errors
    /// [`Interrupted`] when the pipeline is being stopped, or when a failure hit the
    /// `stop` policy.
    pub fn run(&self, topic: &str, queue_id: u32, items: Vec<Item>, control: &Control) -> Result<StageOutput, Interrupted> {
        let _span = tracing::debug_span!("stage", stage = %self.name, plugin = %self.plugin_name).entered();
        let mut out = StageOutput { items: Vec::with_capacity(items.len()), dead: Vec::new() };
        if items.is_empty() {
            return Ok(out);
        }
        self.stats.messages_in.fetch_add(items.len() as u64, Ordering::Relaxed);
        self.breaker.wait_closed(control, self)?;
        let messages: Vec<Message> = items.iter().map(|i| i.message.clone()).collect();
        let outcomes = match self.call(&Batch { topic, queue_id, messages: &messages }) {
            Ok(o) => {
                self.breaker.record(None, self);
                o.into_iter().map(Some).collect()
            }
            Err(e) => {
                // A failure of the whole call: find out message by message.
                self.note_failure(&e.to_string(), e.class());
                vec![None; items.len()]
            }
        };
        for (item, outcome) in items.into_iter().zip(outcomes) {
            let handled = match outcome {
                Some(Outcome::Keep) => Handled::Keep,
                Some(Outcome::Drop) => Handled::Drop,
                Some(Outcome::Replace(v)) => Handled::Replace(v),
                Some(Outcome::Failed(f)) => {
                    let class = f.class();
                    self.note_failure(&f.to_string(), class);
                    self.retry_one(topic, queue_id, &item, 1, f.to_string(), class, control)?
                }
                None => self.retry_one(topic, queue_id, &item, 0, String::new(), FailureClass::Trap, control)?,
            };
            match handled {
                Handled::Keep => out.items.push(item),
                Handled::Drop => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Handled::Replace(v) => {
                    self.stats.replaced.fetch_add(1, Ordering::Relaxed);
                    out.items.extend(v.into_iter().map(|message| Item { origin: item.origin, message }));
                }
                Handled::GaveUp(failure) => match self.policy {
                    FailurePolicy::DeadLetter => out.dead.push(failure),
                    FailurePolicy::Skip => {
                        self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            stage = %self.name, plugin = %self.plugin_name, topic, queue_id,
                            offset = item.message.queue_offset(), attempts = failure.attempts,
                            "skipping a message the plugin failed on (on_failure = \"skip\"): {}", failure.error
                        );
                    }
                    FailurePolicy::Stop => {
                        let reason = format!(
                            "stage `{}` (plugin `{}`) failed on {topic} queue {queue_id} offset {} after {} attempt(s): {} \
                             (on_failure = \"stop\"); the message is not committed and comes back when the pipeline restarts",
                            self.name,
                            self.plugin_name,
                            item.message.queue_offset(),
                            failure.attempts,
                            failure.error
                        );
                        return Err(Interrupted::Stop(reason));
                    }
                },
            }
        }
        self.stats.messages_out.fetch_add(out.items.len() as u64, Ordering::Relaxed);
        Ok(out)
    }

    fn note_failure(&self, error: &str, class: FailureClass) {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        self.stats.record_class(class);
        self.stats.errors.record(format!("stage {}", self.name), class.as_str(), error);
        self.breaker.record(Some(class), self);
        tracing::debug!(stage = %self.name, plugin = %self.plugin_name, %class, "plugin call failed: {error}");
    }

    /// The slow path for one message: `attempts` tries already made (the last one failed
    /// with `error`/`class`, unless `attempts` is 0).
    #[allow(clippy::too_many_arguments)]
    fn retry_one(
        &self,
        topic: &str,
        queue_id: u32,
        item: &Item,
        mut attempts: u32,
        mut error: String,
        mut class: FailureClass,
        control: &Control,
    ) -> Result<Handled, Interrupted> {
        loop {
            if attempts > 0 {
                if !retryable(class) || attempts >= self.retry.max_attempts {
                    if attempts > 1 || !retryable(class) {
                        tracing::warn!(
                            stage = %self.name, plugin = %self.plugin_name, topic, queue_id,
                            offset = item.message.queue_offset(), attempts, %class,
                            "giving up on a message: {error}"
                        );
                    }
                    return Ok(Handled::GaveUp(Failure { origin: item.origin, error, class, attempts }));
                }
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                control.sleep(self.retry.backoff(attempts))?;
            }
            self.breaker.wait_closed(control, self)?;
            let message = if attempts == 0 {
                item.message.clone()
            } else {
                let mut p = item.message.to_parts();
                p.reconsume_count = attempts;
                p.build()
            };
            attempts += 1;
            match self.call(&Batch { topic, queue_id, messages: std::slice::from_ref(&message) }) {
                Ok(o) => match <[Outcome; 1]>::try_from(o) {
                    Ok([Outcome::Failed(f)]) => {
                        class = f.class();
                        error = f.to_string();
                        self.note_failure(&error, class);
                    }
                    Ok([Outcome::Replace(v)]) => {
                        self.breaker.record(None, self);
                        // Outputs inherit the retried input's reconsume count; reset it.
                        let v = v
                            .into_iter()
                            .map(|m| {
                                let mut p = m.to_parts();
                                p.reconsume_count = 0;
                                p.build()
                            })
                            .collect();
                        return Ok(Handled::Replace(v));
                    }
                    Ok([Outcome::Drop]) => {
                        self.breaker.record(None, self);
                        return Ok(Handled::Drop);
                    }
                    Ok([Outcome::Keep]) => {
                        self.breaker.record(None, self);
                        // Keep means the *input* goes on: the original, not the retry copy.
                        return Ok(Handled::Keep);
                    }
                    Err(o) => {
                        class = FailureClass::InvalidOutput;
                        error = format!("plugin `{}` answered {} outcomes for 1 message", self.plugin_name, o.len());
                        self.note_failure(&error, class);
                    }
                },
                Err(e) => {
                    class = e.class();
                    error = e.to_string();
                    self.note_failure(&error, class);
                }
            }
        }
    }
}


#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    use super::*;
    use crate::message::{MessageParts, PluginFailure};
    use crate::pipeline::Control;
    use crate::plugin::CallError;

    /// A processor driven by a function of (call number, batch).
    struct Fake<F>(F, AtomicU32);

    impl<F> BatchProcessor for Fake<F>
    where
        F: Fn(u32, &Batch<'_>) -> Result<Vec<Outcome>, CallError> + Send + Sync,
    {
        fn process(&self, batch: &Batch<'_>) -> Result<Vec<Outcome>, CallError> {
            (self.0)(self.1.fetch_add(1, Ordering::SeqCst), batch)
        }
    }

    fn stage<F>(policy: FailurePolicy, attempts: u32, breaker: u32, f: F) -> Stage
    where
        F: Fn(u32, &Batch<'_>) -> Result<Vec<Outcome>, CallError> + Send + Sync + 'static,
    {
        Stage::new(
            "s".into(),
            "p".into(),
            Arc::new(Fake(f, AtomicU32::new(0))),
            policy,
            RetryConfig { max_attempts: attempts, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(2) },
            BreakerConfig { consecutive_failures: breaker, cooldown: Duration::from_millis(200) },
        )
    }

    fn items(bodies: &[&str]) -> Vec<Item> {
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| Item {
                origin: i,
                message: MessageParts { queue_offset: i as i64, body: b.to_string().into_bytes().into(), ..Default::default() }.build(),
            })
            .collect()
    }

    fn body(i: &Item) -> String {
        String::from_utf8(i.message.body().to_vec()).unwrap()
    }

    fn trap() -> CallError {
        CallError::Trap { plugin: "p".into(), message: "boom".into() }
    }

    #[test]
    fn a_crashing_batch_is_retried_message_by_message_and_only_the_poison_one_fails() {
        // Any call containing "bad" traps; others keep everything.
        let s = stage(FailurePolicy::DeadLetter, 3, 0, |_, b| {
            if b.messages.iter().any(|m| &m.body()[..] == b"bad") { Err(trap()) } else { Ok(vec![Outcome::Keep; b.messages.len()]) }
        });
        let out = s.run("t", 0, items(&["a", "bad", "c"]), &Control::default()).unwrap();
        assert_eq!(out.items.iter().map(body).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(out.dead.len(), 1);
        assert_eq!((out.dead[0].origin, out.dead[0].attempts, out.dead[0].class), (1, 3, FailureClass::Trap));
        // The batch call, then a, bad ×3, c.
        assert_eq!(s.stats.retries.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_reject_is_not_retried_and_skip_drops_it() {
        let s = stage(FailurePolicy::Skip, 5, 0, |_, b| {
            Ok(b.messages
                .iter()
                .map(|m| if &m.body()[..] == b"no" { Outcome::Failed(PluginFailure::Reject("no".into())) } else { Outcome::Keep })
                .collect())
        });
        let out = s.run("t", 0, items(&["a", "no", "c"]), &Control::default()).unwrap();
        assert_eq!(out.items.iter().map(body).collect::<Vec<_>>(), ["a", "c"]);
        assert!(out.dead.is_empty());
        assert_eq!((s.stats.retries.load(Ordering::Relaxed), s.stats.skipped.load(Ordering::Relaxed)), (0, 1));
    }

    #[test]
    fn the_host_passes_the_retry_count_and_stop_interrupts() {
        // Succeeds once the message says it was retried twice.
        let s = stage(FailurePolicy::Stop, 3, 0, |_, b| {
            Ok(b.messages
                .iter()
                .map(|m| if m.reconsume_count() < 2 { Outcome::Failed(PluginFailure::Retry("later".into())) } else { Outcome::Keep })
                .collect())
        });
        let out = s.run("t", 0, items(&["x"]), &Control::default()).unwrap();
        assert_eq!(out.items.len(), 1);
        assert_eq!(out.items[0].message.reconsume_count(), 0, "the original goes on, not the retry copy");
        let s = stage(FailurePolicy::Stop, 2, 0, |_, b| Ok(vec![Outcome::Failed(PluginFailure::Retry("never".into())); b.messages.len()]));
        match s.run("t", 3, items(&["x"]), &Control::default()) {
            Err(Interrupted::Stop(reason)) => assert!(reason.contains("queue 3 offset 0 after 2 attempt(s)"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_circuit_breaker_opens_after_crashes_in_a_row_and_holds_the_queue() {
        // Traps on its first four calls, then works.
        let s = stage(FailurePolicy::DeadLetter, 10, 3, |n, b| if n < 4 { Err(trap()) } else { Ok(vec![Outcome::Keep; b.messages.len()]) });
        let t = Instant::now();
        let out = s.run("t", 0, items(&["x"]), &Control::default()).unwrap();
        assert_eq!(out.items.len(), 1, "nothing dead-lettered while the breaker was open");
        assert_eq!(s.stats.breaker_opened.load(Ordering::Relaxed), 1);
        assert!(t.elapsed() >= Duration::from_millis(200), "waited the cooldown ({:?})", t.elapsed());
        assert!(!s.breaker_open());
    }

    #[test]
    fn an_abort_ends_retries_at_once() {
        let s = stage(FailurePolicy::DeadLetter, 1000, 0, |_, _| Err(trap()));
        let control = Arc::new(Control::default());
        let c2 = control.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            c2.abort();
        });
        assert_eq!(s.run("t", 0, items(&["x"]), &control).unwrap_err(), Interrupted::Shutdown);
        t.join().unwrap();
    }
}
