//! End-to-end benchmarks of a Sluice pipeline on the embedded broker, each beside a
//! baseline measured in the same run on the same broker: the fastest plain rocketmq-rust
//! bridge with no WASM that the same client allows (orderly push consumer, batches of 32,
//! `send_batch_to_queue` to the same queue number).
//!
//! * **throughput**: per scenario fresh 8-queue topics pre-filled with N keyed messages
//!   (100 B and 1 KiB bodies); the rate is N over the time from the first message handled
//!   to the last one acknowledged by the sink; the median of rounds (every other round in
//!   reverse order). Scenarios: the bridge, no plugin, the Rust property filter (reads a
//!   property: the sandbox's own cost), the Rust JSON filter (parses every body), three
//!   Rust stages, and the Python and JavaScript JSON filters when `SLUICE_BENCH_KITS`
//!   points at `plugins/` with them built.
//! * **latency**: messages produced at a fixed rate (10,000 msg/s), each carrying its send
//!   time; a consumer on the output topic records arrival − send. p50 / p99 / max for the
//!   bridge and for Sluice; "added" is Sluice's minus the bridge's.
//! * **startup**: `sluice run` as a child process with three Rust plugin stages, from spawn
//!   to `/readyz` answering 200: with an empty compile cache (cold: compilation) and with
//!   the cache filled (cached); the same for the Python and JavaScript filters.
//! * **memory**: resident memory added per plugin instance (Rust, Python, JS; 16 instances
//!   started in this process), and of the whole `sluice run` daemon with three stages after
//!   N messages over 8 and over 64 queues.
//! * **scaling**: throughput over 1, 8 and 64 queues with 1, 3 and 8 Rust stages, beside
//!   the bridge over the same queues.
//!
//! `cargo xtask bench-pipeline` runs it at full size (release build, loopback-only
//! namespace); `BENCH_MESSAGES` sets N (default 200,000) and `BENCH_PARTS` picks sections
//! (comma-separated; default all), `BENCH_BODIES` the body sizes of the throughput section
//! (default `100,1024`) and `BENCH_ROUNDS` how many times it runs each scenario (default
//! 3). Under `cargo test --benches` it runs every section once
//! at a small size, as a check that it works.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
    MessageListenerOrderly,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::STRING_HASH_SET;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message as MqMessage;
use sluice::broker::{EmbeddedBroker, EmbeddedBrokerConfig, loopback_only_network};
use sluice::config::{Config, RocketMqConfig};
use sluice::connection::Connection;
use sluice::message::{Message, MessageParts};
use sluice::sink::rocketmq::Producer;

const BODIES: [usize; 2] = [100, 1024];
const QUEUES: u32 = 8;

/// What runs between the two topics: the bridge, or a Sluice pipeline with these stages.
#[derive(Clone)]
struct Scenario {
    name: String,
    /// `None` = the bridge.
    stages: Option<String>,
}

fn stage(plugin: &str, cfg: &str) -> String {
    format!("[[pipeline.stage]]\nplugin = {plugin:?}\nconfig = {{ {cfg} }}\n")
}

/// The JSON filter every scenario ends with; it keeps every generated message.
fn json_filter(path: &str) -> String {
    stage(path, r#"field = "kind", equals = '"order"'"#)
}

/// The property filter (`plugins/property-filter`): keeps messages whose `kind` property is
/// `order` (all of them) without reading the body — what the sandbox itself costs.
fn property_filter() -> String {
    stage(sluice_test_plugins::PROPERTY_FILTER, r#"property = "kind", equals = "order""#)
}

/// `n` Rust stages: the JSON filter last, before it property setters and PII masking.
fn rust_stages(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n.saturating_sub(1) {
        let one = if i % 3 == 1 {
            stage(sluice_test_plugins::MASK_PII, "")
        } else {
            stage(sluice_test_plugins::SET_PROPERTY, &format!(r#"key = "stage{i}", value = "x""#))
        };
        // Stage names must differ within a pipeline; they default to the plugin's.
        s += &one.replacen("\n", &format!("\nname = \"s{i}\"\n"), 1);
    }
    s + &json_filter(sluice_test_plugins::JSON_FILTER)
}

impl Scenario {
    fn bridge() -> Self {
        Scenario { name: "bridge (baseline)".into(), stages: None }
    }

    fn sluice(name: &str, stages: String) -> Self {
        Scenario { name: name.into(), stages: Some(stages) }
    }
}

/// A language kit's built JSON filter (`SLUICE_BENCH_KITS/<lang>/json-filter/json-filter.wasm`).
fn kit_plugin(lang: &str, name: &str) -> Option<String> {
    let dir = std::path::PathBuf::from(std::env::var_os("SLUICE_BENCH_KITS")?);
    let p = dir.join(lang).join(name).join(format!("{name}.wasm"));
    p.exists().then(|| p.display().to_string())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).max_blocking_threads(64).enable_all().build().expect("tokio runtime")
}

/// N messages over 1,000 keys with a property `kind` = `order`; the body is JSON (`kind` =
/// `order` too, so the filters keep them all and every scenario delivers N), padded to
/// `size` bytes.
fn messages(n: usize, size: usize) -> Vec<Message> {
    let parts: Vec<MessageParts> = (0..n)
        .map(|i| {
            let mut body = format!(r#"{{"kind":"order","id":{i},"email":"someone@example.com","pad":""#).into_bytes();
            body.resize(size.saturating_sub(2).max(body.len()), b'x');
            body.extend_from_slice(b"\"}");
            MessageParts {
                keys: vec![format!("k{}", i % 1000)],
                properties: vec![("kind".into(), "order".into())],
                body: body.into(),
                ..Default::default()
            }
        })
        .collect();
    MessageParts::build_batch(&parts)
}

/// The time base of the latency section's send stamps.
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// `n` messages stamped with their send time, 100 B.
fn stamped(first: usize, n: usize) -> Vec<Message> {
    let t = now_ns();
    let parts: Vec<MessageParts> = (first..first + n)
        .map(|i| {
            let mut body = format!(r#"{{"kind":"order","t":{t},"id":{i},"pad":""#).into_bytes();
            body.resize(98.max(body.len()), b'x');
            body.extend_from_slice(b"\"}");
            MessageParts { keys: vec![format!("k{}", i % 1000)], body: body.into(), ..Default::default() }
        })
        .collect();
    MessageParts::build_batch(&parts)
}

struct Bench {
    broker: EmbeddedBroker,
    conn: Connection,
    producer: Producer,
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let broker = EmbeddedBroker::start(&EmbeddedBrokerConfig {
            data_dir: dir.path().join("broker"),
            namesrv_port: 0,
            broker_port: 0,
            auth: None,
            tls: None,
        })
        .await
        .expect("embedded broker");
        let addr = broker.namesrv_addr().to_owned();
        let rcfg = RocketMqConfig { name_server: addr.clone(), client_ip: Some("127.0.0.1".into()), ..Default::default() };
        let conn = Connection::new(&rcfg, &addr, &Config::default()).unwrap();
        let producer = Producer::start("bench-fill", &conn).await.unwrap();
        let mut broker = broker;
        broker.create_topic("SLUICE_DLQ", 1).await.unwrap();
        Bench { broker, conn, producer, dir, cache: tempfile::tempdir().unwrap() }
    }

    async fn fill(&mut self, topic: &str, msgs: &[Message], queues: u32) {
        self.broker.create_topic(topic, queues).await.unwrap();
        for chunk in msgs.chunks(1024) {
            self.producer.send(topic, chunk, 0, 64, &[]).await.expect("fill");
        }
    }

    /// The plain bridge: orderly consume in batches of 32, one `send_batch_to_queue` per
    /// batch to the same queue number of `to`. Returns (first handled, last acknowledged).
    async fn bridge(&self, from: &str, to: &str, n: u64) -> (Mark, Mark) {
        let mut p = DefaultMQProducer::builder(self.conn.runtime())
            .client_config(self.conn.client_config())
            .name_server_addr(self.conn.name_server().to_owned())
            .producer_group(format!("bench-bridge-{from}"))
            .build();
        p.start().await.unwrap();
        let queues: Vec<MessageQueue> = {
            let mut q = p.fetch_publish_message_queues(to).await.unwrap();
            q.sort_by_key(MessageQueue::queue_id);
            q
        };
        let state = Arc::new(BridgeState { producer: tokio::sync::RwLock::new(p), queues, done: AtomicU64::new(0), first: std::sync::OnceLock::new() });
        let mut c = DefaultMQPushConsumer::builder(self.conn.runtime())
            .client_config(self.conn.client_config())
            .name_server_addr(self.conn.name_server().to_owned())
            .consumer_group(format!("bench-bridge-{from}"))
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(32)
            .pull_batch_size(32)
            .consume_thread_min(8)
            .consume_thread_max(8)
            .build();
        c.subscribe(from, "*").await.unwrap();
        c.register_message_listener_orderly(Bridge(state.clone(), tokio::runtime::Handle::current()));
        c.start().await.unwrap();
        while state.done.load(Ordering::Acquire) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last = mark();
        c.shutdown().await;
        state.producer.write().await.shutdown().await;
        (*state.first.get().expect("something was consumed"), last)
    }

    /// A Sluice daemon running one pipeline `from` → stages → RocketMQ sink `to`.
    async fn sluice(&self, stages: &str, from: &str, to: &str, n: u64) -> (Mark, Mark) {
        let text = format!(
            r#"
            [rocketmq]
            name_server = "{}"
            client_ip = "127.0.0.1"
            [engine]
            cache_dir = {:?}
            [admin]
            enabled = false
            [[pipeline]]
            name = "bench"
            source = {{ topic = "{from}", group = "bench-sluice-{from}", batch_size = 32 }}
            sinks.out = {{ type = "rocketmq", topic = "{to}" }}
            {}
            "#,
            self.broker.namesrv_addr(),
            self.cache.path().display().to_string(),
            stages
        );
        let cfg = Config::from_toml(&text, self.dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let (_tx, never) = tokio::sync::watch::channel(false);
        let daemon = sluice::daemon::Daemon::start(cfg, &never).await.expect("daemon").expect("not stopped");
        let pipeline = daemon.pipeline("bench").unwrap();
        let mut first = None;
        let sent = || pipeline.runtime().sink_stats.values().map(|s| s.sent.load(Ordering::Relaxed)).sum::<u64>();
        loop {
            let consumed = pipeline.stats.consumed.load(Ordering::Relaxed);
            if first.is_none() && consumed > 0 {
                first = Some(mark());
            }
            if sent() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last = mark();
        daemon.shutdown().await;
        (first.expect("something was consumed"), last)
    }
}

struct BridgeState {
    producer: tokio::sync::RwLock<DefaultMQProducer>,
    queues: Vec<MessageQueue>,
    done: AtomicU64,
    first: std::sync::OnceLock<Mark>,
}

struct Bridge(Arc<BridgeState>, tokio::runtime::Handle);

impl MessageListenerOrderly for Bridge {
    fn consume_message(&self, msgs: &[&MessageExt], _: &mut ConsumeOrderlyContext) -> ClientResult<ConsumeOrderlyStatus> {
        self.0.first.get_or_init(mark);
        let Some(first) = msgs.first() else { return Ok(ConsumeOrderlyStatus::Success) };
        let q = self.0.queues[usize::try_from(first.queue_id()).unwrap_or(0) % self.0.queues.len()].clone();
        let batch: Vec<MqMessage> = msgs
            .iter()
            .map(|m| {
                // Forwarded faithfully: body, keys, tag and user properties.
                let mut b = MqMessage::builder().topic(q.topic_str()).body(m.body().unwrap_or_default());
                for (k, v) in m.properties() {
                    b = match k.as_str() {
                        "KEYS" => b.key(v.clone()),
                        "TAGS" => b.tags(v.clone()),
                        _ if STRING_HASH_SET.contains(k.as_str()) => b,
                        _ => b.raw_property(k.clone(), v.clone()).expect("a user property"),
                    };
                }
                b.build().expect("message")
            })
            .collect();
        let n = batch.len() as u64;
        let r = self.1.block_on(async { self.0.producer.read().await.send_batch_to_queue(batch, q).await });
        match r {
            Ok(_) => {
                self.0.done.fetch_add(n, Ordering::AcqRel);
                Ok(ConsumeOrderlyStatus::Success)
            }
            Err(_) => Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment),
        }
    }
}

/// A moment of a run: the time and the process's CPU time then.
type Mark = (Instant, Duration);

fn mark() -> Mark {
    (Instant::now(), cpu_time())
}

/// CPU time this process has used so far (all threads: broker, clients and Sluice).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut u) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs one scenario from a fresh pair of topics; returns msg/s and the process's CPU
/// time per message (µs), both from the first message handled to the last acknowledged.
fn throughput(rt: &tokio::runtime::Runtime, bench: &mut Bench, s: &Scenario, msgs: &[Message], queues: u32, tag: &str) -> (f64, f64) {
    let n = msgs.len() as u64;
    let (from, to) = (format!("in-{tag}"), format!("out-{tag}"));
    rt.block_on(bench.fill(&from, msgs, queues));
    rt.block_on(bench.broker.create_topic(&to, queues)).unwrap();
    let (first, last) = rt.block_on(async {
        match &s.stages {
            None => bench.bridge(&from, &to, n).await,
            Some(stages) => bench.sluice(stages, &from, &to, n).await,
        }
    });
    let cpu = (last.1 - first.1).as_secs_f64() * 1e6 / n as f64;
    (n as f64 / last.0.duration_since(first.0).as_secs_f64(), cpu)
}

fn section_throughput(rt: &tokio::runtime::Runtime, bench: &mut Bench, n: usize, rounds: usize) {
    let mut scenarios = vec![
        Scenario::bridge(),
        Scenario::sluice("sluice, no plugin", String::new()),
        Scenario::sluice("sluice, Rust property filter", property_filter()),
        Scenario::sluice("sluice, Rust JSON filter", rust_stages(1)),
        Scenario::sluice("sluice, 3 Rust stages", rust_stages(3)),
    ];
    for (lang, name) in [("python", "Python"), ("js", "JS")] {
        match kit_plugin(lang, "json-filter") {
            Some(p) => scenarios.push(Scenario::sluice(
                &format!("sluice, {name} filter"),
                json_filter(&p),
            )),
            None => eprintln!(
                "{name} filter: not built (SLUICE_BENCH_KITS unset or plugins/{lang}/json-filter not built); skipped"
            ),
        }
    }
    let mut rows = Vec::new();
    // `BENCH_BODIES=100` runs one size only.
    let bodies: Vec<usize> = std::env::var("BENCH_BODIES")
        .map(|v| v.split(',').filter_map(|b| b.trim().parse().ok()).collect())
        .unwrap_or_else(|_| BODIES.to_vec());
    for size in bodies {
        let msgs = messages(n, size);
        // The broker slows down as a run goes on (its store grows): every scenario runs
        // once per round, and every other round in reverse order, so that no scenario
        // always comes first; the table gives medians.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); scenarios.len()];
        for round in 0..rounds {
            let order: Vec<usize> = if round % 2 == 0 {
                (0..scenarios.len()).collect()
            } else {
                (0..scenarios.len()).rev().collect()
            };
            for i in order {
                let (rate, cpu) = throughput(
                    rt,
                    bench,
                    &scenarios[i],
                    &msgs,
                    QUEUES,
                    &format!("{size}-{round}-{i}"),
                );
                eprintln!(
                    "round {round}: {:<30} {size:>6} {rate:>10.0} msg/s {cpu:>6.1} µs cpu",
                    scenarios[i].name
                );
                runs[i].push((rate, cpu));
            }
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let m = v.len() / 2;
            if v.len() % 2 == 0 {
                f64::midpoint(v[m - 1], v[m])
            } else {
                v[m]
            }
        };
        let baseline = median(runs[0].iter().map(|r| r.0).collect());
        for (s, r) in scenarios.iter().zip(&runs) {
            let rate = median(r.iter().map(|r| r.0).collect());
            let cpu = median(r.iter().map(|r| r.1).collect());
            let (lo, hi) = r
                .iter()
                .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(r.0), hi.max(r.0)));
            rows.push(format!(
                "{:<30} {size:>6} {n:>9} {rate:>10.0} {:>17} {:>7.2} {cpu:>8.1}",
                s.name,
                format!("{lo:.0}–{hi:.0}"),
                rate / baseline
            ));
        }
    }
    println!(
        "\nthroughput: messages per second, topic → consumer → RocketMQ sink, 8 queues, median of {rounds} round(s); \
         ratio = scenario's median / the bridge's median; cpu = CPU µs per message of the whole process (broker, \
         clients, Sluice) from the first message handled to the last acknowledged (median)"
    );
    println!(
        "{:<30} {:>6} {:>9} {:>10} {:>17} {:>7} {:>8}",
        "scenario", "body", "messages", "msg/s", "min–max", "ratio", "cpu µs"
    );
    for r in rows {
        println!("{r}");
    }
}

fn section_scaling(rt: &tokio::runtime::Runtime, bench: &mut Bench, n: usize) {
    let msgs = messages(n, 100);
    let mut rows = Vec::new();
    for queues in [1u32, 8, 64] {
        let (base, _) = throughput(rt, bench, &Scenario::bridge(), &msgs, queues, &format!("scale-q{queues}-bridge"));
        rows.push(format!("{queues:>6} {:>7} {base:>12.0} {:>8.2} {:>10}", "bridge", 1.0, "-"));
        eprintln!("{}", rows.last().unwrap());
        let mut one = 0.0;
        for stages in [1usize, 3, 8] {
            let s = Scenario::sluice("scaling", rust_stages(stages));
            let (rate, _) = throughput(rt, bench, &s, &msgs, queues, &format!("scale-q{queues}-s{stages}"));
            if stages == 1 {
                one = rate;
            }
            // What each stage beyond the first costs per message, from the rates.
            let per_stage = if stages > 1 { format!("{:.0} ns", (1e9 / rate - 1e9 / one) / (stages - 1) as f64) } else { "-".into() };
            rows.push(format!("{queues:>6} {stages:>7} {rate:>12.0} {:>8.2} {per_stage:>10}", rate / base));
            eprintln!("{}", rows.last().unwrap());
        }
    }
    println!("\nscaling: msg/s, 100 B, {n} messages; ratio = Sluice / bridge over the same queues; +stage = added ns/msg per stage beyond the first");
    println!("{:>6} {:>7} {:>12} {:>8} {:>10}", "queues", "stages", "msg/s", "ratio", "+stage");
    for r in rows {
        println!("{r}");
    }
}

/// Produces `rate` msg/s for `secs` into `from` while `chain` moves them to `to`, where a
/// consumer records each message's arrival − send; returns the latencies in µs, sorted.
fn latencies(rt: &tokio::runtime::Runtime, bench: &mut Bench, s: &Scenario, rate: u64, secs: u64, tag: &str) -> Vec<u64> {
    let n = rate * secs;
    let (from, to) = (format!("lat-in-{tag}"), format!("lat-out-{tag}"));
    rt.block_on(async {
        bench.broker.create_topic(&from, QUEUES).await.unwrap();
        bench.broker.create_topic(&to, QUEUES).await.unwrap();
    });
    let bench = &*bench;
    rt.block_on(async {
        let seen = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n as usize)));
        let mut c = DefaultMQPushConsumer::builder(bench.conn.runtime())
            .client_config(bench.conn.client_config())
            .name_server_addr(bench.conn.name_server().to_owned())
            .consumer_group(format!("lat-collect-{tag}"))
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_thread_min(4)
            .consume_thread_max(4)
            .build();
        c.subscribe(&to, "*").await.unwrap();
        c.register_message_listener_concurrently(Collect(seen.clone()));
        c.start().await.unwrap();
        let chain = async {
            match &s.stages {
                None => bench.bridge(&from, &to, n).await,
                Some(stages) => bench.sluice(stages, &from, &to, n).await,
            }
        };
        let produce = async {
            // Let the chain's consumer take its queues before the clock starts.
            tokio::time::sleep(Duration::from_secs(3)).await;
            // One batch every 10 ms (a send takes about a millisecond, so the producer
            // keeps the rate); every message of a batch carries the batch's send time.
            let per_tick = (rate / 100).max(1) as usize;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut sent = 0usize;
            let started = Instant::now();
            while (sent as u64) < n {
                tick.tick().await;
                let k = per_tick.min(n as usize - sent);
                // A busy broker refuses now and then ("broker.operation.failed"); retry the
                // batch with a fresh stamp, as a producer would.
                let mut tries = 0;
                while let Err(e) = bench.producer.send(&from, &stamped(sent, k), 0, 64, &[]).await {
                    tries += 1;
                    assert!(tries < 100, "send failed 100 times: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                sent += k;
            }
            started.elapsed()
        };
        let (_, produced) = tokio::join!(chain, produce);
        eprintln!("{}: produced {n} at {:.0} msg/s", s.name, n as f64 / produced.as_secs_f64().max(1e-9));
        while (seen.lock().unwrap().len() as u64) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.shutdown().await;
        let mut v = std::mem::take(&mut *seen.lock().unwrap());
        v.sort_unstable();
        v
    })
}

struct Collect(Arc<std::sync::Mutex<Vec<u64>>>);

impl rocketmq_client_rust::MessageListenerConcurrently for Collect {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _: &rocketmq_client_rust::ConsumeConcurrentlyContext,
    ) -> ClientResult<rocketmq_client_rust::ConsumeConcurrentlyStatus> {
        let now = now_ns();
        let mut seen = self.0.lock().unwrap();
        for m in msgs {
            let body = m.body().unwrap_or_default();
            let t = std::str::from_utf8(&body).ok().and_then(|b| b.split("\"t\":").nth(1)?.split(',').next()?.parse::<u64>().ok());
            if let Some(t) = t {
                seen.push(now.saturating_sub(t) / 1000);
            }
        }
        Ok(rocketmq_client_rust::ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

fn pct(v: &[u64], p: f64) -> f64 {
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
}

fn section_latency(rt: &tokio::runtime::Runtime, bench: &mut Bench, full: bool) {
    let (rate, secs) = if full { (10_000, 10) } else { (500, 2) };
    let scenarios = [
        Scenario::bridge(),
        Scenario::sluice("sluice, no plugin", String::new()),
        Scenario::sluice("sluice, Rust JSON filter", rust_stages(1)),
        Scenario::sluice("sluice, 3 Rust stages", rust_stages(3)),
    ];
    let mut rows = Vec::new();
    let mut base_p99 = 0.0;
    for (i, s) in scenarios.iter().enumerate() {
        let v = latencies(rt, bench, s, rate, secs, &i.to_string());
        let (p50, p99, max) = (pct(&v, 0.5), pct(&v, 0.99), pct(&v, 1.0));
        if i == 0 {
            base_p99 = p99;
        }
        let added = if i == 0 { "-".to_owned() } else { format!("{:+.2}", p99 - base_p99) };
        rows.push(format!("{:<24} {:>8} {p50:>9.2} {p99:>9.2} {max:>9.2} {added:>12}", s.name, v.len()));
        eprintln!("{}", rows.last().unwrap());
    }
    println!("\nlatency: produce → arrival in the output topic at {rate} msg/s for {secs} s, 100 B, 8 queues (ms)");
    println!("{:<24} {:>8} {:>9} {:>9} {:>9} {:>12}", "scenario", "messages", "p50", "p99", "max", "added p99");
    for r in rows {
        println!("{r}");
    }
}

/// A `sluice run` child process with one pipeline `from` → stages → RocketMQ sink `to`.
struct Child {
    proc: std::process::Child,
    admin: u16,
    _dir: tempfile::TempDir,
}

impl Child {
    fn spawn(bench: &Bench, cache: &std::path::Path, stages: &str, from: &str, to: &str) -> Child {
        let dir = tempfile::tempdir().unwrap();
        let admin = sluice::broker::free_port().expect("free port");
        let text = format!(
            "[rocketmq]\nname_server = \"{}\"\nclient_ip = \"127.0.0.1\"\n[engine]\ncache_dir = {:?}\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n\
             [[pipeline]]\nname = \"bench\"\nsource = {{ topic = \"{from}\", group = \"child-{from}\", batch_size = 32 }}\n\
             sinks.out = {{ type = \"rocketmq\", topic = \"{to}\" }}\n{stages}",
            bench.broker.namesrv_addr(),
            cache.display().to_string(),
        );
        let config = dir.path().join("sluice.toml");
        std::fs::write(&config, text).unwrap();
        let log = std::fs::File::create(dir.path().join("sluice.log")).unwrap();
        let proc = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sluice run");
        Child { proc, admin, _dir: dir }
    }

    /// GET `path` on the admin listener: (status code, body), or `None` before it listens.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.admin)).ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let code = text.split(' ').nth(1)?.parse().ok()?;
        Some((code, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
    }

    /// Waits until `/readyz` answers 200.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.get("/readyz").map(|r| r.0) != Some(200) {
            assert!(Instant::now() < deadline, "sluice run did not become ready in 120 s");
            if let Ok(Some(status)) = self.proc.try_wait() {
                panic!("sluice run exited: {status}; see its log in {}", self._dir.path().display());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Messages the sink acknowledged, from `/status`.
    fn sent(&self) -> u64 {
        let Some((200, body)) = self.get("/status") else { return 0 };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["pipelines"][0]["sinks"].as_array().map_or(0, |s| s.iter().filter_map(|x| x["sent"].as_u64()).sum())
    }

    /// (VmRSS, VmHWM) in MiB.
    fn rss(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.id())).unwrap_or_default();
        let kib = |key: &str| {
            status.lines().find_map(|l| l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok()).unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    fn stop(mut self) {
        // SIGTERM: a graceful stop, as an operator's.
        unsafe { libc::kill(self.proc.id() as i32, libc::SIGTERM) };
        let _ = self.proc.wait();
    }
}

fn median_ms(v: &mut [Duration]) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn section_startup(rt: &tokio::runtime::Runtime, bench: &mut Bench, full: bool) {
    let runs = if full { 3 } else { 1 };
    let mut cases = vec![("3 Rust stages".to_owned(), rust_stages(3))];
    for (lang, name) in [("python", "Python"), ("js", "JS")] {
        if let Some(p) = kit_plugin(lang, "json-filter") {
            cases.push((format!("{name} filter"), json_filter(&p)));
        }
    }
    let mut rows = Vec::new();
    for (i, (name, stages)) in cases.iter().enumerate() {
        let (from, to) = (format!("start-in-{i}"), format!("start-out-{i}"));
        rt.block_on(async {
            bench.broker.create_topic(&from, QUEUES).await.unwrap();
            bench.broker.create_topic(&to, QUEUES).await.unwrap();
        });
        let timed = |cache: &std::path::Path| {
            let t = Instant::now();
            let mut c = Child::spawn(bench, cache, stages, &from, &to);
            c.wait_ready();
            let took = t.elapsed();
            c.stop();
            took
        };
        let (mut cold, mut cached) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let cache = tempfile::tempdir().unwrap();
            cold.push(timed(cache.path()));
            cached.push(timed(cache.path()));
        }
        let row = format!("{name:<16} {:>12.0} {:>12.0}", median_ms(&mut cold), median_ms(&mut cached));
        eprintln!("{row}");
        rows.push(row);
    }
    println!("\nstartup: `sluice run` spawn → /readyz 200, median of {runs} (ms); cold = empty compile cache");
    println!("{:<16} {:>12} {:>12}", "stages", "cold", "cached");
    for r in rows {
        println!("{r}");
    }
}

/// This process's resident memory in bytes.
fn self_rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split(' ').nth(1).and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0) * 4096.0
}

fn section_memory(rt: &tokio::runtime::Runtime, bench: &mut Bench, n: usize) {
    use sluice::plugin::{EngineConfig, PluginEngine, PluginSpec};
    const INSTANCES: usize = 16;
    let engine = PluginEngine::new(&EngineConfig { cache_dir: Some(bench.cache.path().to_owned()), ..EngineConfig::default() }).expect("engine");
    let mut plugins = vec![("Rust", sluice_test_plugins::JSON_FILTER.to_owned())];
    for (lang, name) in [("python", "Python"), ("js", "JS")] {
        if let Some(p) = kit_plugin(lang, "json-filter") {
            plugins.push((name, p));
        }
    }
    let batch = messages(64, 100);
    let mut rows = Vec::new();
    for (name, path) in plugins {
        let mut spec = PluginSpec::new(&path);
        spec.config = vec![("field".into(), "kind".into()), ("equals".into(), "order".into())];
        let plugin = engine.load(&spec).expect("load");
        plugin.process(&sluice::message::Batch { topic: "t", queue_id: 0, messages: &batch }).expect("one batch");
        let before = self_rss();
        plugin.prestart(INSTANCES + 1).expect("instances");
        let per = (self_rss() - before) / INSTANCES as f64;
        rows.push(format!("{name:<8} {:>14.2}", per / (1024.0 * 1024.0)));
        eprintln!("{}", rows.last().unwrap());
    }
    println!("\nmemory per plugin instance: resident memory added per started instance ({INSTANCES} started after the first, MiB)");
    println!("{:<8} {:>14}", "plugin", "MiB/instance");
    for r in rows {
        println!("{r}");
    }

    let mut rows = Vec::new();
    let msgs = messages(n, 100);
    for queues in [8u32, 64] {
        let (from, to) = (format!("mem-in-{queues}"), format!("mem-out-{queues}"));
        rt.block_on(bench.fill(&from, &msgs, queues));
        rt.block_on(bench.broker.create_topic(&to, queues)).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let mut c = Child::spawn(bench, cache.path(), &rust_stages(3), &from, &to);
        c.wait_ready();
        let (ready, _) = c.rss();
        let deadline = Instant::now() + Duration::from_secs(300);
        while c.sent() < n as u64 {
            assert!(Instant::now() < deadline, "the daemon did not deliver {n} messages in 300 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let (rss, hwm) = c.rss();
        c.stop();
        rows.push(format!("{queues:>6} {n:>9} {ready:>10.1} {rss:>10.1} {hwm:>10.1}"));
        eprintln!("{}", rows.last().unwrap());
    }
    println!("\nmemory of the daemon (`sluice run`, 3 Rust stages, MiB): at ready, after N messages, and its peak");
    println!("{:>6} {:>9} {:>10} {:>10} {:>10}", "queues", "messages", "ready", "after", "peak");
    for r in rows {
        println!("{r}");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then one small run.
    let full = std::env::args().any(|a| a == "--bench");
    if !loopback_only_network() {
        eprintln!(
            "pipeline_e2e starts a RocketMQ name server, which must not see a non-loopback network: \
             run it with `cargo xtask bench-pipeline` (or inside `unshare -rn`)"
        );
        std::process::exit(if full { 1 } else { 0 });
    }
    let n: usize = if full { std::env::var("BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000) } else { 2_000 };
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "throughput,latency,startup,memory,scaling".into());
    let want = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let rt = runtime();
    let mut bench = rt.block_on(Bench::start());
    if want("throughput") {
        let rounds = if full { std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3) } else { 1 };
        section_throughput(&rt, &mut bench, n, rounds);
    }
    if want("latency") {
        section_latency(&rt, &mut bench, full);
    }
    if want("startup") {
        section_startup(&rt, &mut bench, full);
    }
    if want("memory") {
        section_memory(&rt, &mut bench, if full { 100_000 } else { 2_000 });
    }
    if want("scaling") {
        section_scaling(&rt, &mut bench, n);
    }
    rt.block_on(async {
        bench.producer.shutdown().await;
        bench.broker.shutdown().await;
    });
}
