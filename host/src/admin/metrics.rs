//! The Prometheus metrics, read at scrape time from the pipelines' counters (a
//! `prometheus-client` [`Collector`]): nothing on the message path knows about Prometheus.
//!
//! Names follow `sluice_<noun>_<unit>[_total]`; labels are bounded: `pipeline`, `stage`,
//! `plugin`, `sink`, `class` (a failure class), `cause` (why an instance was discarded),
//! `topic`, `broker` and `queue` (the source queues this process holds).
//! The list is [`METRICS`]; a test checks that a running pipeline emits every one.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::AdminState;
use crate::pipeline::stats::{Latency, load};

/// Every metric Sluice exports: (name without `_total`, type, help).
pub const METRICS: &[(&str, MetricType, &str)] = &[
    ("sluice_up", MetricType::Gauge, "1 while the daemon runs"),
    ("sluice_ready", MetricType::Gauge, "1 once the broker is reached and every pipeline runs"),
    ("sluice_pipeline_running", MetricType::Gauge, "1 while the pipeline consumes, 0 once stopped"),
    ("sluice_messages_consumed", MetricType::Counter, "messages received from the source"),
    ("sluice_messages_filtered", MetricType::Counter, "messages that reached no sink because a filter dropped them"),
    ("sluice_messages_dead_lettered", MetricType::Counter, "messages sent to the dead-letter topic"),
    ("sluice_messages_in_flight", MetricType::Gauge, "messages being handled"),
    ("sluice_batches", MetricType::Counter, "batches finished (outcome=done) or interrupted (outcome=interrupted)"),
    ("sluice_batch_duration_seconds", MetricType::Histogram, "time from a batch's arrival to its last sink acknowledgement"),
    ("sluice_stage_messages_in", MetricType::Counter, "messages handed to a stage"),
    ("sluice_stage_messages_out", MetricType::Counter, "messages a stage passed on or produced"),
    ("sluice_stage_messages_dropped", MetricType::Counter, "messages a stage filtered out"),
    ("sluice_stage_failures", MetricType::Counter, "failed plugin calls or messages, by failure class"),
    ("sluice_stage_retries", MetricType::Counter, "retries of failed messages"),
    ("sluice_stage_messages_skipped", MetricType::Counter, "messages dropped by the skip policy"),
    ("sluice_stage_circuit_breaker_open", MetricType::Gauge, "1 while the stage's circuit breaker is open"),
    ("sluice_stage_circuit_breaker_trips", MetricType::Counter, "times the stage's circuit breaker opened"),
    ("sluice_plugin_call_duration_seconds", MetricType::Histogram, "duration of one plugin call"),
    ("sluice_plugin_calls", MetricType::Counter, "plugin calls"),
    ("sluice_plugin_instances_created", MetricType::Counter, "plugin instances created"),
    ("sluice_plugin_instances_discarded", MetricType::Counter, "plugin instances discarded, by cause"),
    ("sluice_sink_messages_sent", MetricType::Counter, "messages a sink acknowledged"),
    ("sluice_sink_errors", MetricType::Counter, "failed sink sends (each retry counts)"),
    ("sluice_consumer_queues_assigned", MetricType::Gauge, "source queues this process holds"),
    ("sluice_consumer_lag_messages", MetricType::Gauge, "messages of a held queue not yet handled to the end (broker max offset - committed offset)"),
    ("sluice_consumer_committed_offset", MetricType::Gauge, "next offset to consume of a held queue, as committed by Sluice"),
];

/// Reads the daemon's counters on each scrape.
#[derive(Debug)]
pub struct SluiceCollector(pub std::sync::Arc<AdminState>);

type Labels = Vec<(&'static str, String)>;

fn counter(enc: &mut DescriptorEncoder, name: &str, rows: &[(Labels, u64)]) -> std::fmt::Result {
    let help = help(name);
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, rows: &[(Labels, i64)]) -> std::fmt::Result {
    let help = help(name);
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    if let [(labels, v)] = rows
        && labels.is_empty()
    {
        // A process-wide gauge: no `{}`.
        return ConstGauge::new(*v).encode(m);
    }
    for (labels, v) in rows {
        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn histogram(enc: &mut DescriptorEncoder, name: &str, rows: &[(Labels, &Latency)]) -> std::fmt::Result {
    let help = help(name);
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in rows {
        let (sum, count, buckets) = h.read();
        m.encode_family(labels)?.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}

fn help(name: &str) -> &'static str {
    METRICS.iter().find(|(n, _, _)| *n == name).map_or("", |(_, _, h)| h)
}

impl Collector for SluiceCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let state = &self.0;
        gauge(&mut enc, "sluice_up", &[(vec![], 1)])?;
        gauge(&mut enc, "sluice_ready", &[(vec![], i64::from(state.is_ready()))])?;
        let pipelines = state.pipelines();
        let pl = |p: &crate::pipeline::Pipeline| vec![("pipeline", p.name().to_owned())];
        let per_pipeline = |f: &dyn Fn(&crate::pipeline::Pipeline) -> u64| -> Vec<(Labels, u64)> {
            pipelines.iter().map(|p| (pl(p), f(p))).collect()
        };
        gauge(
            &mut enc,
            "sluice_pipeline_running",
            &pipelines.iter().map(|p| (pl(p), i64::from(p.stopped_reason().is_none() && !p.control.closed()))).collect::<Vec<_>>(),
        )?;
        counter(&mut enc, "sluice_messages_consumed", &per_pipeline(&|p| load(&p.stats.consumed)))?;
        counter(&mut enc, "sluice_messages_filtered", &per_pipeline(&|p| load(&p.stats.filtered)))?;
        counter(&mut enc, "sluice_messages_dead_lettered", &per_pipeline(&|p| load(&p.stats.dead_lettered)))?;
        gauge(
            &mut enc,
            "sluice_messages_in_flight",
            &pipelines.iter().map(|p| (pl(p), i64::try_from(load(&p.stats.in_flight)).unwrap_or(i64::MAX))).collect::<Vec<_>>(),
        )?;
        let mut batches = Vec::new();
        for p in &pipelines {
            let mut done = pl(p);
            done.push(("outcome", "done".into()));
            batches.push((done, load(&p.stats.batches_done)));
            let mut int = pl(p);
            int.push(("outcome", "interrupted".into()));
            batches.push((int, load(&p.stats.batches_interrupted)));
        }
        counter(&mut enc, "sluice_batches", &batches)?;
        histogram(&mut enc, "sluice_batch_duration_seconds", &pipelines.iter().map(|p| (pl(p), &p.stats.batch_latency)).collect::<Vec<_>>())?;

        let runtimes: Vec<_> = pipelines.iter().map(|p| (p.name().to_owned(), p.runtime())).collect();
        let stages: Vec<(Labels, &crate::pipeline::stage::Stage)> = runtimes
            .iter()
            .flat_map(|(name, rt)| {
                rt.stages.iter().map(move |s| {
                    (vec![("pipeline", name.clone()), ("stage", s.name.clone()), ("plugin", s.plugin_name.clone())], s)
                })
            })
            .collect();
        let per_stage = |f: &dyn Fn(&crate::pipeline::stage::Stage) -> u64| -> Vec<(Labels, u64)> {
            stages.iter().map(|(l, s)| (l.clone(), f(s))).collect()
        };
        counter(&mut enc, "sluice_stage_messages_in", &per_stage(&|s| load(&s.stats.messages_in)))?;
        counter(&mut enc, "sluice_stage_messages_out", &per_stage(&|s| load(&s.stats.messages_out)))?;
        counter(&mut enc, "sluice_stage_messages_dropped", &per_stage(&|s| load(&s.stats.dropped)))?;
        let failures: Vec<(Labels, u64)> = stages
            .iter()
            .flat_map(|(l, s)| {
                s.stats.failures_all_classes().into_iter().map(move |(class, n)| {
                    let mut l = l.clone();
                    l.push(("class", class.to_owned()));
                    (l, n)
                })
            })
            .collect();
        counter(&mut enc, "sluice_stage_failures", &failures)?;
        counter(&mut enc, "sluice_stage_retries", &per_stage(&|s| load(&s.stats.retries)))?;
        counter(&mut enc, "sluice_stage_messages_skipped", &per_stage(&|s| load(&s.stats.skipped)))?;
        gauge(
            &mut enc,
            "sluice_stage_circuit_breaker_open",
            &stages.iter().map(|(l, s)| (l.clone(), i64::from(s.breaker_open()))).collect::<Vec<_>>(),
        )?;
        counter(&mut enc, "sluice_stage_circuit_breaker_trips", &per_stage(&|s| load(&s.stats.breaker_opened)))?;
        histogram(
            &mut enc,
            "sluice_plugin_call_duration_seconds",
            &stages.iter().map(|(l, s)| (l.clone(), &s.stats.call_latency)).collect::<Vec<_>>(),
        )?;
        let plugin_stats: Vec<(Labels, crate::plugin::PluginStats)> =
            stages.iter().filter_map(|(l, s)| s.plugin.as_ref().map(|p| (l.clone(), p.stats()))).collect();
        counter(&mut enc, "sluice_plugin_calls", &plugin_stats.iter().map(|(l, s)| (l.clone(), s.calls)).collect::<Vec<_>>())?;
        counter(
            &mut enc,
            "sluice_plugin_instances_created",
            &plugin_stats.iter().map(|(l, s)| (l.clone(), s.instances_created)).collect::<Vec<_>>(),
        )?;
        let discarded: Vec<(Labels, u64)> = plugin_stats
            .iter()
            .flat_map(|(l, s)| {
                ["trap", "deadline", "memory", "invalid-output", "init-refused"].into_iter().map(move |cause| {
                    let mut l = l.clone();
                    l.push(("cause", cause.to_owned()));
                    (l, s.discarded.get(cause).copied().unwrap_or(0))
                })
            })
            .collect();
        counter(&mut enc, "sluice_plugin_instances_discarded", &discarded)?;
        let sinks: Vec<(Labels, &crate::pipeline::stats::SinkStats)> = runtimes
            .iter()
            .flat_map(|(name, rt)| rt.sink_stats.iter().map(move |(sink, st)| (vec![("pipeline", name.clone()), ("sink", sink.clone())], st.as_ref())))
            .collect();
        counter(&mut enc, "sluice_sink_messages_sent", &sinks.iter().map(|(l, s)| (l.clone(), load(&s.sent))).collect::<Vec<_>>())?;
        counter(&mut enc, "sluice_sink_errors", &sinks.iter().map(|(l, s)| (l.clone(), load(&s.errors))).collect::<Vec<_>>())?;

        // Each pipeline's queues read once: the count and the per-queue rows agree.
        let held: Vec<Vec<crate::pipeline::stats::QueueStatus>> = pipelines.iter().map(|p| p.queues()).collect();
        gauge(
            &mut enc,
            "sluice_consumer_queues_assigned",
            &pipelines.iter().zip(&held).map(|(p, q)| (pl(p), i64::try_from(q.len()).unwrap_or(i64::MAX))).collect::<Vec<_>>(),
        )?;
        let queues: Vec<(Labels, &crate::pipeline::stats::QueueStatus)> = pipelines
            .iter()
            .zip(&held)
            .flat_map(|(p, qs)| {
                qs.iter().map(move |q| {
                    let mut l = pl(p);
                    l.push(("topic", q.topic.clone()));
                    l.push(("broker", q.broker.clone()));
                    l.push(("queue", q.queue_id.to_string()));
                    (l, q)
                })
            })
            .collect();
        gauge(&mut enc, "sluice_consumer_lag_messages", &queues.iter().map(|(l, q)| (l.clone(), q.lag)).collect::<Vec<_>>())?;
        gauge(&mut enc, "sluice_consumer_committed_offset", &queues.iter().map(|(l, q)| (l.clone(), q.committed_offset)).collect::<Vec<_>>())?;
        Ok(())
    }
}

/// The text exposition of every metric.
pub fn render(state: &std::sync::Arc<AdminState>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SluiceCollector(state.clone())));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}
