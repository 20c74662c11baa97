//! A short history of each pipeline's counters, sampled once a second by the admin
//! listener, for the rates in `/status` and the charts of the status page
//! (`/api/history`). Five minutes are kept; nothing here is on the message path.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::pipeline::Pipeline;
use crate::pipeline::stats::load;

/// Time between two samples.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// Samples kept per pipeline (five minutes).
pub const KEPT: usize = 300;
/// The window `/status` computes its rates over.
pub const RATE_WINDOW: usize = 10;

/// One sample of a pipeline's cumulative counters (and its lag, a level).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    /// Messages consumed so far.
    pub consumed: u64,
    /// Messages the sinks acknowledged so far (all sinks).
    pub delivered: u64,
    /// Failures so far: failed plugin calls and failed sink sends.
    pub errors: u64,
    /// Messages dead-lettered so far.
    pub dead_lettered: u64,
    /// Messages filtered out so far.
    pub filtered: u64,
    /// Lag summed over the queues held, at the time of the sample.
    pub lag: i64,
}

impl Sample {
    /// The pipeline's counters now.
    pub fn of(p: &Pipeline, t: u64) -> Self {
        let rt = p.runtime();
        Self {
            t,
            consumed: load(&p.stats.consumed),
            delivered: rt.sink_stats.values().map(|s| load(&s.sent)).sum(),
            errors: rt.stages.iter().map(|s| load(&s.stats.failures)).sum::<u64>()
                + rt.sink_stats.values().map(|s| load(&s.errors)).sum::<u64>(),
            dead_lettered: load(&p.stats.dead_lettered),
            filtered: load(&p.stats.filtered),
            lag: p.queues().iter().map(|q| q.lag).sum(),
        }
    }
}

/// Per-second rates over the last [`RATE_WINDOW`] samples.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct Rates {
    /// Messages consumed per second.
    pub consumed_per_second: f64,
    /// Messages acknowledged by sinks per second.
    pub delivered_per_second: f64,
    /// Failures per second.
    pub errors_per_second: f64,
    /// Dead letters per second.
    pub dead_lettered_per_second: f64,
}

/// The rates between two samples; a counter that went down (the pipeline was rebuilt by
/// a reload) counts from zero.
pub fn rates(from: &Sample, to: &Sample) -> Rates {
    let secs = to.t.saturating_sub(from.t) as f64 / 1000.0;
    if secs <= 0.0 {
        return Rates::default();
    }
    let per = |a: u64, b: u64| if b >= a { (b - a) as f64 / secs } else { b as f64 / secs };
    Rates {
        consumed_per_second: per(from.consumed, to.consumed),
        delivered_per_second: per(from.delivered, to.delivered),
        errors_per_second: per(from.errors, to.errors),
        dead_lettered_per_second: per(from.dead_lettered, to.dead_lettered),
    }
}

/// The samples of every pipeline.
#[derive(Debug, Default)]
pub struct History(Mutex<BTreeMap<String, VecDeque<Sample>>>);

impl History {
    /// Takes one sample of each pipeline; pipelines no longer running are forgotten.
    pub fn sample(&self, pipelines: &[std::sync::Arc<Pipeline>]) {
        let t = crate::pipeline::stats::unix_ms();
        let mut h = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        h.retain(|name, _| pipelines.iter().any(|p| p.name() == name));
        for p in pipelines {
            let q = h.entry(p.name().to_owned()).or_default();
            if q.len() == KEPT {
                q.pop_front();
            }
            q.push_back(Sample::of(p, t));
        }
    }

    /// A pipeline's rates over the last [`RATE_WINDOW`] samples (zeros until two exist).
    pub fn rates(&self, pipeline: &str) -> Rates {
        let h = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match h.get(pipeline) {
            Some(q) if q.len() >= 2 => {
                let last = q.len() - 1;
                rates(&q[last.saturating_sub(RATE_WINDOW)], &q[last])
            }
            _ => Rates::default(),
        }
    }

    /// Every pipeline's samples, oldest first.
    pub fn all(&self) -> BTreeMap<String, Vec<Sample>> {
        let h = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        h.iter().map(|(k, v)| (k.clone(), v.iter().copied().collect())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_and_survive_a_counter_reset() {
        let a = Sample { t: 1_000, consumed: 100, delivered: 50, errors: 2, dead_lettered: 0, ..Sample::default() };
        let b = Sample { t: 3_000, consumed: 300, delivered: 250, errors: 2, dead_lettered: 4, ..Sample::default() };
        let r = rates(&a, &b);
        assert_eq!((r.consumed_per_second, r.delivered_per_second, r.errors_per_second, r.dead_lettered_per_second), (100.0, 100.0, 0.0, 2.0));
        // A rebuilt pipeline starts its counters again: the new count is the rate's base.
        let c = Sample { t: 5_000, consumed: 40, ..Sample::default() };
        assert_eq!(rates(&b, &c).consumed_per_second, 20.0);
        assert_eq!(rates(&b, &b), Rates::default());
    }
}
